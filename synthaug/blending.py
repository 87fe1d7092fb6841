"""How the point estimate's estimates are combined, with weights fitted on held-out cells.

A numeric cell has four estimates — the mean of the model's draws, a linear
imputer's prediction, the mean of the nearest rows and a forest's prediction — and
:func:`blend_weights` mixes them by per-column weights fitted by least squares
on cells whose truth is known. A categorical cell has four posteriors over its
levels — the model's (the mean of the probabilities its draws were drawn with),
the linear discriminant's of the Gaussian residual (given the row's known
numeric scores), a forest classifier's and the vote of the nearest rows — and
:func:`log_linear_pool` combines
them geometrically, by the weights :func:`pool_weight` chooses to give held-out
cells' true levels the largest likelihood.
"""

from __future__ import annotations

from itertools import combinations, product

import numpy as np

__all__ = ["POOL_GRID", "blend_weights", "log_linear_pool", "pool_weight"]

# a column's own weights get weight n / (n + SHRINK_CELLS) against the pooled ones
SHRINK_CELLS = 100
#: The discriminant's weights :func:`pool_weight` chooses among (0: the model alone, 1: the discriminant alone).
POOL_GRID = np.linspace(0.0, 1.0, 21)
# probabilities are floored here before their logarithm (a level the draws never gave keeps a finite score)
_PROB_FLOOR = 1e-6
# a held-out cell's log-likelihood is floored here (a level the pool rules out costs this much, not infinity)
_LOG_FLOOR = np.log(1e-300)
# pooled logits :func:`pool_weight` holds at once
_POOL_CELLS = 2_000_000


def blend_weights(cells):
    """Per-column weights of the point estimates blended, fitted on held-out cells.

    ``cells`` maps a column to ``(estimates, truth)``: an (n, k) array of k
    estimates of its n held-out cells (the model's, the linear imputer's,
    the neighbours', the forests') and their true values. A column's own weights are the
    least-squares weights of ``truth ≈ estimates @ w`` with ``w`` on the
    simplex (non-negative, summing to one: a mixture of the estimates); with
    few cells they are pulled towards the weights of every column pooled
    (each column's cells divided by the spread of its truths), with weight
    n / (n + 100) for its own, as
    :func:`~synthaug.imputation.calibration_factors` pools.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(-1, 1, 400)
    >>> w = blend_weights({"a": (np.stack([t + 0.5, t - 0.5], 1), t), "b": (np.stack([t, t + 1], 1), t)})
    >>> w["a"].round(2).tolist(), w["b"].round(2).tolist()
    ([0.55, 0.45], [0.95, 0.05])
    """
    def scaled(estimates, truth):
        scale = max(float(np.std(truth)), 1e-12)
        return estimates / scale, truth / scale

    pooled = _simplex_least_squares(*(np.concatenate(parts) for parts in zip(*(scaled(*c) for c in cells.values()))))
    out = {}
    for col, (estimates, truth) in cells.items():
        share = len(truth) / (len(truth) + SHRINK_CELLS)
        out[col] = share * _simplex_least_squares(estimates, truth) + (1 - share) * pooled
    return out


def _simplex_least_squares(X, t):
    """The ``w`` (non-negative, summing to one) that minimises ``|X @ w - t|``, for X of a few columns.

    Each subset of the columns is solved with the sum constraint alone (a
    least-squares fit of ``t - X[:, 0]`` on the differences to the first
    column); the best fit with no negative weight is the answer (one column
    alone always qualifies).
    """
    k = X.shape[1]
    best, best_loss = None, np.inf
    for size in range(1, k + 1):
        for subset in combinations(range(k), size):
            part = X[:, subset]
            diffs = part[:, 1:] - part[:, :1]
            z = np.linalg.lstsq(diffs, t - part[:, 0], rcond=None)[0] if size > 1 else np.zeros(0)
            w = np.concatenate([[1.0 - z.sum()], z])
            loss = float(np.sum((part @ w - t) ** 2))
            if w.min() >= 0.0 and loss < best_loss:
                best, best_loss = np.zeros(k), loss
                best[list(subset)] = w
    return best


def log_linear_pool(probs, log_posteriors, weight, allowed=None):
    """Probabilities ∝ ``probs^(1 − Σ weight) · Π exp(weight_i · log_posteriors_i)``, row by row.

    ``probs`` (n, L) the model's level probabilities (floored at 1e-6),
    ``log_posteriors`` (n, L) another source's log-probabilities, or a
    sequence of them with ``weight`` a sequence of as many weights;
    ``allowed`` (L,) a boolean mask of the levels that may be returned
    (the others get probability 0).

    Examples
    --------
    >>> import numpy as np
    >>> p = log_linear_pool(np.array([[0.9, 0.1]]), np.log([[0.1, 0.9]]), 0.5)
    >>> p.round(2).tolist()
    [[0.5, 0.5]]
    >>> p = log_linear_pool(np.array([[0.5, 0.5]]), [np.log([[0.9, 0.1]]), np.log([[0.2, 0.8]])], (0.0, 1.0))
    >>> p.round(2).tolist()
    [[0.2, 0.8]]
    """
    sources, weights = _sources(log_posteriors, weight)
    z = (1.0 - sum(weights)) * np.log(np.maximum(probs, _PROB_FLOOR))
    for w, log_p in zip(weights, sources):
        if w:
            z = z + w * np.asarray(log_p)
    if allowed is not None:
        z = np.where(allowed, z, -np.inf)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def pool_weight(probs, log_posteriors, truth, allowed=None, grid=POOL_GRID):
    """The weight in ``grid`` whose :func:`log_linear_pool` gives the ``truth`` codes (n,) the largest likelihood.

    With a sequence of sources, a tuple of weights, one per source, each
    in ``grid`` and summing to at most 1 (the model's own weight is the rest).
    The mean log-likelihood is concave in the weights (the pool's logits are
    affine in them), so the grid's best point is next to the best weights;
    ties go to the smaller weights (the model's own probabilities).

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.array([0, 0, 1, 1])
    >>> model = np.full((4, 2), 0.5)                       # no information
    >>> discriminant = np.log([[0.8, 0.2], [0.7, 0.3], [0.3, 0.7], [0.2, 0.8]])
    >>> float(pool_weight(model, discriminant, truth))
    1.0
    >>> float(pool_weight(np.exp(discriminant), np.log(np.full((4, 2), 0.5)), truth))
    0.0
    >>> pool_weight(model, [np.log(np.full((4, 2), 0.5)), discriminant], truth)
    (0.0, 1.0)
    """
    several = isinstance(log_posteriors, (list, tuple))
    sources = list(log_posteriors) if several else [log_posteriors]
    points = np.array([w for w in product(grid, repeat=len(sources)) if sum(w) <= 1.0 + 1e-9])
    # every point's pooled logits at once, (points, n, L), a few million numbers at a time
    logs = np.stack([np.log(np.maximum(probs, _PROB_FLOOR))] + [np.asarray(p, dtype=np.float64) for p in sources])
    weights = np.concatenate([1.0 - points.sum(axis=1, keepdims=True), points], axis=1)
    rows = np.arange(len(truth))
    step = max(1, _POOL_CELLS // max(logs[0].size, 1))
    scores = []
    for start in range(0, len(points), step):
        z = np.einsum("ps,snl->pnl", weights[start:start + step], logs)
        if allowed is not None:
            z = np.where(allowed, z, -np.inf)
        top = z.max(axis=2, keepdims=True)
        log_norm = np.log(np.exp(z - top).sum(axis=2)) + top[..., 0]
        scores.append(np.maximum(z[:, rows, truth] - log_norm, _LOG_FLOOR).mean(axis=1))
    best = points[int(np.argmax(np.concatenate(scores)))]
    return tuple(float(w) for w in best) if several else float(best[0])


def _sources(log_posteriors, weight):
    """``(sources, weights)``: lists of the other sources' log-probabilities and their weights."""
    if isinstance(log_posteriors, (list, tuple)):
        return list(log_posteriors), [float(w) for w in weight]
    return [log_posteriors], [float(weight)]
