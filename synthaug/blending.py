"""How the point estimate's estimates are combined, with weights fitted on held-out cells.

A numeric cell has four estimates — the mean of the model's draws, a linear
imputer's prediction, the mean of the nearest rows and a forest's prediction — and
:func:`blend_weights` mixes them by per-column weights fitted by least squares
on cells whose truth is known. A categorical cell has five posteriors over its
levels — the model's (the mean of the probabilities its draws were drawn with),
the linear discriminant's of the Gaussian residual (given the row's known
numeric scores), a forest classifier's, a logistic regression's and the vote of
the nearest rows — and :func:`log_linear_pool` combines them geometrically, by
the weights (and per-level offsets) :func:`pool_weights` fits to give held-out
cells' true levels the largest likelihood.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

__all__ = ["POOL_RIDGE", "blend_weights", "decision_offsets", "log_linear_pool", "log_probabilities",
           "mode_decision_offset", "pool_weights"]

# a column's own weights get weight n / (n + SHRINK_CELLS) against the pooled ones
SHRINK_CELLS = 100
#: The penalty on the squared pool weights in :func:`pool_weights` (per held-out cell's mean log-likelihood).
POOL_RIDGE = 0.01
# probabilities are floored here before their logarithm (a level the draws never gave keeps a finite score)
_PROB_FLOOR = 1e-6


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


def log_probabilities(probs):
    """``log(probs)`` with the probabilities floored at 1e-6 (a level the draws never gave keeps a finite score).

    Examples
    --------
    >>> log_probabilities(np.array([[1.0, 0.0]])).round(2).tolist()
    [[0.0, -13.82]]
    """
    return np.log(np.maximum(probs, _PROB_FLOOR))


def log_linear_pool(log_posteriors, weights, allowed=None, offsets=None):
    """Probabilities ∝ ``exp(offsets) · Π exp(weights_i · log_posteriors_i)``, row by row.

    ``log_posteriors`` a sequence of (n, L) log-probabilities of the
    levels, one per source, ``weights`` as many non-negative weights;
    ``allowed`` (L,) a boolean mask of the levels that may be returned
    (the others get probability 0); ``offsets`` (L,), optional, added to
    every row's pooled log-probabilities (a change of the levels' prior).

    Examples
    --------
    >>> import numpy as np
    >>> p = log_linear_pool([np.log([[0.9, 0.1]]), np.log([[0.1, 0.9]])], [0.5, 0.5])
    >>> p.round(2).tolist()
    [[0.5, 0.5]]
    >>> p = log_linear_pool([np.log([[0.9, 0.1]]), np.log([[0.2, 0.8]])], [0.0, 2.0])
    >>> p.round(3).tolist()
    [[0.059, 0.941]]
    >>> log_linear_pool([np.log([[0.5, 0.5]])], [1.0], offsets=np.log([1.0, 3.0])).round(2).tolist()
    [[0.25, 0.75]]
    """
    z = sum(float(w) * np.asarray(log_p, dtype=np.float64) for w, log_p in zip(weights, log_posteriors) if w)
    z = np.broadcast_to(z, np.shape(log_posteriors[0])).astype(np.float64)
    if offsets is not None:
        z = z + np.asarray(offsets, dtype=np.float64)
    if allowed is not None:
        z = np.where(allowed, z, -np.inf)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def pool_weights(log_posteriors, truth, allowed=None, *, ridge=POOL_RIDGE, offsets=False):
    """The non-negative weights whose :func:`log_linear_pool` gives the ``truth`` codes (n,) the largest likelihood.

    The pool's logits are linear in the weights, so the mean log-likelihood
    is concave in them: its maximum, less ``ridge`` · Σ weights² (which
    keeps the weights finite where the held-out cells are separable), is
    found by L-BFGS-B within the bounds ``weights ≥ 0``. Their sum is free:
    it is the pool's inverse temperature, so a source whose probabilities
    are too sharp is tempered, not only outweighed.

    With ``offsets``, a free offset per level (the pool's ``offsets``, with
    the same ridge) is fitted with the weights, and ``(weights, offsets)``
    returned: the logistic-regression stacking of the sources' log
    probabilities. It corrects a level the pooled sources together favour
    or neglect more than the held-out truths do (a shared prior), which no
    weight can, since every source's log-probabilities move with it.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.array([0, 0, 1, 1])
    >>> flat = np.log(np.full((4, 2), 0.5))                       # no information
    >>> informed = np.log([[0.8, 0.2], [0.7, 0.3], [0.3, 0.7], [0.2, 0.8]])
    >>> w = pool_weights([flat, informed], truth)
    >>> bool(w[1] > 1.0)                                          # sharper than the source itself
    True
    >>> misleading = np.log([[0.2, 0.8], [0.3, 0.7], [0.7, 0.3], [0.8, 0.2]])
    >>> pool_weights([misleading, informed], truth)[0].round(6)
    np.float64(0.0)
    >>> w, o = pool_weights([flat], np.array([0, 0, 0, 1]), offsets=True)   # three of four are level 0
    >>> bool(o[0] - o[1] > 0.9)                                   # log 3 = 1.1, less the ridge's pull
    True
    """
    from scipy.optimize import minimize

    logs = np.stack([np.asarray(p, dtype=np.float64) for p in log_posteriors])      # (sources, n, L)
    if allowed is not None:
        logs = np.where(allowed, logs, 0.0)
    n_sources, n_levels = logs.shape[0], logs.shape[2]
    rows, n = np.arange(len(truth)), max(len(truth), 1)
    own = logs[:, rows, truth].sum(axis=1) / n
    counts = np.bincount(truth, minlength=n_levels) / n          # the truths' level shares
    free = np.ones(n_levels, dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)

    def loss(theta):
        w = theta[:n_sources]
        o = theta[n_sources:] if offsets else np.zeros(n_levels)
        z = np.einsum("s,snl->nl", w, logs) + o
        if allowed is not None:
            z = np.where(allowed, z, -np.inf)
        top = z.max(axis=1, keepdims=True)
        e = np.exp(z - top)
        total = e.sum(axis=1, keepdims=True)
        p = e / total
        nll = (np.log(total[:, 0]) + top[:, 0]).sum() / n - own @ w - counts @ o
        grad = np.einsum("snl,nl->s", logs, p) / n - own + 2.0 * ridge * w
        if not offsets:
            return nll + ridge * (w @ w), grad
        grad_o = np.where(free, p.sum(axis=0) / n - counts + 2.0 * ridge * o, 0.0)
        return nll + ridge * (w @ w + o @ o), np.concatenate([grad, grad_o])

    start = np.zeros(n_sources + (n_levels if offsets else 0))
    start[0] = 1.0
    bounds = [(0.0, None)] * n_sources + [(None, None)] * (n_levels if offsets else 0)
    theta = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds).x
    return (theta[:n_sources], np.where(free, theta[n_sources:], 0.0)) if offsets else theta


def mode_decision_offset(probs, truth, mode):
    """The offset of level ``mode``'s log-probability under which the most probable levels of ``probs`` are right
    most often.

    ``probs`` (n, L) are pooled probabilities of n held-out cells, scored by
    weights fitted without them, ``truth`` (n,) their levels' codes and
    ``mode`` the code of the column's most frequent level. A cell whose
    most probable level is another one is predicted ``mode`` instead when
    that level's log-probability exceeds ``mode``'s by less than the offset.
    The offset is the one (≥ 0) that gets the most ``truth`` codes right:
    0 unless the held-out cells show that some of the other levels'
    predictions, those that won by the least, are wrong more often than
    right; then midway between the last such cell's margin and the next
    one's (``inf`` when every one is). Log-likelihood weighs its many sure
    cells, not the few near a level's boundary, so on a rare level a pool
    may be calibrated overall and still lose cells by predicting it at
    probabilities a little above its rival's: this rule keeps a level
    other than ``mode`` where predicting it has been seen to pay.

    Examples
    --------
    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.45, 0.55], [0.4, 0.6], [0.1, 0.9]])
    >>> round(mode_decision_offset(probs, np.array([0, 0, 1, 1]), 0), 3)   # the cell at 0.55 is level 0: ruled 0
    0.303
    >>> float(mode_decision_offset(probs, np.array([0, 1, 1, 1]), 0))   # every prediction of level 1 is right
    0.0
    """
    logs = log_probabilities(probs)
    rivals = np.where(np.arange(logs.shape[1]) == mode, -np.inf, logs)
    rival, margin = rivals.argmax(axis=1), rivals.max(axis=1) - logs[:, mode]
    won = np.flatnonzero(margin > 0)
    won = won[np.argsort(margin[won], kind="stable")]
    # the cells turned to ``mode`` one at a time, by their margins: the cells right then, less those right before
    gain = np.cumsum((truth[won] == mode).astype(int) - (truth[won] == rival[won]))
    margins = margin[won]
    cuts = np.flatnonzero(np.append(np.diff(margins) > 0, True))     # (cells of equal margins turn together)
    if not len(won) or gain[cuts].max() <= 0:
        return 0.0
    last = int(cuts[gain[cuts].argmax()])
    return float((margins[last] + margins[last + 1]) / 2) if last + 1 < len(won) else np.inf


def decision_offsets(log_posteriors, truth, allowed, rng, *, folds, splits):
    """(L,) offsets added to a pool's log-probabilities before its most probable level is taken.

    On the most frequent level of the held-out cells' ``truth`` codes:
    :func:`mode_decision_offset`, fitted on the cells (``log_posteriors``
    their sources' log-probabilities, as for :func:`pool_weights`) as pools
    they never entered score them. ``splits`` random splits of the cells
    into ``folds`` folds (``rng`` a Generator) each pool a fold's cells by
    the weights and level offsets fitted on the other folds' cells, and the
    offset is fitted on every split's pooled cells together: one split's
    offset rests on the few cells near a rare level's boundary, and moved
    with the split (development probes). Zeros with fewer cells than folds.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> truth = (rng.random(300) < 0.1).astype(int)                      # level 1 is rare
    >>> noise = np.log(rng.dirichlet([1.0, 1.0], size=300))              # a source that knows nothing
    >>> decision_offsets([noise], truth, None, rng, folds=3, splits=2)[1]   # only the mode's is ever moved
    np.float64(0.0)
    """
    n, n_levels = np.shape(log_posteriors[0])
    offsets = np.zeros(n_levels)
    if n < folds:
        return offsets
    pooled = np.zeros((splits, n, n_levels))
    for split in pooled:
        fold = rng.permutation(n) % folds
        for f in range(folds):
            out = fold == f
            weights, level_offsets = pool_weights([log_p[~out] for log_p in log_posteriors], truth[~out], allowed,
                                                  offsets=True)
            split[out] = log_linear_pool([log_p[out] for log_p in log_posteriors], weights, allowed, level_offsets)
    mode = int(np.bincount(truth, minlength=n_levels).argmax())
    offsets[mode] = mode_decision_offset(pooled.reshape(-1, n_levels), np.tile(truth, splits), mode)
    return offsets
