"""The privacy budget: default δ, its split between the encoder and training, and the report.

Composition is sequential and basic: the encoder's Laplace releases are
``(ε_enc, δ_enc)``-DP, DP-SGD is ``(ε_sgd, δ_sgd)``-DP by Opacus' accountant,
and the released model is ``(ε_enc + ε_sgd, δ_enc + δ_sgd)``-DP. Sampling
from the model, decoding and everything computed from the released
statistics is post-processing.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PrivacyBudget", "default_delta", "noise_multiplier_for", "epsilon_spent", "ENCODER_SHARE"]

# Share of ε and of δ spent on the encoder's statistics (bounds, histograms,
# category sets, missing rates); the rest goes to DP-SGD.
ENCODER_SHARE = 0.1


def default_delta(n_rows):
    """``1 / n ** 1.1``: below ``1 / n`` (a release that exposes one row whole has δ ≥ 1/n)."""
    return 1.0 / max(int(n_rows), 2) ** 1.1


# Rényi orders searched by the RDP accountant: Opacus' defaults stop at 63, too low for large ε,
# and their 99 fractional orders make each calibration take seconds; a few fractional ones suffice
ALPHAS = [1.25, 1.5, 1.75, 2.5, 3.5] + list(range(2, 64)) + [80, 96, 128, 160, 192, 256]


def noise_multiplier_for(epsilon, delta, sample_rate, steps, *, accountant="rdp"):
    """Gaussian noise multiplier σ that makes ``steps`` Poisson-sampled DP-SGD steps ``(epsilon, delta)``-DP.

    Opacus' binary search, with a tolerance of 0.5 % of ``epsilon``: the
    returned σ spends between 0.995 ε and ε.
    """
    from opacus.accountants.utils import get_noise_multiplier

    with warnings.catch_warnings():
        # the search probes orders at the edge of ALPHAS; Opacus warns about each probe, not about the result
        warnings.filterwarnings("ignore", message="Optimal order is the", category=UserWarning)
        try:
            return float(get_noise_multiplier(target_epsilon=epsilon, target_delta=delta, sample_rate=sample_rate,
                                              steps=int(steps), accountant=accountant,
                                              epsilon_tolerance=0.005 * epsilon, **_orders(accountant)))
        except ValueError as err:
            if "too low" not in str(err):
                raise
            raise ValueError(f"a DP-SGD budget of ε = {epsilon:g} (training's share of epsilon) is too small for "
                             f"{int(steps)} steps at sampling rate {sample_rate:.3g}: no noise level reaches it; "
                             "raise epsilon, or lower max_steps or batch_size.") from None


def epsilon_spent(noise_multiplier, delta, sample_rate, steps, *, accountant="rdp"):
    """ε that ``steps`` DP-SGD steps with ``noise_multiplier`` spend at ``delta`` (Opacus' accountant)."""
    from opacus.accountants.utils import create_accountant

    acc = create_accountant(mechanism=accountant)
    acc.history = [(float(noise_multiplier), float(sample_rate), int(steps))]
    with warnings.catch_warnings():   # an edge order gives a valid, slightly loose bound: nothing to act on
        warnings.filterwarnings("ignore", message="Optimal order is the", category=UserWarning)
        return float(acc.get_epsilon(delta=delta, **_orders(accountant)))


def _orders(accountant):
    return {"alphas": ALPHAS} if accountant == "rdp" else {}


@dataclass
class PrivacyBudget:
    """Split of a target ``(epsilon, delta)`` between the encoder and DP-SGD, and what each part spent.

    Parameters
    ----------
    epsilon, delta : float
        The total target.
    encoder_share : float
        Share of both spent by the encoder.

    Attributes
    ----------
    parts : dict
        ``name -> {"epsilon": ..., "delta": ..., "mechanism": ...}`` of every
        release that touched the data.
    """

    epsilon: float
    delta: float
    encoder_share: float = ENCODER_SHARE
    parts: dict = field(default_factory=dict)

    @property
    def encoder_epsilon(self):
        return self.encoder_share * self.epsilon

    @property
    def encoder_delta(self):
        return self.encoder_share * self.delta

    @property
    def training_epsilon(self):
        return self.epsilon - self.encoder_epsilon

    @property
    def training_delta(self):
        return self.delta - self.encoder_delta

    def spend(self, name, epsilon, delta=0.0, mechanism=""):
        """Record a release of ``(epsilon, delta)``."""
        self.parts[name] = {"epsilon": float(epsilon), "delta": float(delta), "mechanism": mechanism}

    def total(self):
        """``(epsilon, delta)`` of everything spent, by basic composition."""
        eps = float(np.sum([p["epsilon"] for p in self.parts.values()]))
        delta = float(np.sum([p["delta"] for p in self.parts.values()]))
        return eps, delta
