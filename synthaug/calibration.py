"""Marginal calibration of generated normal scores.

The encoder maps the continuous part of every numeric column to normal
scores through its CDF, so over the training rows in the continuous mode each
score is exactly N(0, 1). A fitted model's generated scores come close, but a
network trained on few rows in the tails tends to generate too few of them
(seen in development runs on credit for most numeric columns), and the decoded
columns then miss their largest values.

:class:`ScoreCalibration` measures each score's generated marginal on a
sample drawn after training and maps it monotonically onto N(0, 1): the
empirical quantile function of the generated scores, evaluated at normal
quantiles, interpolated piecewise linearly. A monotone map per column keeps
every row's ranks, hence the dependence between columns; it only corrects
each marginal. It is post-processing of the model's output: under
differential privacy it costs no budget.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import ndtr, ndtri

__all__ = ["ScoreCalibration"]

# smallest gap between consecutive knots of a map (scores are float32)
_MIN_GAP = 1e-4


class ScoreCalibration:
    """Monotone maps from generated normal scores to N(0, 1), one per continuous score.

    Parameters
    ----------
    n_knots : int, default=41
        Knots of each piecewise-linear map, at normal quantiles evenly spaced
        in score between ±``t_max``.
    min_tail_rows : int, default=10
        Generated rows expected beyond the outermost knot: ``t_max`` is the
        normal quantile leaving that many of a score's rows in each tail
        (at most 3.5). Beyond it the map is linear with the slope of its
        outermost quarter, clipped to [0.5, 2].
    min_rows : int, default=200
        A score generated in the continuous mode by fewer rows keeps the
        identity map.

    Attributes
    ----------
    source_ : ndarray of shape (n_continuous, n_knots)
        Quantiles of the generated scores at the knots.
    target_ : ndarray of shape (n_continuous, n_knots)
        The normal scores they map to.
    slopes_ : ndarray of shape (n_continuous, 2)
        Slope of the map below the first and above the last knot.

    Examples
    --------
    >>> import numpy as np, torch
    >>> rng = np.random.default_rng(0)
    >>> shrunk = 0.8 * rng.standard_normal((20_000, 1))
    >>> cal = ScoreCalibration().fit(shrunk)
    >>> z = cal.apply(torch.as_tensor(0.8 * rng.standard_normal((20_000, 1)), dtype=torch.float32))
    >>> round(float(z.std()), 1)
    1.0
    """

    def __init__(self, *, n_knots=41, min_tail_rows=10, min_rows=200):
        self.n_knots = n_knots
        self.min_tail_rows = min_tail_rows
        self.min_rows = min_rows

    def fit(self, scores, in_mode=None):
        """Learn the maps from generated ``scores`` (N, n_continuous).

        ``in_mode`` (N, n_continuous) bool marks the rows whose score is
        used (rows in the column's continuous mode); all rows by default.
        """
        scores = np.asarray(scores, dtype=np.float64)
        n_cont = scores.shape[1]
        k = self.n_knots
        self.source_ = np.tile(np.linspace(-1.0, 1.0, k), (n_cont, 1))
        self.target_ = self.source_.copy()
        self.slopes_ = np.ones((n_cont, 2))
        for j in range(n_cont):
            z = scores[:, j] if in_mode is None else scores[np.asarray(in_mode[:, j], dtype=bool), j]
            z = z[np.isfinite(z)]
            if len(z) < self.min_rows:
                continue
            t_max = min(3.5, float(-ndtri(self.min_tail_rows / len(z))))
            t = np.linspace(-t_max, t_max, k)
            q = np.quantile(z, ndtr(t))
            # strictly increasing (by more than float32 resolves), so the map is invertible and defined
            for i in range(1, k):
                q[i] = max(q[i], q[i - 1] + _MIN_GAP)
            quarter = max(1, k // 4)
            lo = (t[quarter] - t[0]) / (q[quarter] - q[0])
            hi = (t[-1] - t[-1 - quarter]) / (q[-1] - q[-1 - quarter])
            self.source_[j], self.target_[j] = q, t
            self.slopes_[j] = np.clip([lo, hi], 0.5, 2.0)
        return self

    def apply(self, z, keep=None):
        """Calibrated scores ``(B, n_continuous)``; where ``keep`` (broadcast to ``z``) is True, ``z`` unchanged."""
        if z.shape[1] == 0:
            return z
        src, dst, slopes = self._tensors(z.device, z.dtype)
        zt = z.t().contiguous()
        idx = torch.searchsorted(src, zt).clamp_(1, src.shape[1] - 1)
        q0, q1 = src.gather(1, idx - 1), src.gather(1, idx)
        t0, t1 = dst.gather(1, idx - 1), dst.gather(1, idx)
        out = t0 + (zt - q0) * (t1 - t0) / (q1 - q0).clamp_min(_MIN_GAP)
        below, above = zt < src[:, :1], zt > src[:, -1:]
        out = torch.where(below, dst[:, :1] + (zt - src[:, :1]) * slopes[:, :1], out)
        out = torch.where(above, dst[:, -1:] + (zt - src[:, -1:]) * slopes[:, 1:], out)
        out = out.t()
        return out if keep is None else torch.where(keep, z, out)

    def _tensors(self, device, dtype):
        key = (str(device), dtype)
        cached = self.__dict__.get("_cache")
        if cached is None or cached[0] != key:
            as_t = lambda a: torch.as_tensor(a, device=device, dtype=dtype).contiguous()  # noqa: E731
            cached = self._cache = (key, (as_t(self.source_), as_t(self.target_), as_t(self.slopes_)))
        return cached[1]

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_cache", None)
        return state
