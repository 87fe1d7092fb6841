"""Differentially private fitting of the column encoders.

A fitted column encoder holds statistics of the data: bounds, a CDF, spikes,
category levels and frequencies, missing rates. With a privacy budget each
of them comes from Laplace-noised histograms (:mod:`synthaug.privacy.mechanisms`)
or from what the user declared public, never from the raw values:

* **numeric** — bounds are declared, or read off a noisy histogram on a fixed
  signed power-of-two grid (the outermost bins above a threshold that an
  empty bin passes with probability ≤ 5 % overall, widened to zero on the
  inside and two octaves on the outside, where thin tails live). Inside the bounds one
  more noisy histogram (missing, exact zero, and value bins on a fixed grid)
  gives the CDF that maps values to normal scores, the missing rate, and
  whether zero is a spike. The number of value bins grows with the rows
  and the budget (a bin should hold more rows than its noise scale,
  ``_n_value_bins``); the noisy counts are made non-negative by Norm-Sub
  (:func:`~synthaug.privacy.mechanisms.norm_sub`), not by clipping each
  bin. Integer columns spanning at most that many values (and at most
  ``_MAX_EXACT_INTEGERS``) get one bin per integer. Values outside the
  bounds are clipped;
* **categorical** — declared categories are kept as they are; otherwise only
  levels whose noisy count passes the stability threshold are released
  (:func:`~synthaug.privacy.mechanisms.release_threshold`), so rare levels
  never appear. Rows of unreleased levels share the ``<other>`` code, decoded
  as a released level drawn with the noisy frequencies.

Every column whose dtype can hold a missing value keeps a ``<missing>`` code
(its rate comes out of training), so the layout does not reveal which
columns had missing values.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..privacy.mechanisms import laplace_histogram, norm_sub, power_of_two_bins, release_threshold

__all__ = ["fit_private_numeric", "fit_private_categorical"]

_MAX_EXACT_INTEGERS = 128     # integer columns with at most this many values get one bin per integer
_MIN_BINS, _MAX_BINS = 8, 64  # value bins inside the bounds (half an even grid, half an asinh grid) ...
_ROWS_PER_NOISE = 1.5         # ... as many as keep a bin's expected rows this many noise scales (1/ε) deep
_BOUNDS_FAILURE = 0.05        # chance that any empty power-of-two bin passes the bounds threshold
_EXTEND_OCTAVES = 2           # estimated bounds reach this many octaves beyond the bulk


def _check_bounds(name, bounds):
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"bounds[{name!r}] must be a (low, high) pair of numbers, got {bounds!r}.") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"bounds[{name!r}] must be finite with low < high, got {bounds!r}.")
    return lo, hi


def _private_bounds(name, observed, epsilon, rng):
    """(low, high) from a noisy histogram on the signed power-of-two grid."""
    index, n_bins, edges = power_of_two_bins(observed)
    noisy = laplace_histogram(np.bincount(index, minlength=n_bins), epsilon, rng)
    threshold = np.log(n_bins / _BOUNDS_FAILURE) / epsilon
    passing = np.flatnonzero(noisy >= threshold)
    if len(passing) == 0:
        # no bin stands out of the noise: keep the noisiest-largest one (report-noisy-max,
        # post-processing of the same histogram) and say how to do better
        passing = np.array([int(np.argmax(noisy))])
        warnings.warn(f"Column {name!r}: too few rows to estimate its bounds privately at this epsilon (a "
                      f"power-of-two bin needs about {threshold:.0f} rows); they were guessed from the fullest "
                      f"bin. Declare them with bounds={{{name!r}: (low, high)}} or raise epsilon.",
                      UserWarning, stacklevel=2)
    # The outermost passing bins hold the bulk; the tails beyond them are thinner than the
    # threshold, not empty. Widen (post-processing): a positive bulk extends down to 0 and
    # _EXTEND_OCTAVES octaves up; a negative one mirrored.
    zero_bin = n_bins // 2
    lo_edge, hi_edge = edges[passing[0]], edges[passing[-1] + 1]
    lo = 0.0 if passing[0] >= zero_bin else lo_edge * 2.0 ** _EXTEND_OCTAVES
    hi = 0.0 if passing[-1] <= zero_bin else hi_edge * 2.0 ** _EXTEND_OCTAVES
    if lo >= hi:   # only the zero bin passed: a column of (nearly) zeros
        lo, hi = -1.0, 1.0
    return float(lo), float(hi)


def _n_value_bins(n_rows, epsilon):
    """Bins for a histogram of ``n_rows`` at ``epsilon``: fine enough to resolve, coarse enough to rise above noise.

    A bin's Laplace noise has scale 1/ε; bins that hold fewer rows than
    that release noise, not shape. The count of rows is treated as public,
    as for the default δ and the sampling rate of DP-SGD.
    """
    return int(np.clip(n_rows * epsilon / _ROWS_PER_NOISE, _MIN_BINS, _MAX_BINS))


def _value_edges(lo, hi, n_bins=_MAX_BINS):
    """Fixed bin edges in [lo, hi]: an even grid merged with one dense near ``lo`` (skewed columns)."""
    linear = np.linspace(lo, hi, n_bins // 2 + 1)
    c = (hi - lo) / 100.0
    skewed = lo + c * np.sinh(np.linspace(0.0, np.arcsinh(100.0), n_bins - n_bins // 2 + 1))
    edges = np.unique(np.concatenate([linear, skewed]))
    edges[0], edges[-1] = lo, hi
    return edges


def fit_private_numeric(enc, values, *, name, epsilon, bounds, rng, spike_threshold=0.02, allow_missing=True):
    """Set a :class:`~synthaug.encoding.columns.NumericColumn`'s statistics from ``epsilon``-DP releases.

    Returns ``{release name: (epsilon, delta, mechanism)}`` of what was spent.
    """
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    observed = values[~missing]
    spent = {}
    if bounds is None:
        eps_bounds, epsilon = epsilon / 2, epsilon / 2
        lo, hi = _private_bounds(name, observed, eps_bounds, rng)
        spent["bounds"] = (eps_bounds, 0.0, "Laplace histogram on a signed power-of-two grid, threshold")
    else:
        lo, hi = _check_bounds(name, bounds)
    if enc.integral:
        lo, hi = float(np.ceil(lo)), float(np.floor(hi))
        if lo >= hi:
            hi = lo + 1.0
    clipped = np.clip(observed, lo, hi)
    n_bins = _n_value_bins(len(values), epsilon)
    exact = enc.integral and hi - lo + 1 <= min(_MAX_EXACT_INTEGERS, n_bins)
    if exact:
        grid = np.arange(lo, hi + 1.0)
        value_bins = np.round(clipped - lo).astype(np.int64)
        n_value_bins, is_zero = len(grid), np.zeros(len(clipped), dtype=bool)
    else:
        edges = _value_edges(lo, hi, n_bins)
        value_bins = np.clip(np.searchsorted(edges, clipped, side="right") - 1, 0, len(edges) - 2)
        n_value_bins = len(edges) - 1
        is_zero = (clipped == 0.0) if lo <= 0.0 <= hi else np.zeros(len(clipped), dtype=bool)
    # one histogram: [missing, exact zero, value bins...]; every row in exactly one bin
    index = np.where(is_zero, 1, 2 + value_bins)
    counts = np.bincount(index, minlength=2 + n_value_bins)
    counts[0] = int(missing.sum())
    noisy = norm_sub(laplace_histogram(counts, epsilon, rng))
    spent["histogram"] = (epsilon, 0.0, "Laplace histogram (missing, zero, value bins), Norm-Sub")
    total = max(noisy.sum(), 1.0)
    zero_share = noisy[1] / total
    spike = (not exact) and lo <= 0.0 <= hi and zero_share >= spike_threshold
    value_counts = noisy[2:] + 1.0      # one pseudo-row per bin: every bin keeps a positive width
    if not exact and not spike and lo <= 0.0 <= hi:
        # zero is not a spike: its rows belong to the value bin holding 0
        value_counts[min(np.searchsorted(edges, 0.0, side="right") - 1, n_value_bins - 1)] += noisy[1]

    enc.has_missing_ = bool(allow_missing)
    enc.missing_rate_ = float(noisy[0] / total) if allow_missing else 0.0
    enc.min_, enc.max_ = lo, hi
    enc.spikes_ = np.array([0.0]) if spike else np.zeros(0)
    enc.has_continuous = True
    if exact:
        enc.set_step_cdf(grid, value_counts)
    else:
        enc.exact_ = False
        enc.knots_ = edges
        enc.knot_probs_ = np.concatenate([[0.0], np.cumsum(value_counts) / value_counts.sum()])
        enc.cont_min_, enc.cont_max_ = lo, hi
    enc.mode_values_ = np.concatenate([[np.nan], enc.spikes_])
    enc.private_ = True
    return spent


def fit_private_categorical(enc, values: pd.Series, *, name, epsilon, delta, categories, rng,
                            allow_missing=True):
    """Set a :class:`~synthaug.encoding.columns.CategoricalColumn`'s statistics from DP releases.

    ``categories`` (a list) declares the levels public; otherwise the released
    levels are those above the stability threshold (``(epsilon, delta)``-DP).
    Returns ``{release name: (epsilon, delta, mechanism)}``.
    """
    missing = values.isna().to_numpy()
    counts = values[~missing].value_counts()
    counts = counts[counts > 0]
    if categories is not None:
        declared = pd.Index(list(categories), dtype=object)
        unknown = [v for v in counts.index if v not in set(declared)]
        if unknown:
            raise ValueError(f"Column {name!r} holds {unknown[0]!r}, which is not among its declared categories.")
        levels = list(declared)
        noisy = laplace_histogram(np.append(counts.reindex(declared, fill_value=0).to_numpy(), missing.sum()),
                                  epsilon, rng)
        spent = {"histogram": (epsilon, 0.0, "Laplace histogram of the declared levels")}
    else:
        noisy_all = laplace_histogram(np.append(counts.to_numpy(), missing.sum()), epsilon, rng)
        keep = noisy_all[:-1] >= release_threshold(epsilon, delta)
        levels = list(counts.index[keep])
        if not levels:
            raise ValueError(f"Column {name!r}: no level is frequent enough to be released at this epsilon; "
                             f"declare its levels with categories={{{name!r}: [...]}} or raise epsilon.")
        noisy = np.append(noisy_all[:-1][keep], noisy_all[-1])
        spent = {"levels": (epsilon, delta, "Laplace histogram, levels above a stability threshold")}
    try:
        order = np.argsort(np.asarray(levels, dtype=object), kind="stable")
        levels = [levels[i] for i in order]
        noisy = np.append(noisy[:-1][order], noisy[-1])
    except TypeError:
        pass
    noisy = np.maximum(noisy, 0.0)
    total = max(noisy.sum(), 1.0)
    level_counts = noisy[:-1] + 1e-9
    enc.levels_ = pd.Index(levels, dtype=object)
    enc.all_levels_ = enc.levels_
    enc.has_other_ = categories is None
    enc.tail_levels_ = np.asarray(levels, dtype=object) if enc.has_other_ else np.zeros(0, dtype=object)
    enc.tail_probs_ = level_counts / level_counts.sum() if enc.has_other_ else np.zeros(0)
    enc.has_missing_ = bool(allow_missing)
    enc.missing_rate_ = float(noisy[-1] / total) if allow_missing else 0.0
    enc.frequencies_ = pd.Series(noisy[:-1] / total, index=enc.levels_)
    # standard deviation of each released frequency (Laplace(1/ε) on a count: √2/ε rows)
    enc.frequency_noise_ = float(np.sqrt(2.0) / epsilon / total)
    enc.private_ = True
    return spent
