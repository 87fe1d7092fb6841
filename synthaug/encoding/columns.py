"""Per-column encoders: each turns one table column into a discrete code and/or
one continuous score, and back.

Two kinds cover every supported dtype:

* :class:`CategoricalColumn` — object, string, category and bool columns (and
  numeric columns the user declares discrete). Levels seen often enough are
  kept; the long tail of a high-cardinality column is grouped into one
  ``<other>`` code and decoded by drawing from the tail's empirical
  frequencies. Missing values are a level of their own.
* :class:`NumericColumn` — float, integer and datetime columns. Frequent exact
  values ("spikes": 0, round amounts, sentinel codes) become discrete modes;
  the remaining values are mapped through their empirical CDF to a standard
  normal score. Ties are dequantised (a value owns the CDF step it sits on), so
  decoding lands exactly on the training value grid and inside its bounds.
  Missing values are a mode of their own, so sampling reproduces the missing
  rate.

Each encoder exposes ``n_levels`` (0 when it has no discrete part) and
``has_continuous``; :class:`~synthaug.encoding.TableEncoder` lays them side by
side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

__all__ = ["CategoricalColumn", "NumericColumn"]

# Normal scores are kept inside ±_Z_MAX (a CDF of 1e-7 .. 1 - 1e-7).
_U_EPS = 1e-7
_Z_MAX = float(ndtri(1 - _U_EPS))
# Dequantised CDF positions keep this far from the edges of their step (see
# NumericColumn.to_uniform): ~3x the largest shift of u caused by storing the
# normal score in float32 (max of z·φ(z)·2**-24 ≈ 1.45e-8).
_DEQUANT_MARGIN = 5e-8


def _squeeze(u):
    """Map a CDF position in [0, 1] affinely onto [_U_EPS, 1 - _U_EPS].

    An affine map, not a clip, so that the extremes of the training data
    (CDF 0 and 1) still decode to themselves.
    """
    return _U_EPS + (1.0 - 2.0 * _U_EPS) * np.asarray(u, dtype=np.float64)


def _unsqueeze(u):
    """Inverse of :func:`_squeeze`, clipped to [0, 1]."""
    return np.clip((np.asarray(u, dtype=np.float64) - _U_EPS) / (1.0 - 2.0 * _U_EPS), 0.0, 1.0)


def _in_sorted(x, sorted_values):
    """``np.isin(x, sorted_values)`` for a short sorted array, by binary search (no sort of ``x``)."""
    if len(sorted_values) == 0:
        return np.zeros(len(x), dtype=bool)
    k = np.clip(np.searchsorted(sorted_values, x), 0, len(sorted_values) - 1)
    return sorted_values[k] == x


def _count_values(x, known):
    """``np.unique(x, return_counts=True)``, fast when ``x`` holds only the sorted ``known`` values."""
    k = np.clip(np.searchsorted(known, x), 0, max(len(known) - 1, 0))
    if len(known) and np.array_equal(known[k], x):
        counts = np.bincount(k, minlength=len(known))
        seen = counts > 0
        return known[seen], counts[seen]
    return np.unique(x, return_counts=True)


def _round_to_step(v, step):
    """Round ``v`` onto the grid ``k * step``.

    A decimal grid (step 10**-d) divides by 10**d so the result is the float
    nearest the decimal (``round(v * 100) / 100`` gives 226.39 where
    ``round(v / 0.01) * 0.01`` gives 226.39000000000001).
    """
    if step < 1:
        scale = float(round(1.0 / step))
        return np.round(v * scale) / scale
    return np.round(v / step) * step


def _to_grid(v, integral=False, step=None):
    """``v`` rounded to whole numbers (``integral``) or onto the grid ``k * step`` (``step``); else unchanged."""
    if integral:
        return np.round(v)
    if step:
        return _round_to_step(v, step)
    return v


class CategoricalColumn:
    """Encode a column of hashable values as integer codes.

    Parameters
    ----------
    max_levels : int
        Most levels kept as themselves; rarer levels share the ``<other>`` code.
    min_count : int
        A level seen fewer times than this joins ``<other>`` (only when the
        column has more than ``max_levels`` levels).
    """

    def __init__(self, *, max_levels=100, min_count=1):
        self.max_levels = max_levels
        self.min_count = min_count

    def fit(self, values: pd.Series):
        missing = values.isna().to_numpy()
        counts = values[~missing].value_counts(sort=True)
        # a Categorical lists its unused categories with count 0: they were never
        # seen, so they get no code (they stay in the dtype restored at decoding)
        counts = counts[counts > 0]
        if len(counts) > self.max_levels:
            keep = counts.iloc[: self.max_levels]
            keep = keep[keep >= self.min_count]
            tail = counts.iloc[len(keep):]
        else:
            keep, tail = counts, counts.iloc[:0]
        # Stable order: the kept levels sorted when sortable, else by frequency.
        kept = list(keep.index)
        try:
            kept = sorted(kept)
        except TypeError:
            pass
        self.levels_ = pd.Index(kept, dtype=object)
        self.tail_levels_ = np.asarray(tail.index, dtype=object)
        self.tail_probs_ = (tail.to_numpy(np.float64) / tail.sum()) if len(tail) else np.zeros(0)
        self.all_levels_ = pd.Index(list(counts.index), dtype=object)
        self.has_other_ = len(tail) > 0
        self.has_missing_ = bool(missing.any())
        self.missing_rate_ = float(missing.mean())
        self.frequencies_ = counts / len(values)
        return self

    # -- layout -----------------------------------------------------------------
    @property
    def n_levels(self):
        return len(self.levels_) + int(self.has_other_) + int(self.has_missing_)

    has_continuous = False

    @property
    def other_code(self):
        return len(self.levels_) if self.has_other_ else None

    @property
    def missing_code(self):
        return self.n_levels - 1 if self.has_missing_ else None

    def level_labels(self):
        """Human-readable label of every code, in code order."""
        labels = list(self.levels_)
        if self.has_other_:
            labels.append("<other>")
        if self.has_missing_:
            labels.append("<missing>")
        return labels

    # -- values <-> codes -------------------------------------------------------
    def codes_for(self, values, *, name="column"):
        """Codes of ``values`` (array-like); unseen values raise ``ValueError``."""
        values = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
        missing = values.isna().to_numpy()
        # look up each distinct value once (factorize hashes the column, or reads a
        # Categorical's codes), not every row: get_indexer on 1M objects is slow
        row_uniq, uniques = pd.factorize(values, use_na_sentinel=True)
        uniques = pd.Index(np.asarray(uniques, dtype=object), dtype=object)
        lookup = self.levels_.get_indexer(uniques)
        if self.has_other_ and (lookup < 0).any():
            idx = np.flatnonzero(lookup < 0)
            if getattr(self, "private_", False):
                # a private encoder does not know the unreleased levels: all of them are <other>
                lookup[idx] = self.other_code
            else:
                in_tail = pd.Index(self.tail_levels_).get_indexer(uniques[idx]) >= 0
                lookup[idx[in_tail]] = self.other_code
        codes = np.append(lookup, -1)[row_uniq]      # NA sentinel -1 -> -1
        unknown = (codes < 0) & ~missing
        if unknown.any():
            bad = values[unknown].iloc[0]
            raise ValueError(f"Column {name!r}: value {bad!r} was not seen during fit.")
        if missing.any():
            if not self.has_missing_:
                raise ValueError(f"Column {name!r} had no missing values during fit.")
            codes[missing] = self.missing_code
        return codes.astype(np.int64)

    def encode(self, values: pd.Series, *, name="column", rng=None):
        return self.codes_for(values, name=name), None

    def decode(self, codes, z=None, *, rng):
        # one lookup per row (a take on an object array), then the few <other> rows drawn
        lookup = np.empty(self.n_levels, dtype=object)
        lookup[: len(self.levels_)] = np.asarray(self.levels_, dtype=object)
        out = lookup.take(codes)
        if self.has_other_:
            other = np.flatnonzero(codes == self.other_code)
            if len(other):
                out[other] = rng.choice(self.tail_levels_, size=len(other), p=self.tail_probs_)
        return out


class NumericColumn:
    """Encode a numeric column as a mode code plus a normal score.

    Parameters
    ----------
    spike_threshold : float
        A value is a spike when its frequency is at least this share of rows
        *and* at least ``spike_ratio`` times the average frequency of a value.
    spike_ratio : float
        See ``spike_threshold``.
    max_spikes : int
        Most spikes kept (the most frequent ones).
    numeric_levels : int
        A column of at least two and at most this many distinct values, each
        a common one (``spike_threshold`` of the rows and ``level_min_rows``
        rows at least), is encoded as levels: every value a spike, with no
        continuous part (a rating scale, a small count, a 0/1 flag). The
        model then learns each value's joint with the other columns as it
        does a category's, where as intervals of one normal score
        neighbouring values blur into each other. 0 (the default) keeps
        every column continuous.
    level_min_rows : int
        Fewest rows of each value for ``numeric_levels``: a value seen in a
        few dozen rows is better learned with its neighbours, through the
        score, than as a level of its own, which a model reproduces
        together with those few rows' other cells.
    n_knots : int
        Continuous parts with more distinct values than this are described by
        ``n_knots`` quantiles and decoded by interpolation; with fewer, the
        exact step CDF is kept and decoding returns training values.
    integral : bool
        Round decoded values to integers.
    step : float or None
        Grid to round decoded values onto (e.g. 0.01 for cents); None = none.
    """

    CONTINUOUS = 0  # mode code of the continuous part

    def __init__(self, *, spike_threshold=0.02, spike_ratio=3.0, max_spikes=16, numeric_levels=0,
                 level_min_rows=50, n_knots=1000, integral=False, step=None):
        self.spike_threshold = spike_threshold
        self.spike_ratio = spike_ratio
        self.max_spikes = max_spikes
        self.numeric_levels = numeric_levels
        self.level_min_rows = level_min_rows
        self.n_knots = n_knots
        self.integral = integral
        self.step = step

    def fit(self, values: np.ndarray, *, sample=None):
        """Fit on a float64 array (NaN = missing).

        ``sample`` (optional row indices) limits the estimation of spikes and
        of the CDF quantiles to those rows; the missing rate, the bounds and,
        when the continuous part has at most ``n_knots`` distinct values, the
        exact value set always come from every row, so that every training
        value encodes and decodes to itself.
        """
        values = np.asarray(values, dtype=np.float64)
        self._grid_interval = None     # decoding's knot lookup, rebuilt for the new knots
        missing = np.isnan(values)
        observed = values[~missing]
        self.has_missing_ = bool(missing.any())
        self.missing_rate_ = float(missing.mean()) if len(values) else 0.0
        # an all-missing column has no bounds (NaN) and only the missing mode
        self.min_ = float(observed.min()) if len(observed) else np.nan
        self.max_ = float(observed.max()) if len(observed) else np.nan
        if sample is None:
            n, fit_observed = len(values), observed
        else:
            fit_values = values[sample]
            n, fit_observed = len(fit_values), fit_values[~np.isnan(fit_values)]
        uniq, counts = np.unique(fit_observed, return_counts=True)
        if self._few_values(len(uniq)) and len(fit_observed) < len(observed):
            uniq, counts = np.unique(observed, return_counts=True)   # (a sample may miss a rare value)
            n, fit_observed = len(values), observed
        if self._as_levels(counts, n):   # a few values, each common: each its own level
            is_spike, max_spikes = np.ones(len(uniq), dtype=bool), len(uniq)
        else:
            freq = counts / max(n, 1)
            is_spike = (freq >= self.spike_threshold) & (freq >= self.spike_ratio / max(len(uniq), 1))
            max_spikes = self.max_spikes
        order = np.argsort(-counts[is_spike], kind="stable")[:max_spikes]
        spikes = np.sort(uniq[is_spike][order])
        self.spikes_ = spikes
        rest_mask = ~_in_sorted(uniq, spikes)
        rest_vals, rest_counts = uniq[rest_mask], counts[rest_mask]
        full_rest = None
        if sample is not None and len(observed) > len(fit_observed):
            full_rest = observed[~_in_sorted(observed, spikes)] if len(spikes) else observed
            if len(rest_vals) <= self.n_knots:
                # a value set small enough to keep exactly: count it on every row,
                # so rare values missed by the sample still decode to themselves
                rest_vals, rest_counts = _count_values(full_rest, rest_vals)
        self.has_continuous = len(rest_vals) > 0
        if self.has_continuous:
            if len(rest_vals) <= self.n_knots:
                self.set_step_cdf(rest_vals, rest_counts)
            else:
                self.exact_ = False
                rest = np.repeat(rest_vals, rest_counts) if len(rest_vals) < 5 * self.n_knots \
                    else fit_observed[~_in_sorted(fit_observed, spikes)]
                probs = np.linspace(0.0, 1.0, self.n_knots)
                knots = np.quantile(rest, probs)
                # strictly increasing knots for a well-defined interpolation
                knots, first = np.unique(knots, return_index=True)
                knot_probs = probs[first] if len(knots) > 1 else np.array([0.0])
                if full_rest is not None and len(full_rest):
                    # the CDF spans the bounds of every row, not only of the sample
                    lo, hi = float(full_rest.min()), float(full_rest.max())
                    if len(knots) > 1:
                        knots[0], knots[-1] = min(knots[0], lo), max(knots[-1], hi)
                    rest_vals = np.array([min(rest_vals[0], lo), max(rest_vals[-1], hi)])
                self.knots_ = knots
                self.knot_probs_ = knot_probs
                self.cont_min_, self.cont_max_ = float(rest_vals[0]), float(rest_vals[-1])
        self.mode_values_ = np.concatenate([[np.nan] if self.has_continuous else [], spikes])
        return self

    def _few_values(self, n_distinct):
        """Few enough distinct values to be levels, if each is common (see ``numeric_levels``)?"""
        return 2 <= n_distinct <= self.numeric_levels

    def _as_levels(self, counts, n_rows):
        """Are the distinct values with these ``counts`` levels (see ``numeric_levels``)?"""
        return self._few_values(len(counts)) and counts.min() >= max(self.spike_threshold * n_rows, self.level_min_rows)

    def set_step_cdf(self, values, counts):
        """Exact step CDF of the continuous part: value k owns the interval (cdf[k-1], cdf[k]]."""
        cdf = np.cumsum(counts) / np.sum(counts)
        self.exact_ = True
        self.values_ = values
        self.cdf_right_ = cdf
        self.cdf_left_ = np.concatenate([[0.0], cdf[:-1]])

    # -- layout -----------------------------------------------------------------
    @property
    def n_levels(self):
        n = int(self.has_continuous) + len(self.spikes_) + int(self.has_missing_)
        # a single mode needs no code, unless it is all the column has (e.g. an
        # all-missing column): then a one-level block keeps the row count
        return n if n > 1 or not self.has_continuous else 0

    @property
    def _first_spike_code(self):
        return int(self.has_continuous)

    @property
    def missing_code(self):
        return self.n_levels - 1 if self.has_missing_ and self.n_levels else None

    def spike_scores(self, margin=0.025):
        """The normal score each spike would have in the continuous part, by mode code; NaN where none.

        A spike inside the continuous part's range (a round amount, a common
        duration) sits at the share ``u`` of continuous values below it, so
        its score is on the continuous scores' own scale. A spike with ``u``
        within ``margin`` of 0 or 1 (a zero before all positive values, a
        standard term above nearly all others) gets none: it is another mode
        rather than a position on the continuum, and a large share of the rows
        at an extreme score would distort a Gaussian of the scores.
        ``(n_levels,)``.
        """
        out = np.full(self.n_levels, np.nan)
        if not (self.has_continuous and len(self.spikes_) and self.n_levels):
            return out
        s = np.asarray(self.spikes_, dtype=np.float64)
        if self.exact_:
            k = np.searchsorted(self.values_, s)
            u = np.where(k > 0, self.cdf_right_[np.maximum(k - 1, 0)], 0.0)
            low, high = self.values_[0], self.values_[-1]
        else:
            u = np.interp(s, self.knots_, self.knot_probs_) if len(self.knots_) > 1 else np.full(len(s), np.nan)
            low, high = self.cont_min_, self.cont_max_
        inside = (s > low) & (s < high) & (u >= margin) & (u <= 1 - margin)
        codes = self._first_spike_code + np.arange(len(s))
        out[codes[inside]] = ndtri(u[inside])
        return out

    def level_labels(self):
        labels = (["<continuous>"] if self.has_continuous else []) + list(self.spikes_)
        if self.has_missing_:
            labels.append("<missing>")
        return labels

    # -- values <-> (codes, z) ----------------------------------------------------
    def to_uniform(self, v, *, rng=None):
        """CDF position in (0, 1) of continuous-part values ``v``.

        With ``rng``, a tied value is placed uniformly inside its CDF step
        (dequantisation); without, at the step's midpoint.
        """
        if self.exact_:
            k = np.clip(np.searchsorted(self.values_, v), 0, len(self.values_) - 1)
            lo, hi = self.cdf_left_[k], self.cdf_right_[k]
            if rng is None:
                u = lo + 0.5 * (hi - lo)
            else:
                # uniform inside the step, minus a margin on each side: the score is
                # stored as float32, whose rounding moves u by up to ~1.5e-8, and a
                # draw at the very edge of a narrow step would decode to its neighbour
                margin = np.minimum(0.25 * (hi - lo), _DEQUANT_MARGIN)
                u = lo + margin + rng.random(len(v)) * (hi - lo - 2 * margin)
        else:
            if len(self.knots_) == 1:
                u = np.full(len(v), 0.5)
            else:
                u = np.interp(v, self.knots_, self.knot_probs_)
        return _squeeze(u)

    def from_uniform(self, u):
        u = _unsqueeze(u)
        if self.exact_:
            k = np.searchsorted(self.cdf_right_, u, side="left")
            return self.values_[np.clip(k, 0, len(self.values_) - 1)]
        if len(self.knots_) == 1:
            return np.full(len(u), self.knots_[0])
        v = _to_grid(self._interp_knots(u), self.integral, self.step)
        return np.clip(v, self.cont_min_, self.cont_max_)

    def _interp_knots(self, u):
        """``np.interp(u, knot_probs_, knots_)`` for ``u`` in [0, 1], without a binary search per value.

        The knot probabilities are points of the uniform grid
        ``linspace(0, 1, n_knots)`` (ties removed), so no knot lies strictly
        inside a grid cell: the cell ``⌊u (n_knots − 1)⌋`` names the
        interpolation interval directly.
        """
        grid = getattr(self, "_grid_interval", None)
        if grid is None:
            probs = np.linspace(0.0, 1.0, self.n_knots)
            on_grid = len(self.knot_probs_) <= self.n_knots and np.isin(self.knot_probs_, probs).all()
            interval = np.searchsorted(self.knot_probs_, probs, side="right") - 1
            grid = self._grid_interval = np.clip(interval, 0, len(self.knots_) - 2) if on_grid else False
        if grid is False:
            return np.interp(u, self.knot_probs_, self.knots_)
        cell = np.minimum((u * (self.n_knots - 1)).astype(np.int64), self.n_knots - 1)
        k = grid.take(cell)
        p0, v0 = self.knot_probs_.take(k), self.knots_.take(k)
        slope = (self.knots_.take(k + 1) - v0) / (self.knot_probs_.take(k + 1) - p0)
        return np.minimum(v0 + (u - p0) * slope, self.knots_[-1])

    def z_bounds(self, low, high):
        """Normal-score interval holding the continuous values in ``[low, high]``.

        Returns ``None`` when no continuous training value lies in the interval.
        """
        if not self.has_continuous:
            return None
        if self.exact_:
            inside = (self.values_ >= low) & (self.values_ <= high)
            if not inside.any():
                return None
            k = np.flatnonzero(inside)
            return self._step_bounds(k[0], k[-1])
        else:
            if high < self.cont_min_ or low > self.cont_max_:
                return None
            u_lo = float(np.interp(max(low, self.cont_min_), self.knots_, self.knot_probs_))
            u_hi = float(np.interp(min(high, self.cont_max_), self.knots_, self.knot_probs_))
        u_lo, u_hi = _squeeze([u_lo, u_hi])
        return float(ndtri(u_lo)), float(ndtri(u_hi))

    def _step_bounds(self, first, last):
        """Normal-score interval of the CDF steps of exact values ``first`` … ``last`` (indices into ``values_``),
        short of their outer edges by the dequantisation margin, so that a float32 score inside decodes to them."""
        u_lo, u_hi = self.cdf_left_[first], self.cdf_right_[last]
        margin = min(0.25 * (self.cdf_right_[first] - u_lo), 0.25 * (u_hi - self.cdf_left_[last]), _DEQUANT_MARGIN)
        u_lo, u_hi = _squeeze([u_lo + margin, u_hi - margin])
        return float(ndtri(u_lo)), float(ndtri(u_hi))

    def z_steps(self, values):
        """Normal-score interval of each of ``values``, which must be among :attr:`values_` (a column that
        keeps its continuous values exactly, :attr:`exact_`)."""
        return [self._step_bounds(i, i) for i in np.searchsorted(self.values_, values)]

    def modes_for(self, values):
        """Mode codes of values (float array, NaN = missing); continuous = 0."""
        codes = np.full(len(values), self.CONTINUOUS if self.has_continuous else -1, dtype=np.int64)
        if len(self.spikes_):
            k = np.clip(np.searchsorted(self.spikes_, values), 0, len(self.spikes_) - 1)
            hit = self.spikes_[k] == values
            codes[hit] = self._first_spike_code + k[hit]
        missing = np.isnan(values)
        if missing.any():
            codes[missing] = self.missing_code if self.has_missing_ else -1
        return codes

    def encode(self, values, *, name="column", rng=None):
        """``(codes or None, z or None)`` for a float64 array."""
        values = np.asarray(values, dtype=np.float64)
        codes = self.modes_for(values)
        bad = codes < 0
        if bad.any():
            missing = np.isnan(values) & bad
            if missing.any():
                raise ValueError(f"Column {name!r} has missing values, but had none during fit.")
            value = float(values[bad][0])
            if not self.has_continuous and len(self.spikes_):
                raise ValueError(f"Column {name!r}: value {value!r} was not seen during fit, where the column held "
                                 f"only {self.spikes_.tolist()} (a column of a few values is modelled as those "
                                 "levels; numeric_levels=0 keeps it a score).")
            raise ValueError(f"Column {name!r}: value {value!r} was not seen during fit.")
        z = None
        if self.has_continuous:
            cont = codes == self.CONTINUOUS
            z = np.zeros(len(values))
            if cont.any():
                z[cont] = ndtri(self.to_uniform(values[cont], rng=rng))
        if self.n_levels == 0:
            codes = None
        return codes, z

    def decode(self, codes, z, *, rng=None):
        # whole-column passes (every row's continuous value, then a select by mode),
        # not boolean-mask gathers and scatters: several times faster on large samples
        if codes is None:   # a single mode: every row is continuous
            return self.from_uniform(ndtr(np.asarray(z, dtype=np.float64)))
        modes = np.concatenate([self.mode_values_, [np.nan] * int(self.has_missing_)])
        out = modes.take(codes)
        if self.has_continuous:
            values = self.from_uniform(ndtr(np.asarray(z, dtype=np.float64)))
            out = np.where(codes == self.CONTINUOUS, values, out)
        return out
