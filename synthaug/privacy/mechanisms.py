"""Pure differentially private mechanisms on counts.

Neighbouring tables differ by adding or removing one row (the same relation
Opacus' accountants use for Poisson-sampled DP-SGD). One row falls in exactly
one bin of a histogram, so a histogram has L1 sensitivity 1 and Laplace noise
of scale ``1 / epsilon`` on every bin makes the whole histogram
``epsilon``-DP. Everything computed from noisy counts afterwards
(thresholds, cumulative sums, bounds) is post-processing and costs nothing.
"""

from __future__ import annotations

import numpy as np

__all__ = ["laplace_histogram", "norm_sub", "release_threshold", "power_of_two_bins", "POW2_EXPONENTS"]

# The fixed, data-independent grid of magnitudes used to find numeric bounds:
# bins [2**e, 2**(e+1)) for e in POW2_EXPONENTS, on each sign, plus one bin for
# |x| < 2**POW2_EXPONENTS[0] (which holds the exact zeros).
POW2_EXPONENTS = np.arange(-16, 64)


def laplace_histogram(counts, epsilon, rng):
    """``counts`` + Laplace(1 / ``epsilon``) noise on every bin (an ``epsilon``-DP release).

    Parameters
    ----------
    counts : array-like of int
        A histogram of the rows (each row in at most one bin).
    epsilon : float
        Privacy budget of the release.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of float
        Noisy counts (may be negative).
    """
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon!r}.")
    counts = np.asarray(counts, dtype=np.float64)
    return counts + rng.laplace(0.0, 1.0 / epsilon, size=counts.shape)


def norm_sub(noisy, total=None):
    """Non-negative counts summing to ``total`` that stay closest to ``noisy``: ``max(noisy − d, 0)``.

    Clipping each noisy count at zero on its own biases every empty bin
    upwards by the mean of the positive noise, which on a fine grid spreads
    a large share of the mass where there is none. Subtracting one common
    ``d`` first (Norm-Sub; Wang et al., 2020, "Locally differentially
    private frequency estimation with consistency") removes that bias: bins
    that held only noise go to zero, the others keep their differences.
    Post-processing of a DP release: it costs no budget.

    Parameters
    ----------
    noisy : array-like of float
        Noisy counts (may be negative).
    total : float, default=None
        Target sum, e.g. the noisy total; ``None`` = ``max(sum(noisy), 0)``.

    Returns
    -------
    ndarray of float
        Counts ``>= 0`` summing to ``total`` (all zero when ``total`` is 0).

    Examples
    --------
    >>> norm_sub([10.0, -3.0, 2.0, 1.0]).tolist()
    [9.0, 0.0, 1.0, 0.0]
    """
    noisy = np.asarray(noisy, dtype=np.float64)
    total = max(float(noisy.sum()) if total is None else float(total), 0.0)
    if noisy.size == 0 or total == 0.0:
        return np.zeros_like(noisy)
    # Σ max(noisy − d, 0) falls piecewise linearly in d: find the segment holding ``total``
    top = np.sort(noisy)[::-1]
    k = np.arange(1, top.size + 1)
    d = (np.cumsum(top) - total) / k          # the d that makes the k largest bins sum to total
    valid = np.flatnonzero(top > d)           # ... those k bins must all stay positive
    d = d[valid[-1]] if valid.size else top[0] - total   # (a total below float resolution: the top bin)
    return np.maximum(noisy - d, 0.0)


def release_threshold(epsilon, delta):
    """Least noisy count at which a bin whose *existence* is private may be released.

    A level seen in one table and absent from its neighbour has true count 1
    there; its noisy count exceeds ``1 + log(1 / (2 delta)) / epsilon`` with
    probability at most ``delta``. Releasing only levels above that threshold
    makes the released level set ``(epsilon, delta)``-DP (stability-based
    histogram), so a category seen a few times does not appear in the output.
    """
    if not (epsilon > 0 and 0 < delta < 1):
        raise ValueError(f"need epsilon > 0 and 0 < delta < 1, got {epsilon!r}, {delta!r}.")
    return 1.0 + np.log(1.0 / (2.0 * delta)) / epsilon


def power_of_two_bins(values):
    """Bin index of each finite value on the signed power-of-two grid.

    Returns ``(index, n_bins, edges)`` where bin ``k`` covers
    ``[edges[k], edges[k + 1])``: negative magnitudes first (largest first),
    then the bin around zero, then positive magnitudes.
    """
    e = POW2_EXPONENTS
    small = 2.0 ** e[0]
    pos_edges = 2.0 ** np.append(e, e[-1] + 1)            # 2**-16 .. 2**64
    edges = np.concatenate([-pos_edges[::-1], pos_edges])   # -2**64 .. -2**-16, 2**-16 .. 2**64
    n_side = len(e)
    values = np.asarray(values, dtype=np.float64)
    mag = np.abs(values)
    with np.errstate(divide="ignore"):
        k = np.clip(np.floor(np.log2(np.maximum(mag, small))).astype(np.int64) - e[0], 0, n_side - 1)
    index = np.where(mag < small, n_side, np.where(values > 0, n_side + 1 + k, n_side - 1 - k))
    return index, 2 * n_side + 1, edges
