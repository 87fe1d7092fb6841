"""Mode coverage: does the generator still produce every frequent level and numeric mode?

A collapsing GAN stops producing some categories or some range of a
numeric column long before its losses look wrong. :class:`ModeCoverage`
compares a generated sample with the training table:

* *level coverage* — share of categorical levels (and of the spike/missing
  modes of numeric columns) with ≥ 1 % training frequency that the generator
  produces at ≥ ¼ of their training frequency;
* *mode coverage* — the same for the ten normal-score deciles of every
  continuous part (the encoder maps numeric values to normal scores, so a
  decile is a tenth of the column's distribution).
"""

from __future__ import annotations

import warnings

import torch

__all__ = ["ModeCoverage", "ModeCollapseWarning", "warn_if_collapsed"]


class ModeCollapseWarning(UserWarning):
    """The generator stopped producing part of the training distribution."""

_DECILE_EDGES = torch.special.ndtri(torch.arange(1, 10, dtype=torch.float64) / 10).float()


class ModeCoverage:
    """Coverage of frequent levels and numeric deciles by generated rows.

    Parameters
    ----------
    continuous : torch.Tensor (n, n_continuous)
        Training scores.
    codes : torch.LongTensor (n, n_discrete)
        Training levels.
    cardinalities : sequence of int
    min_frequency : float, default=0.01
        Cells rarer than this in the training data are not checked.
    ratio : float, default=0.25
        A cell is covered when its generated frequency is at least ``ratio``
        times its training frequency.

    Examples
    --------
    >>> import torch
    >>> codes = torch.tensor([[0], [1]] * 50)
    >>> cov = ModeCoverage(torch.zeros(100, 0), codes, [2])
    >>> float(cov(torch.zeros(100, 0), torch.zeros(100, 1, dtype=torch.long))["level_coverage"])
    0.5
    """

    def __init__(self, continuous, codes, cardinalities, *, min_frequency=0.01, ratio=0.25):
        self.k = max(cardinalities, default=1)
        self.ratio = ratio
        self.edges = _DECILE_EDGES.to(continuous.device)
        self.level_ref = self._level_freq(codes)
        self.mode_ref = self._mode_freq(continuous)
        self.level_checked = self.level_ref >= min_frequency
        self.mode_checked = self.mode_ref >= min_frequency

    def _level_freq(self, codes):
        n, d = codes.shape
        counts = torch.zeros((d, self.k), device=codes.device)
        counts.scatter_add_(1, codes.T, torch.ones(codes.T.shape, device=codes.device))
        return counts / max(n, 1)

    def _mode_freq(self, continuous):
        n, d = continuous.shape
        bins = torch.bucketize(continuous.contiguous(), self.edges)            # (n, d) in 0..9
        counts = torch.zeros((d, 10), device=continuous.device)
        counts.scatter_add_(1, bins.T, torch.ones(bins.T.shape, device=continuous.device))
        return counts / max(n, 1)

    def _share(self, fake, ref, checked):
        covered = (fake >= self.ratio * ref) & checked
        total = checked.sum()
        return torch.where(total > 0, covered.sum() / total.clamp(min=1), torch.ones((), device=ref.device))

    def __call__(self, continuous, codes):
        """``{"level_coverage", "mode_coverage"}`` as 0-d tensors (no host synchronisation)."""
        out = {"level_coverage": self._share(self._level_freq(codes), self.level_ref, self.level_checked),
               "mode_coverage": self._share(self._mode_freq(continuous), self.mode_ref, self.mode_checked)}
        return out


def warn_if_collapsed(history, *, threshold=0.9):
    """Warn with a :class:`ModeCollapseWarning` if the last logged coverage is below ``threshold``.

    Returns True when it warned.
    """
    level = history.get("level_coverage", [1.0])[-1]
    mode = history.get("mode_coverage", [1.0])[-1]
    if level >= threshold and mode >= threshold:
        return False
    warnings.warn(
        f"GAN training collapsed: the generator produces only {level:.0%} of the frequent discrete levels "
        f"(categories, numeric spikes, missing values) and {mode:.0%} of the numeric modes of the training data "
        "(coverage_; per step in history_). Train longer (max_steps), lower lr, keep loss='wgan-gp' with "
        "pac >= 10, or use DiffusionSampler.", ModeCollapseWarning, stacklevel=3)
    return True
