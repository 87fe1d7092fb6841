"""Differential privacy: the mechanisms of the encoder, DP-SGD wiring and the accounting.

* :mod:`.mechanisms` — Laplace histograms and the releases built on them
  (category sets above a stability threshold, numeric bounds on a
  power-of-two grid);
* :mod:`.accounting` — the budget: default δ, the split between encoder and
  training, the noise multiplier for a target ε (Opacus' accountants), and
  the report stored as ``model.privacy_``;
* :mod:`.dp_sgd` — per-sample clipping and noise (Opacus'
  ``GradSampleModule`` and ``DPOptimizer``) and Poisson-sampled batches.
"""

from .accounting import PrivacyBudget, default_delta, noise_multiplier_for
from .mechanisms import laplace_histogram, release_threshold

__all__ = ["PrivacyBudget", "default_delta", "noise_multiplier_for", "laplace_histogram", "release_threshold"]
