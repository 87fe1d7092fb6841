"""Generated scores as residuals of their Gaussian conditional mean given the known scores.

A conditional denoiser learns ``p(free cells | given cells)``. Part of that
dependence is often close to linear in the normal scores — a column that is
almost a function of another (a radius and a perimeter, a price and a loan
amount) — and a small network trained on a few hundred rows recovers such a
relation only approximately. :class:`GaussianResidual` removes that part in
closed form: it fits a Gaussian to the training rows' continuous scores (by
EM, so missing cells and spike modes are simply unobserved — except a spike
inside the continuous range, a round amount, which is read at its place on
the continuous scale, ``level_scores``), and for each
row, given the scores that are known, maps every free score ``x_j`` to

    y_j = m_j + (x_j − μ_j) · s_j / σ_j,

where ``μ_j`` and ``σ_j²`` are the Gaussian conditional mean and variance
of score ``j`` given the known ones, and ``m_j``, ``s_j`` its marginal mean
and standard deviation. The diffusion model learns and generates ``y``
(the part the Gaussian does not explain, at the scale of the data); the
inverse map puts the exactly linear part back. With nothing known the map
is the identity, so unconditional sampling is unchanged.

The same Gaussian also predicts each categorical column's level from the
known scores (:meth:`moments` with ``features=True``): read per level (the
scores of the rows with that level as a Gaussian with the level's mean and
the covariance shared by all levels, linear discriminant analysis), the
log-posterior of each level given the known scores is linear in them and
needs only the known block of that shared covariance. The denoiser adds
these log-probabilities to its logits through a linear map that starts as
the identity: a category that depends on many given numbers (a diagnosis on
thirty measurements) starts from this answer, and the network learns the
correction, instead of a function it must find from the few training rows
whose mask gives those numbers and hides the category.

Used by both samplers (``gaussian_residual=True``): by
:class:`~synthaug.DiffusionSampler` in its training step and its sampler, and
by :class:`~synthaug.GANSampler`, whose critic compares real and generated
rows in the residual space (:class:`~synthaug.gan.TabularGAN`); the level
predictions feed the denoiser only. A plain object holding two small tensors.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .encoding.layout import Layout

__all__ = ["GaussianResidual"]

# EM stops when no entry of the covariance moves by more than this
_EM_TOL = 1e-5
# the E-step's chunks of rows hold at most this many entries of their (d, d) factors (float64: 32 MiB)
_CHUNK_ENTRIES = 4_194_304
# predicted level probabilities are clamped to [this, 1] before their logarithm is taken
_PROB_FLOOR = 0.01
# the within-level covariance's shrinkage is chosen among these by held-out log-likelihood over so many folds
_SHRINKAGE_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7)
_SHRINKAGE_FOLDS = 5


def _positive_definite(matrix, floor):
    """``matrix`` symmetrised with its eigenvalues raised to at least ``floor``."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.maximum(values, floor)) @ vectors.T


def _shrink(covariance, alpha):
    """``covariance`` with its correlations shrunk by ``alpha`` toward none (variances kept)."""
    sd = np.sqrt(np.diag(covariance))
    return (1 - alpha) * covariance + alpha * np.diag(sd * sd)


def _fold_grams(scores, folds=_SHRINKAGE_FOLDS):
    """``[(held-out mask (n,), Gram matrix of the other rows' scores (d, d))]`` for a fixed split into ``folds``.

    Shared by every predicted column's :func:`_held_out_shrinkage`; empty
    with fewer than two rows per fold or no scores (no shrinkage is chosen).
    """
    n, d = scores.shape
    if d == 0 or n < 2 * folds:
        return []
    fold = np.random.default_rng(0).permutation(n) % folds
    gram = scores.T @ scores
    return [(test, gram - scores[test].T @ scores[test]) for test in (fold == f for f in range(folds))]


def _held_out_shrinkage(scores, levels, ridge, grams, *, grid=_SHRINKAGE_GRID):
    """The shrinkage of :func:`_shrink` under which discriminant analysis best predicts held-out levels.

    ``scores`` (n, d), ``levels`` (n, L) one-hot, ``grams`` from
    :func:`_fold_grams`. In each fold the level means and the within-level
    covariance of the other rows (their Gram matrix minus the levels'
    scatter) give each held-out row's log-probability of its level (floored
    at log 0.01, as the predictions are); the ``grid`` value with the largest
    total is returned (0 without folds). Full covariance estimates are
    overconfident when the scores are many and correlated — thirty
    measurements of one tumour — and shrinking their correlations trades
    that for calibrated posteriors.
    """
    if not grams:
        return 0.0
    levels = levels.astype(np.float64)
    n, d = scores.shape
    all_counts, all_sums = levels.sum(0), levels.T @ scores                                # over every row
    total = np.zeros(len(grid))
    for test, gram in grams:
        # the other rows' statistics: every row's minus the held-out rows'
        counts = all_counts - levels[test].sum(0)
        sums = all_sums - levels[test].T @ scores[test]                                     # (L, d)
        means = sums / np.maximum(counts, 1)[:, None]
        w = (gram - sums.T @ means) / max(n - test.sum() - 1, 1) + ridge * np.eye(d)
        log_prior = np.log(np.maximum(counts / counts.sum(), 1e-12))
        for g, alpha in enumerate(grid):
            precision_means = np.linalg.solve(_shrink(w, alpha), means.T)                   # (d, L)
            logits = log_prior + scores[test] @ precision_means - 0.5 * (means * precision_means.T).sum(1)
            log_post = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
            total[g] += np.maximum((log_post * levels[test]).sum(1), np.log(_PROB_FLOOR)).sum()
    return float(grid[int(np.argmax(total))])


def _known_patterns(known):
    """``(patterns (U, d), inverse (B,) or None)``: the distinct rows of ``known`` (B, d) and each row's.

    What :meth:`GaussianResidual._conditional` factorises once per set of
    known scores. On CUDA every row is its own pattern (``inverse`` None):
    finding the distinct rows would synchronise with the host.
    """
    if known.is_cuda or len(known) < 2:
        return known, None
    b, d = known.shape
    if d < 63:   # each row's bits as one integer: a 1-d unique is several times faster than unique over rows
        keys = (known.long() << torch.arange(d, device=known.device)).sum(1)
        distinct, inverse = torch.unique(keys, return_inverse=True)
        if len(distinct) == b:
            return known, None
        # a row of each pattern (any: they are equal)
        first = torch.empty(len(distinct), dtype=torch.long, device=known.device).scatter_(
            0, inverse, torch.arange(b, device=known.device))
        return known.index_select(0, first), inverse
    patterns, inverse = torch.unique(known, dim=0, return_inverse=True)
    return (known, None) if len(patterns) == b else (patterns, inverse)


def _known_first(patterns):
    """``(order (U, d), leading (U, d))``: each set's dims with its known ones first (stable), and which of the
    positions in that order hold known dims."""
    order = torch.argsort((~patterns).to(torch.uint8), dim=1, stable=True)
    positions = torch.arange(patterns.shape[1], device=patterns.device)
    return order, positions < patterns.sum(1, keepdim=True)


class _Tables(NamedTuple):
    """A fitted :class:`GaussianResidual`'s arrays as tensors on one device."""

    mean: torch.Tensor          # (d,) score means
    covariance: torch.Tensor    # (d, d)
    scale: torch.Tensor         # (d,) marginal standard deviations
    mode_dims: torch.Tensor     # (d,) model-space dim of each score's continuous mode, −1 if none
    # per predicted column c (levels padded to the widest column's L):
    level_means: torch.Tensor     # (c, d, L) each level's mean scores minus the overall means, 0 on padding
    within: torch.Tensor          # (c, d, d) the column's within-level covariance
    level_logits: torch.Tensor    # (c, L) log level frequencies, −inf on padding
    features: torch.Tensor        # (k,) position of each predicted level in the flattened (c, L)
    log_prior: torch.Tensor       # (k,) log level frequencies, floored at log 0.01
    spike_dims: torch.Tensor      # (s,) discrete dims with a score (level_scores)
    spike_columns: torch.Tensor   # (s,) their score column
    spike_scores: torch.Tensor    # (s,) and that score


class GaussianResidual:
    """Gaussian model of the continuous scores and the residual map it defines.

    Rows are model-space rows of ``layout`` (scores first); a score is
    *known* when its column is given and in its continuous mode (a spike or
    a missing cell carries a placeholder score) or at a spike that
    ``level_scores`` places on the continuous scale, and *free* when its
    column is not given.

    Parameters
    ----------
    layout : Layout
    ridge : float, default=1e-4
        Added to the covariance's diagonal (the scores have unit scale): the
        smallest conditional variance, which bounds the map's stretch.
    max_rows : int, default=20_000
        The Gaussian is fitted on at most this many rows (a fixed random
        subset; a covariance needs far fewer).
    max_iter : int, default=20
        EM iterations (one suffices with no unobserved score).
    max_levels : int, default=64
        Categorical columns with at most this many levels get a predicted
        level (see :meth:`moments`); wider ones none.
    clip : float, default=None
        Mapped scores are clamped to ``[-clip, clip]``.
    shrinkage : "auto" or float in [0, 1], default="auto"
        How far each predicted column's within-level covariance is shrunk
        toward its diagonal (correlations × ``1 − shrinkage``) for the level
        predictions; "auto" takes, per column, the value of a small grid
        under which the predictions give held-out rows' levels the largest
        likelihood (five folds of the training rows). The score map does
        not use it.
    level_scores : ndarray of shape (width,), default=None
        The score on its column's continuous scale of each model-space
        discrete dim that stands for an exact numeric value (a spike inside
        the continuous range, :meth:`~synthaug.encoding.TableEncoder.level_scores`),
        NaN elsewhere. Rows at such a spike count as observed at that score
        in the fit and as known when given: a loan amount given as the round
        1,000 then informs the price.

    Attributes
    ----------
    mean_ : ndarray of shape (d,)
    covariance_ : ndarray of shape (d, d)
    feature_dims_ : ndarray of shape (k,)
        Model-space dimensions (the levels of categorical columns with at
        most ``max_levels`` levels) whose predicted log-probability
        :meth:`moments` returns.
    feature_mean_ : ndarray of shape (k,)
        Their mean ±1 code (``2 × frequency − 1``).
    cross_covariance_ : ndarray of shape (d, k)
        Covariance of the scores with those codes.
    feature_columns_ : ndarray of shape (n_predicted_columns + 1,)
        Where each predicted column's levels start in the ``k`` features
        (and the end).
    level_means_ : ndarray of shape (d, k)
        Each level's mean scores minus the overall means.
    within_covariances_ : ndarray of shape (n_predicted_columns, d, d)
        Per predicted column, the covariance of the scores around their
        level's mean (the total covariance minus the levels' spread,
        made positive definite), its correlations shrunk by the column's
        shrinkage.
    shrinkages_ : ndarray of shape (n_predicted_columns,)
        That shrinkage per predicted column.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from synthaug.encoding import Layout
    >>> layout = Layout(2, (), ((0, None), (1, None)))     # two numeric columns, no modes
    >>> rng = np.random.default_rng(0)
    >>> a = rng.standard_normal(500)
    >>> z = np.c_[a, a + 0.05 * rng.standard_normal(500)]
    >>> res = GaussianResidual(layout).fit(z, np.zeros((500, 0), dtype=np.int64))
    >>> x = torch.tensor([[1.0, 1.05]])
    >>> given = torch.tensor([[True, False]])               # column 0 given, column 1 generated
    >>> mu, ratio = res.moments(x, given)
    >>> round(float(mu[0, 1]), 1)                           # ≈ the given score
    1.0
    >>> y = res.to_residual(x, given, mu, ratio)            # column 1 → its residual, rescaled
    >>> torch.allclose(res.from_residual(y, given, mu, ratio), x[:, :2])
    True
    """

    def __init__(self, layout: Layout, *, ridge=1e-4, max_rows=20_000, max_iter=20, max_levels=64, clip=None,
                 shrinkage="auto", level_scores=None):
        self.layout = layout
        self.level_scores = level_scores
        self.shrinkage = shrinkage
        self.ridge = ridge
        self.max_rows = max_rows
        self.max_iter = max_iter
        self.max_levels = max_levels
        self.clip = clip
        self._tensors = {}

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_tensors"] = {}
        return state

    # --------------------------------------------------------------- fit
    def fit(self, continuous, discrete):
        """Fit the Gaussian by EM on an encoded table's scores (n, d) and codes (n, n_discrete).

        A score counts as observed only in its column's continuous mode.
        """
        scores = np.asarray(continuous, dtype=np.float64)
        discrete = np.asarray(discrete)
        observed = self.layout.scores_in_mode(discrete)
        dims, blocks, cols, vals = self._spikes()
        if len(dims):   # a spike with a score is an observed score
            scores, observed = scores.copy(), observed.copy()
            for dim, block, col, val in zip(dims, blocks, cols, vals):
                hit = discrete[:, block] == dim - self.layout.offsets[block]
                scores[hit, col], observed[hit, col] = val, True
        if len(scores) > self.max_rows:   # fixed subset: every process of a distributed fit gets the same
            keep = np.sort(np.random.default_rng(0).choice(len(scores), self.max_rows, replace=False))
            scores, observed, discrete = scores[keep], observed[keep], discrete[keep]
        n, d = scores.shape
        counts = np.maximum(observed.sum(0), 1)
        mean = np.where(observed, scores, 0.0).sum(0) / counts
        centred = np.where(observed, scores - mean, 0.0)
        var = (centred ** 2).sum(0) / counts
        cov = np.diag(np.maximum(var, self.ridge))   # start independent; EM fills in the dependence
        self.mean_, self.covariance_ = mean, cov + self.ridge * np.eye(d)
        self._tensors = {}
        complete = bool(observed.all())
        for _ in range(1 if complete else self.max_iter):
            new_mean, new_cov = self._em_step(scores, observed)
            moved = np.abs(new_cov - self.covariance_).max()
            self.mean_, self.covariance_ = new_mean, new_cov
            self._tensors = {}   # the tables of the previous estimate
            if moved < _EM_TOL:
                break
        self._fit_cross(scores, observed, discrete)
        return self

    def _fit_cross(self, scores, observed, discrete):
        """Mean of the predicted codes and their covariance with the scores (unobserved scores at their E-step mean)."""
        layout = self.layout
        # categorical columns' blocks (not the modes of numeric columns), if narrow
        has_score = {di for ci, di in layout.column_parts if ci is not None and di is not None}
        narrow = [j for j, c in enumerate(layout.cardinalities) if c <= self.max_levels and j not in has_score]
        self.feature_dims_ = np.concatenate([layout.offsets[j] + np.arange(layout.cardinalities[j])
                                             for j in narrow]).astype(np.int64) if narrow else np.zeros(0, np.int64)
        codes = np.zeros((len(scores), len(self.feature_dims_)))
        at = 0
        for j in narrow:
            codes[:, at: at + layout.cardinalities[j]] = 2.0 * np.eye(layout.cardinalities[j])[discrete[:, j]] - 1
            at += layout.cardinalities[j]
        filled = np.concatenate([f.numpy() for f, _ in self._filled(scores, observed)] or [scores[:0]])
        self.feature_mean_ = codes.mean(0)
        self.cross_covariance_ = (filled - self.mean_).T @ (codes - self.feature_mean_) / max(len(scores), 1)
        # Cov(x, 2·1[level] − 1) = 2·p·(level mean − mean): each level's mean deviation
        freq = (self.feature_mean_ + 1) / 2
        self.level_means_ = np.where(freq > 0, self.cross_covariance_ / np.maximum(2 * freq, 1e-12), 0.0)
        self.feature_columns_ = np.cumsum([0] + [layout.cardinalities[j] for j in narrow])
        d = self.covariance_.shape[0]
        within, shrinkages = [], []
        auto = self.shrinkage == "auto"
        grams = _fold_grams(filled) if auto else []
        for a, b in zip(self.feature_columns_[:-1], self.feature_columns_[1:]):
            spread = (self.level_means_[:, a:b] * freq[a:b]) @ self.level_means_[:, a:b].T
            w = _positive_definite(self.covariance_ - spread, self.ridge)
            alpha = _held_out_shrinkage(filled, codes[:, a:b] > 0, self.ridge, grams) if auto else float(self.shrinkage)
            within.append(_shrink(w, alpha))
            shrinkages.append(alpha)
        self.within_covariances_ = np.stack(within) if within else np.zeros((0, d, d))
        self.shrinkages_ = np.asarray(shrinkages, dtype=np.float64)
        self._tensors = {}

    def _em_step(self, scores, observed):
        """Expected sufficient statistics given the current Gaussian, in chunks of rows."""
        n, d = scores.shape
        total, outer = np.zeros(d), np.zeros((d, d))
        for filled, spread in self._filled(scores, observed, summed=True):
            total += filled.sum(0).numpy()
            outer += (filled.T @ filled + spread).numpy()
        mean = total / n
        cov = outer / n - np.outer(mean, mean)
        return mean, (cov + cov.T) / 2 + self.ridge * np.eye(d)

    def _filled(self, scores, observed, *, summed=False):
        """Chunks of ``scores`` with each unobserved score at its conditional mean given the observed ones.

        Yields ``(filled, the chunk's summed conditional covariance (d, d))``
        with ``summed=True``, else ``(filled, conditional variances (B, d))``;
        float64 tensors. A chunk's rows hold at most ``_CHUNK_ENTRIES``
        entries of their ``(d, d)`` factors.
        """
        d = scores.shape[1]
        chunk = int(np.clip(_CHUNK_ENTRIES // max(d * d, 1), 64, 4_096))
        for start in range(0, len(scores), chunk):
            x = torch.as_tensor(scores[start: start + chunk])
            known = torch.as_tensor(observed[start: start + chunk])
            mu, spread = self._conditional(x, known, torch.float64, summed=summed)
            yield torch.where(known, x, mu), spread

    # ------------------------------------------------------- conditionals
    def _tables(self, device, dtype):
        """The fitted arrays as tensors on ``device`` (a :class:`_Tables`), built once per device and dtype."""
        key = (str(device), dtype)
        if key not in self._tensors:
            def tensor(name):
                value = getattr(self, name, None)
                return None if value is None else torch.as_tensor(value, dtype=dtype, device=device)

            cov = tensor("covariance_")
            freq = (getattr(self, "feature_mean_", np.zeros(0)) + 1) / 2
            bounds = getattr(self, "feature_columns_", np.zeros(1, np.int64))
            widths = np.diff(bounds)
            n_cols, width = len(widths), int(widths.max(initial=0))
            # the columns' levels padded to one width, so that all columns are solved in one batched call
            means = np.zeros((n_cols, len(cov), width))
            logits = np.full((n_cols, width), -np.inf)
            position = np.zeros(len(freq), np.int64)
            for c, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
                means[c, :, : b - a] = self.level_means_[:, a:b]
                logits[c, : b - a] = np.log(np.maximum(freq[a:b], 1e-12))
                position[a:b] = c * width + np.arange(b - a)
            within = getattr(self, "within_covariances_", np.zeros((0, len(cov), len(cov))))
            spike_dims, _, spike_columns, spike_scores = self._spikes()
            self._tensors[key] = _Tables(
                tensor("mean_"), cov, cov.diagonal().sqrt(),
                torch.as_tensor(self.layout.score_mode_dims(), device=device),
                torch.as_tensor(means, dtype=dtype, device=device), torch.as_tensor(within, dtype=dtype, device=device),
                torch.as_tensor(logits, dtype=dtype, device=device), torch.as_tensor(position, device=device),
                torch.as_tensor(np.log(np.clip(freq, _PROB_FLOOR, 1.0)), dtype=dtype, device=device),
                torch.as_tensor(spike_dims, device=device), torch.as_tensor(spike_columns, device=device),
                torch.as_tensor(spike_scores, dtype=dtype, device=device))
        return self._tensors[key]

    @property
    def n_features(self):
        """Width ``k`` of the linear predictions :meth:`moments` returns with ``features=True``."""
        return len(self.feature_dims_)

    def _conditional(self, x, known, dtype, *, summed=False, patterns=None):
        """Conditional means (B, d) of every score given the known ones, and their variances (B, d).

        Everything but the means depends on the row only through its set of
        known scores, so it is solved once per distinct set
        (:func:`_known_patterns`): a batch whose rows share a few sets — the
        rows given one column while training, a condition or a missing-value
        pattern shared by many rows — factorises a few covariances instead of
        one per row. Each set's covariance is factorised with its known
        scores first (:func:`_known_first`): the leading block of the
        Cholesky factor is that of ``Σ_oo``, the one below it is
        ``Σ_fo L_oo⁻ᵀ`` and the trailing block factorises the free scores'
        conditional covariance, so one factorisation gives the variances
        (row norms of the trailing block) and each row's mean (a solve of its
        known scores and a product), without a solve for every score.
        With ``summed=True`` the second output is instead the sum over the
        rows of their conditional covariances (d, d), zero on the known
        scores (what an E-step adds up). ``patterns``: what
        :func:`_known_patterns` gives for ``known``, if already computed.
        """
        tables = self._tables(x.device, dtype)
        mean, cov = tables.mean, tables.covariance
        patterns, inverse = _known_patterns(known) if patterns is None else patterns
        order, leading = _known_first(patterns)
        d = len(mean)
        rows = cov.index_select(0, order.reshape(-1)).reshape(-1, d, d)
        chol = torch.linalg.cholesky(rows.gather(2, order.unsqueeze(1).expand(-1, d, -1)))   # (U, d, d)
        free = (~leading).to(dtype)
        # each row's mean: a = L⁻¹(x − m) on the known block, then L·a gives (x − m)_o there and Σ_fo Σ_oo⁻¹(x − m)_o
        # below it (the rows sharing a set use its factor)
        row_order = order if inverse is None else order.index_select(0, inverse)
        row_chol = chol if inverse is None else chol.index_select(0, inverse)
        lead = (leading if inverse is None else leading.index_select(0, inverse)).unsqueeze(2).to(dtype)
        centred = (x.to(dtype) - mean).gather(1, row_order).unsqueeze(2) * lead
        a = torch.linalg.solve_triangular(row_chol, centred, upper=False) * lead
        mu = mean + torch.zeros_like(centred.squeeze(2)).scatter_(1, row_order, torch.bmm(row_chol, a).squeeze(2))
        if summed:   # Σ over rows of P (T Tᵀ) Pᵀ, T the trailing columns and P the set's order: one product
            counts = torch.ones(len(patterns), dtype=dtype, device=x.device) if inverse is None \
                else torch.bincount(inverse, minlength=len(patterns)).to(dtype)
            trailing = chol * (free * counts.sqrt().unsqueeze(1)).unsqueeze(1)   # the free scores' columns
            back = trailing.gather(1, torch.argsort(order, dim=1).unsqueeze(2).expand_as(trailing))   # rows unpermuted
            stacked = back.transpose(0, 1).reshape(d, -1)
            return mu, stacked @ stacked.T
        # the squared row norms of the free scores' columns of the factor: their conditional variances
        trailing_sq = torch.bmm(chol.square(), free.unsqueeze(2)).squeeze(2)
        variances = torch.zeros_like(patterns, dtype=dtype).scatter_(1, order, trailing_sq)
        variances = variances.clamp(min=self.ridge)
        return mu, variances if inverse is None else variances.index_select(0, inverse)

    def _log_posteriors(self, x, known, dtype, *, patterns=None):
        """Log-probability (B, k) of each predicted level given the known scores, under linear discriminant analysis.

        With the scores of level c's rows Gaussian around the level's mean
        ``m + δ_c`` with the column's within-level covariance ``W``, and the
        unknown scores marginalised out,

            log p(c | x_o) = log π_c + δ_cₒᵀ W_oo⁻¹ (x − m)_o − ½ δ_cₒᵀ W_oo⁻¹ δ_cₒ + const,

        a Cholesky factorisation of the known block of ``W`` per distinct set
        of known scores (:func:`_known_patterns`) and predicted column, all in
        one batched call; floored at log 0.01. ``patterns`` as in :meth:`_conditional`.
        """
        tables = self._tables(x.device, dtype)
        b = len(x)
        n_cols = len(tables.within)
        if not n_cols:
            return torch.zeros((b, 0), dtype=dtype, device=x.device)
        patterns, inverse = _known_patterns(known) if patterns is None else patterns
        k = patterns.to(dtype)
        # (c, U, d, d): each column's W, restricted to the set's known block (identity on the free dims)
        system = tables.within.unsqueeze(1) * (k.unsqueeze(2) * k.unsqueeze(1))
        system.diagonal(dim1=-2, dim2=-1).add_(1 - k)
        chol = torch.linalg.cholesky(system)
        deltas = tables.level_means.unsqueeze(1) * k.unsqueeze(2)                    # (c, U, d, L), zero off o
        centred = (x.to(dtype) - tables.mean) * known.to(dtype)
        if inverse is None:   # every row its own set: one solve of [(x − m)_o, δ_o] per row
            solved = torch.linalg.solve_triangular(
                chol, torch.cat([centred.unsqueeze(2).expand(n_cols, b, -1, 1), deltas], dim=3), upper=False)
            r, u = solved[..., :1], solved[..., 1:]                                     # L⁻¹(x − m)_o, L⁻¹δ_o
            logits = tables.level_logits.unsqueeze(1) + (u * r).sum(2) - 0.5 * (u * u).sum(2)   # (c, B, L)
        else:
            u = torch.linalg.solve_triangular(chol, deltas, upper=False)               # L⁻¹δ_o
            weights = torch.linalg.solve_triangular(chol.mT, u, upper=True).index_select(1, inverse)   # W_oo⁻¹δ_o
            offsets = (tables.level_logits.unsqueeze(1) - 0.5 * (u * u).sum(2)).index_select(1, inverse)
            logits = offsets + torch.einsum("bd,cbdl->cbl", centred, weights)         # (c, B, L)
        log_post = torch.log_softmax(logits, dim=2).transpose(0, 1).reshape(b, -1)
        return log_post.index_select(1, tables.features).clamp(min=float(np.log(_PROB_FLOOR)))

    def _spikes(self):
        """``(dims, their discrete blocks, score columns, scores)`` of the dims :attr:`level_scores` places on a
        score."""
        scores = getattr(self, "level_scores", None)   # (models pickled before it had none)
        if scores is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        scores = np.asarray(scores, dtype=np.float64)
        dims = np.flatnonzero(np.isfinite(scores))
        blocks = np.searchsorted(self.layout.offsets, dims, side="right") - 1
        column_of_block = {di: ci for ci, di in self.layout.column_parts if ci is not None and di is not None}
        cols = np.array([column_of_block[b] for b in blocks], dtype=np.int64)
        return dims, blocks, cols, scores[dims]

    def known(self, x, given):
        """Known scores ``(B, d)``: given (``given`` (B, width)) and in their continuous mode or at a spike with a
        score (:attr:`level_scores`) in ``x`` (B, width)."""
        return self.known_scores(x, given)[1]

    def known_scores(self, x, given):
        """``(scores (B, d), known (B, d))``: ``x``'s scores, a spike's placed at its score, and :meth:`known`."""
        tables = self._tables(x.device, torch.float32)
        mode_dims = tables.mode_dims
        d = self.layout.n_continuous
        in_mode = (x.index_select(1, mode_dims.clamp(min=0)) > 0) | (mode_dims < 0)
        scores = x[:, :d]
        if tables.spike_dims.numel():
            hit = (x.index_select(1, tables.spike_dims) > 0).to(scores.dtype)           # (B, spikes)
            at = torch.zeros_like(scores).index_add_(1, tables.spike_columns, hit) > 0
            placed = torch.zeros_like(scores).index_add_(1, tables.spike_columns,
                                                          hit * tables.spike_scores.to(scores.dtype))
            scores, in_mode = torch.where(at, placed, scores), in_mode | at
        return scores, given[:, :d] & in_mode

    def moments(self, x, given, *, features=False):
        """``(μ, ratio)`` (B, d): each score's conditional mean given the known ones, and ``s / σ``.

        ``x`` (B, width) model-space rows, ``given`` (B, width) the given
        dims. With ``features=True`` a third tensor ``(B, k)``: the log of
        each level's probability (:attr:`feature_dims_`) given the known
        scores (:meth:`_log_posteriors`), floored at log 0.01 (the level's
        frequency when no score is known, :meth:`prior_features`). Only
        rows with a known score are solved (the others keep the marginal
        mean and ratio 1); on CUDA every row is, so that selecting them
        needs no host synchronisation.
        """
        tables = self._tables(x.device, torch.float32)
        mean, scale = tables.mean, tables.scale
        x, known = self.known_scores(x, given)
        b, d = known.shape
        mu = mean.expand(b, d).clone()
        ratio = torch.ones((b, d), dtype=torch.float32, device=x.device)
        feats = self.prior_features(b, x.device) if features else None
        rows = None if x.is_cuda else known.any(1).nonzero().squeeze(1)
        if rows is not None and rows.numel() == 0:
            return (mu, ratio, feats) if features else (mu, ratio)
        xs, ks = (x, known) if rows is None else (x.index_select(0, rows), known.index_select(0, rows))
        patterns = _known_patterns(ks)   # (found once for both solves)
        m, var = self._conditional(xs, ks, torch.float64, patterns=patterns)   # float64: near-collinear scores
        m, r = m.to(torch.float32), scale / var.sqrt().to(torch.float32)
        f = self._log_posteriors(xs, ks, torch.float64, patterns=patterns).to(torch.float32) if features else None
        if rows is None:
            mu, ratio, feats = m, r, f
        else:
            mu, ratio = mu.index_copy_(0, rows, m), ratio.index_copy_(0, rows, r)
            if features:
                feats = feats.index_copy(0, rows, f)
        return (mu, ratio, feats) if features else (mu, ratio)

    def prior_features(self, n, device):
        """The features of :meth:`moments` for ``n`` rows with no known score ``(n, k)``: log level frequencies."""
        return self._tables(device, torch.float32).log_prior.expand(n, -1).clone()

    def to_residual(self, x, given, mu, ratio):
        """Rows ``x`` (B, width) with each free score mapped to ``m + (x − μ)·ratio`` (clamped to ``clip``)."""
        d = self.layout.n_continuous
        mean = self._tables(x.device, torch.float32).mean
        y = mean + (x[:, :d] - mu) * ratio
        if self.clip is not None:
            y = y.clamp(-self.clip, self.clip)
        return torch.cat([torch.where(given[:, :d], x[:, :d], y), x[:, d:]], dim=1)

    def from_residual(self, y, given, mu, ratio):
        """The scores ``(B, d)`` of rows ``y`` (B, width) with the map of :meth:`to_residual` undone (clamped)."""
        d = self.layout.n_continuous
        mean = self._tables(y.device, torch.float32).mean
        x = mu + (y[:, :d] - mean) / ratio
        if self.clip is not None:
            x = x.clamp(-self.clip, self.clip)
        return torch.where(given[:, :d], y[:, :d], x)

    def transform_bounds(self, low, high, mu, ratio):
        """Interval bounds ``(n_continuous, K)`` on scores → per-row bounds ``(B, d, K)`` on the mapped scores."""
        mean = self._tables(mu.device, torch.float32).mean.unsqueeze(-1)
        mu, ratio = mu.unsqueeze(-1), ratio.unsqueeze(-1)
        return mean + (low - mu) * ratio, mean + (high - mu) * ratio
