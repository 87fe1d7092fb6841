"""Marginal calibration of a fitted model's output: normal scores and level frequencies.

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

:class:`LevelCalibration` does the same for the discrete blocks: per-level
offsets added to the model's logits bring each generated level frequency to
its training frequency (under differential privacy, to the encoder's
released noisy frequency, which is already paid for).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import ndtr, ndtri

__all__ = ["LevelCalibration", "ScoreCalibration", "level_frequencies", "level_frequency_noise"]

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


def level_frequencies(encoder, codes=None):
    """Training frequency of each level of the discrete blocks, ``{block index: frequencies}``.

    Parameters
    ----------
    encoder : TableEncoder
        A fitted encoder.
    codes : ndarray of shape (N, n_discrete), default=None
        The encoded training codes: every block's frequencies are counted
        from them. None (a private fit, whose rows must not be read again):
        the encoder's released level frequencies and missing rate of each
        column that is one discrete block (categorical columns); a block
        whose released frequencies are all zero is left out.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from synthaug.encoding import TableEncoder
    >>> enc = TableEncoder().fit(pd.DataFrame({"c": ["a", "b", "b", "b"]}))
    >>> level_frequencies(enc, enc.transform(pd.DataFrame({"c": ["a", "b", "b", "b"]})).discrete)
    {0: array([0.25, 0.75])}
    """
    return {di: freq for di, (freq, _) in _targets(encoder, codes).items()}


def level_frequency_noise(encoder):
    """Standard deviation of each released frequency of :func:`level_frequencies` ``(encoder)``, per block.

    Zero for a frequency counted from the data; ``√2 / (ε · n)`` for a level
    frequency released with Laplace noise at ``ε`` over ``n`` (noisy) rows.
    """
    return {di: noise for di, (_, noise) in _targets(encoder, None).items()}


def _targets(encoder, codes):
    """``{block: (frequencies, noise standard deviation)}``; see :func:`level_frequencies`."""
    layout = encoder.layout_
    if codes is not None:
        codes = np.asarray(codes)
        out = {}
        for di, card in enumerate(layout.cardinalities):
            counts = np.bincount(codes[:, di], minlength=card).astype(np.float64)
            out[di] = (counts / max(counts.sum(), 1.0), 0.0)
        return out
    out = {}
    for name, (ci, di) in zip(encoder.columns_, layout.column_parts):
        if di is None or ci is not None:
            continue
        enc = encoder.encoders_[name]
        freq = np.zeros(layout.cardinalities[di])
        freq[: len(enc.levels_)] = enc.frequencies_.to_numpy(np.float64)
        if enc.has_missing_:
            freq[enc.missing_code] = enc.missing_rate_
        if freq.sum() > 0:
            out[di] = (freq / freq.sum(), getattr(enc, "frequency_noise_", 0.0))
    return out


class LevelCalibration:
    """Per-level logit offsets that bring a model's generated level frequencies to target frequencies.

    A network trained on few rows of a level, or with DP-SGD's noise,
    generates each categorical column with its own error in the column's
    marginal. If the model's implied marginal of a column is ``g`` and the
    data's is ``f``, Bayes' rule for a change of prior (as in label-shift
    correction, Saerens et al. 2002) reweights its conditional
    ``p(level | rest)`` by ``f / g``: ``log(f / g)`` added to the level's
    logits. The model's ``g`` is measured on generated rows, so the offsets
    are found by iteration: sample with the current offsets, add a share of
    ``log(f / g)``, measure again, and step by the secant of the last move.
    The offsets act on every step of sampling, conditional or not (given
    blocks are fed clean and ignore them; a forbidden level stays
    forbidden).

    Parameters
    ----------
    layout : Layout
        The model-space layout of the encoder.
    targets : dict
        ``{block index: target frequencies}``, e.g. from
        :func:`level_frequencies`; blocks not in it keep zero offsets.
    step_size : float, default=0.5
        Share of ``log(f / g)`` added by the first update. The offsets act
        at every sampling step, so the generated frequencies of a trained
        model may move more than the offsets alone would move one softmax
        (an undertrained model's, about as much): a full first step can
        overshoot. Later updates use the measured gain instead.
    noise : dict, default=None
        ``{block index: standard deviation}`` of each target frequency when
        the targets are noisy releases (see :func:`level_frequency_noise`).
        The first update then weighs the target against the model's own
        frequencies ``g``: with ``D`` the mean of ``(f − g)²`` over a block's
        levels and ``V`` the variance of the target's noise plus the
        sample's, the model's own error variance is estimated as
        ``S = max(D − V, 0)`` (method of moments) and the block's target
        becomes ``g + S / (S + V) · (f − g)`` — the noisy release corrects
        the model only as far as it is more accurate than the model.
        A block without noise keeps ``f``.
    min_count : float, default=10
        A level is corrected only when the sample used to measure it holds,
        or should hold, at least this many rows of it (a rarer level's
        frequency is too noisy to estimate there); others keep their offset.
    max_offset : float, default=3.0
        Bound on each offset's magnitude, so a level the model never
        generates cannot push its logits without limit.

    Attributes
    ----------
    offsets_ : ndarray of shape (width - n_continuous,)
        The offset of every discrete dimension of model space (zeros until
        :meth:`update` is called).
    gain_ : float or None
        Measured change of ``log g`` per unit of offset (from the second
        update on).
    weights_ : dict
        ``{block index: weight}`` of each noisy target against the model's
        own frequencies (set by the first update; 1 for exact targets).

    Examples
    --------
    >>> import numpy as np
    >>> from synthaug.encoding.layout import Layout
    >>> layout = Layout(n_continuous=0, cardinalities=(2,), column_parts=((None, 0),))
    >>> cal = LevelCalibration(layout, {0: np.array([0.5, 0.5])})
    >>> codes = np.array([[0]] * 80 + [[1]] * 20)       # the model makes level 0 four times too often
    >>> cal.update(codes).offsets_.round(2).tolist()
    [-0.23, 0.44]
    """

    def __init__(self, layout, targets, *, noise=None, step_size=0.5, min_count=10, max_offset=3.0):
        self.layout = layout
        self.step_size = step_size
        self.targets = {int(k): np.asarray(v, dtype=np.float64) for k, v in targets.items()}
        self.noise = {int(k): float(v) for k, v in (noise or {}).items()}
        self.min_count = min_count
        self.max_offset = max_offset
        self.offsets_ = np.zeros(layout.width - layout.n_continuous, dtype=np.float64)
        self.gain_ = None
        self.weights_ = {}

    def update(self, codes):
        """One step of the iteration from sampled ``codes`` (N, n_discrete); returns self.

        The first step adds ``step_size · log(f / g)``. Later steps divide
        ``log(f / g)`` by the measured *gain* — how much ``log g`` moved per
        unit of offset over the previous step, a least-squares slope over
        the corrected levels, clipped to [0.5, 4], measured only when the
        offsets moved more than the two samples' noise in ``log g`` — a
        secant step. Each block's ``log(f / g)`` is first shrunk by
        ``S / (S + V)``, with ``V`` the sampling variance of ``g`` and ``S``
        the excess of the mean ``(f − g)²`` over it: a gap within the
        sample's noise moves nothing.
        """
        codes = np.asarray(codes)
        n = len(codes)
        first = not self.weights_
        # per discrete dim of model space: log of the generated count, log(f / g), whether it is measured
        log_g = np.zeros_like(self.offsets_)
        ratio = np.zeros_like(self.offsets_)
        log_var = np.zeros_like(self.offsets_)   # sampling variance of log g (delta method)
        measured = np.zeros(self.offsets_.shape, dtype=bool)
        start = np.asarray(self.layout.offsets) - self.layout.n_continuous
        for di, f in self.targets.items():
            part = slice(start[di], start[di] + len(f))
            g = np.bincount(codes[:, di], minlength=len(f))[: len(f)] / max(n, 1)
            if first:
                f = self.targets[di] = self._weighed_target(di, f, g, n)
            # half a row added to both counts: a level absent from the sample gets a finite step
            log_g[part] = np.log(g * n + 0.5)
            log_var[part] = (1 - g) / (g * n + 0.5)
            # the share of the gap that stands out of the sample's noise (method of moments, as for noisy targets)
            sample_var = float(np.mean(g * (1 - g))) / max(n, 1)
            excess = max(float(np.mean((f - g) ** 2)) - sample_var, 0.0)
            ratio[part] = (np.log(f * n + 0.5) - log_g[part]) * excess / (excess + sample_var + 1e-300)
            measured[part] = np.maximum(f, g) * n >= self.min_count
        previous = self.__dict__.get("_previous")
        if previous is not None:
            both = measured & previous[2]
            d_off, d_log = (self.offsets_ - previous[0])[both], (log_g - previous[1])[both]
            # a slope only from a move larger than the noise of the two samples' log g
            if (d_off ** 2).sum() > max(1e-4, 4 * (log_var + previous[3])[both].sum()):
                self.gain_ = float(np.clip((d_off * d_log).sum() / (d_off ** 2).sum(), 0.5, 4.0))
        self._previous = (self.offsets_.copy(), log_g, measured, log_var)
        step = ratio * self.step_size if self.gain_ is None else ratio / self.gain_
        self.offsets_[measured] = np.clip(self.offsets_[measured] + step[measured], -self.max_offset,
                                          self.max_offset)
        self.__dict__.pop("_cache", None)
        return self

    def _weighed_target(self, di, f, g, n):
        """The target of block ``di`` weighed against the model's own frequencies ``g`` (see ``noise``)."""
        var = self.noise.get(di, 0.0) ** 2
        if var == 0.0:
            self.weights_[di] = 1.0
            return f
        var += float(np.mean(g * (1 - g))) / max(n, 1)
        own = max(float(np.mean((f - g) ** 2)) - var, 0.0)
        weight = self.weights_[di] = own / (own + var)
        return g + weight * (f - g)

    def logit_offsets(self, device, dtype=torch.float32):
        """The offsets as a ``(width,)`` tensor to add to a model's output (zero on continuous dims)."""
        key = (str(device), dtype)
        cached = self.__dict__.get("_cache")
        if cached is None or cached[0] != key:
            full = np.concatenate([np.zeros(self.layout.n_continuous), self.offsets_])
            cached = self._cache = (key, torch.as_tensor(full, device=device, dtype=dtype))
        return cached[1]

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_cache", None)
        state.pop("_previous", None)
        return state
