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

__all__ = ["laplace_histogram", "release_threshold", "power_of_two_bins", "POW2_EXPONENTS"]

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
