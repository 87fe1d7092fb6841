"""Fidelity, utility and privacy figures computed by synthaug itself.

Each function takes pandas DataFrames (mixed types, NaN allowed), never
modifies them and returns plain floats (or, with ``return_details=True``, a
``(score, details)`` pair used by the HTML report). The sdmetrics-based
figures live in :mod:`synthaug.evaluation.sdmetrics_scores`.

Column kinds come from ``metadata`` (sdmetrics single-table metadata); when it
is None they are inferred from the first frame with
:func:`synthaug.evaluation.infer_metadata`.
"""

import numpy as np
import pandas as pd
from scipy.special import gammaln
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KDTree, NearestNeighbors
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from ._encoding import (
    distance_matrices,
    row_hashes,
    shared_codes,
    tree_matrices,
    with_missing_level,
)
from ._schema import check_column_argument, prepare_frames, to_float

__all__ = [
    "association_matrix",
    "dcr_closer_to_train_share",
    "detection_auc",
    "exact_copy_share",
    "membership_inference_auc",
    "ml_efficacy",
]

#: Below this many training rows gradient boosting runs on one OpenMP thread: the
#: fits take well under a second, and on a busy machine OpenMP threads that wait
#: for each other made them 5x slower (measured on 2 shared cores).
_SINGLE_THREAD_ROWS = 20_000


def _threads(n_rows):
    """Context limiting OpenMP to one thread for small fits (a no-op for large ones)."""
    return threadpool_limits(limits=1 if n_rows < _SINGLE_THREAD_ROWS else None,
                             user_api="openmp")


class _Boosting:
    """HistGradientBoosting that ignores features with no observed value in the fit data.

    (scikit-learn 1.9 fails to bin an all-missing feature; such a feature
    carries nothing to learn from anyway.) Below 200 rows its smallest leaf
    is a tenth of the rows instead of scikit-learn's 20: with the default a
    fit on fewer than 40 rows cannot split at all, and would report tables
    of a few dozen rows as indistinguishable whatever they hold.
    """

    def __init__(self, kind, categorical, seed):
        self.kind, self.categorical, self.seed = kind, categorical, seed

    def fit(self, X, y):
        self.keep_ = ~np.all(np.isnan(X), axis=0)
        cls = HistGradientBoostingClassifier if self.kind == "classifier" else \
            HistGradientBoostingRegressor
        self.model_ = cls(categorical_features=self.categorical[self.keep_],
                          min_samples_leaf=min(20, max(1, len(X) // 10)), random_state=self.seed)
        # With no usable feature, fit on a constant one: predictions are the base rate.
        self.model_.fit(X[:, self.keep_] if self.keep_.any() else np.zeros((len(X), 1)), y)
        self.classes_ = getattr(self.model_, "classes_", None)
        return self

    def _x(self, X):
        return X[:, self.keep_] if self.keep_.any() else np.zeros((len(X), 1))

    def predict(self, X):
        return self.model_.predict(self._x(X))

    def predict_proba(self, X):
        return self.model_.predict_proba(self._x(X))


def _seed(rng):
    return int(rng.randint(np.iinfo(np.int32).max))


# --------------------------------------------------------------------------- detection
def detection_auc(real, synthetic, *, metadata=None, n_splits=5, random_state=0,
                  return_details=False):
    """Classifier two-sample test: how well can a model tell synthetic rows from real ones?

    The larger of the two tables is subsampled (seeded) to the size of the
    smaller, rows are labelled 1 (synthetic) or 0 (real), and a
    :class:`~sklearn.ensemble.HistGradientBoostingClassifier` with native
    categorical support (missing values passed through) is scored by
    stratified ``n_splits``-fold cross-validated ROC AUC, averaged over folds.

    Pass *held-out* real rows as ``real``: against the training rows a model
    that copies its training data would look perfect.

    Parameters
    ----------
    real, synthetic : pandas.DataFrame
        Same columns, any order.
    metadata : dict, optional
        sdmetrics single-table metadata; inferred from ``real`` when None.
    n_splits : int, default=5
        Folds; reduced when a class has fewer rows.
    random_state : int, RandomState instance or None, default=0
        Seeds the subsampling, the folds and the classifier.
    return_details : bool, default=False
        Also return a dict with the fold AUCs and the out-of-fold
        probabilities (for ROC curves).

    Returns
    -------
    auc : float
        0.5 means the classifier cannot tell the tables apart (the goal);
        1.0 means every synthetic row is recognisable. Values a little below
        0.5 are noise. None if either table has fewer than 2 rows.
    details : dict, only if ``return_details``

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from synthaug.evaluation.metrics import detection_auc
    >>> rng = np.random.default_rng(0)
    >>> real = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(list("ab"), 300)})
    >>> same = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(list("ab"), 300)})
    >>> shifted = same.assign(x=same["x"] + 6)
    >>> detection_auc(real, shifted) > 0.95
    True
    >>> bool(abs(detection_auc(real, same) - 0.5) < 0.1)
    True
    """
    (real_n, synth_n), kinds, _ = prepare_frames({"real": real, "synthetic": synthetic}, metadata)
    rng = check_random_state(random_state)
    n = min(len(real_n), len(synth_n))
    if n < 2:
        return (None, {}) if return_details else None
    real_idx = np.sort(rng.choice(len(real_n), n, replace=False))
    synth_idx = np.sort(rng.choice(len(synth_n), n, replace=False))
    (X_real, X_synth), categorical, _ = tree_matrices(
        [real_n.iloc[real_idx], synth_n.iloc[synth_idx]], kinds
    )
    X = np.vstack([X_real, X_synth])
    y = np.r_[np.zeros(n, dtype=int), np.ones(n, dtype=int)]
    folds = StratifiedKFold(n_splits=min(n_splits, n), shuffle=True, random_state=_seed(rng))
    model_seed = _seed(rng)
    proba = np.empty(len(y))
    fold_auc = []
    with _threads(len(y)):
        for train_idx, test_idx in folds.split(X, y):
            model = _Boosting("classifier", categorical, model_seed)
            model.fit(X[train_idx], y[train_idx])
            proba[test_idx] = model.predict_proba(X[test_idx])[:, 1]
            fold_auc.append(roc_auc_score(y[test_idx], proba[test_idx]))
    auc = float(np.mean(fold_auc))
    if not return_details:
        return auc
    return auc, {"fold_auc": fold_auc, "y_true": y, "y_score": proba, "n_per_class": n}


# --------------------------------------------------------------------------- ML efficacy
def ml_efficacy(train, synthetic, holdout, target, *, metadata=None, random_state=0):
    """Train-on-synthetic / test-on-real against train-on-real / test-on-real.

    A :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (categorical
    target) or :class:`~sklearn.ensemble.HistGradientBoostingRegressor`
    (numerical target) is fitted once on ``train`` and once on ``synthetic``
    and both are scored on ``holdout``:

    * binary target: ROC AUC;
    * multiclass target: macro one-vs-rest ROC AUC over the classes present in
      ``holdout``;
    * numerical target: R².

    Rows with a missing target are dropped. A class absent from the synthetic
    table gets probability 0 (a synthetic table with one class scores 0.5).

    Parameters
    ----------
    train, synthetic, holdout : pandas.DataFrame
        Same columns; ``holdout`` must not have been used to fit the generator.
    target : str
        Column to predict from the others.
    metadata : dict, optional
        sdmetrics single-table metadata; inferred from ``train`` when None.
        The target's sdtype decides classification or regression.
    random_state : int, RandomState instance or None, default=0

    Returns
    -------
    scores : dict or None
        ``{"ml_efficacy_real": float, "ml_efficacy_synthetic": float,
        "ml_efficacy_gap": float, "metric": "roc_auc" | "roc_auc_ovr" | "r2"}``;
        the gap is real − synthetic (lower is better, 0 is parity). None when
        the holdout cannot be scored (a single class, or fewer than 2 rows).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from synthaug.evaluation.metrics import ml_efficacy
    >>> rng = np.random.default_rng(0)
    >>> def table(n):
    ...     x = rng.normal(size=n)
    ...     return pd.DataFrame({"x": x, "y": np.where(x + rng.normal(0, .5, n) > 0, "a", "b")})
    >>> train, holdout = table(400), table(200)
    >>> noise = train.assign(y=rng.permutation(train["y"].to_numpy()))
    >>> out = ml_efficacy(train, noise, holdout, "y")
    >>> out["metric"], out["ml_efficacy_real"] > 0.85
    ('roc_auc', True)
    >>> abs(out["ml_efficacy_synthetic"] - 0.5) < 0.15   # labels shuffled: no signal
    True
    """
    (train_n, synth_n, hold_n), kinds, _ = prepare_frames(
        {"train": train, "synthetic": synthetic, "holdout": holdout}, metadata
    )
    target = check_column_argument(target, list(train_n.columns), "target")
    if target is None:
        raise ValueError("target is required for ml_efficacy.")
    if target not in kinds:
        raise ValueError(f"target {target!r} has an sdtype that cannot be predicted.")
    rng = check_random_state(random_state)
    model_seed = _seed(rng)
    frames = [f[f[target].notna().to_numpy()] for f in (train_n, synth_n, hold_n)]
    if len(frames[2]) < 2 or len(frames[0]) < 2:
        return None
    # codes ranked on the real rows alone: the real model must not depend on the synthetic table
    real = (0, 2)
    (X_train, X_synth, X_hold), categorical, _ = tree_matrices(frames, kinds, exclude=(target,), rank_by=real)
    kind = kinds[target]

    if kind != "categorical":
        y_train, y_synth, y_hold = (to_float(f, target, kind) for f in frames)
        if np.ptp(y_hold) == 0:
            return None

        def score(X, y):
            if len(y) < 2:
                return None
            model = _Boosting("regressor", categorical, model_seed)
            return float(r2_score(y_hold, model.fit(X, y).predict(X_hold)))

        metric = "r2"
    else:
        codes, n_classes = shared_codes(frames, target, rank_by=real)
        y_train, y_synth, y_hold = codes
        present = np.unique(y_hold)
        if present.size < 2:
            return None
        metric = "roc_auc" if np.unique(np.r_[y_train, y_hold]).size <= 2 else "roc_auc_ovr"

        def score(X, y):
            if len(y) < 1:
                return None
            proba = np.zeros((len(y_hold), n_classes))
            classes = np.unique(y)
            if classes.size == 1:
                proba[:, classes[0]] = 1.0
            else:
                model = _Boosting("classifier", categorical, model_seed).fit(X, y)
                proba[:, model.classes_] = model.predict_proba(X_hold)
            if metric == "roc_auc":
                positive = present.max()
                return float(roc_auc_score(y_hold == positive, proba[:, positive]))
            return float(np.mean([roc_auc_score(y_hold == c, proba[:, c]) for c in present]))

    with _threads(max(len(X_train), len(X_synth))):
        real_score = score(X_train, y_train)
        synth_score = score(X_synth, y_synth)
    out = {"metric": metric}
    if real_score is not None:
        out["ml_efficacy_real"] = real_score
    if synth_score is not None:
        out["ml_efficacy_synthetic"] = synth_score
    if real_score is not None and synth_score is not None:
        out["ml_efficacy_gap"] = real_score - synth_score
    return out


# --------------------------------------------------------------------------- privacy
def dcr_closer_to_train_share(train, holdout, synthetic, *, metadata=None, random_state=0,
                              return_details=False):
    """Share of synthetic rows whose nearest real row is a training row.

    The larger of ``train`` and ``holdout`` is compared through subsamples
    of the size of the smaller, so that a generator which never saw either
    would have half of its rows closer to each: **0.5 is ideal**, values well
    above 0.5 mean the synthetic rows sit closer to the training rows than
    fresh real rows do (overfitting), 1.0 means every synthetic row copies
    one of the compared training rows. Rows are encoded as in sdmetrics' DCR
    metrics but vectorised: numerics min-max scaled on the real rows (missing
    values imputed and flagged), categoricals one-hot (see ``_encoding``);
    distances are Euclidean, found with
    :class:`~sklearn.neighbors.NearestNeighbors` and
    :class:`~sklearn.neighbors.KDTree`. A synthetic row at the same distance
    from both sets counts one half.

    The share is the **expectation over every subsample** of the larger
    table, computed exactly rather than from one random subsample (which
    sdmetrics' ``num_iterations`` averages over): a synthetic row whose
    nearest row of the smaller table is at distance ``d`` is closer to the
    larger one in the share ``1 - C(N - k, n) / C(N, n)`` of its
    ``n``-row subsamples, ``k`` of whose ``N`` rows lie within ``d``. So the
    figure does not depend on ``random_state``, and its spread is that of
    the synthetic rows alone; one subsample of a few hundred rows moves it
    by several hundredths.

    Note that only training rows in the subsample count: a synthetic copy of
    the full training table, with a training table twice the holdout's size,
    scores about 0.75, not 1.0.

    Parameters
    ----------
    train, holdout, synthetic : pandas.DataFrame
        Same columns.
    metadata : dict, optional
        sdmetrics single-table metadata; inferred from ``train`` when None.
    random_state : int, RandomState instance or None, default=0
        Seeds the one subsample whose distances ``return_details`` gives
        (the share itself is exact).
    return_details : bool, default=False
        Also return a dict with the distances of each synthetic row to its
        nearest training and holdout row within one seeded subsample of the
        larger table (``dcr_train``, ``dcr_holdout``), the share on that
        subsample alone (``subsample_share``), the number of rows each
        side compares (``n_compared``) and the standard error of the share
        over the synthetic rows (``share_se``: the spread of their
        per-row shares over √rows; it says how far another sample of as many
        rows from the same generator could land, not how the split of
        train and holdout moves it; NaN below 2 rows).

    Returns
    -------
    share : float
    details : dict, only if ``return_details``

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from synthaug.evaluation.metrics import dcr_closer_to_train_share
    >>> rng = np.random.default_rng(0)
    >>> train = pd.DataFrame({"x": rng.normal(size=200), "c": rng.choice(list("abc"), 200)})
    >>> holdout = pd.DataFrame({"x": rng.normal(size=200), "c": rng.choice(list("abc"), 200)})
    >>> dcr_closer_to_train_share(train, holdout, synthetic=train)
    1.0
    """
    (train_n, hold_n, synth_n), kinds, _ = prepare_frames(
        {"train": train, "holdout": holdout, "synthetic": synthetic}, metadata
    )
    rng = check_random_state(random_state)
    n = min(len(train_n), len(hold_n))
    X_train, X_hold, X_synth = distance_matrices([train_n, hold_n], [train_n, hold_n, synth_n], kinds)
    train_larger = len(X_train) > len(X_hold)
    small, large = (X_hold, X_train) if train_larger else (X_train, X_hold)
    d_small = _nearest_distance(small, X_synth)
    closer_large = _expected_closer_share(d_small, large, X_synth, n)
    per_row = closer_large if train_larger else 1.0 - closer_large
    share = float(np.mean(per_row))
    if not return_details:
        return share
    se = float(np.std(per_row, ddof=1) / np.sqrt(len(per_row))) if len(per_row) > 1 else float("nan")
    # one seeded subsample of the larger set (the smaller one is kept whole: its distances are d_small)
    subsamples = [np.sort(rng.choice(len(X), n, replace=False)) for X in (X_train, X_hold)]
    d_large = _nearest_distance(large[subsamples[0 if train_larger else 1]], X_synth)
    d_train, d_hold = (d_large, d_small) if train_larger else (d_small, d_large)
    # Exact ties (frequent in discrete data) are split evenly; a tolerance absorbs
    # floating-point noise between two identical encodings.
    tie = np.isclose(d_train, d_hold, rtol=1e-9, atol=1e-12)
    subsample = float(np.mean(np.where(tie, 0.5, (d_train < d_hold).astype(float))))
    return share, {"dcr_train": d_train, "dcr_holdout": d_hold, "n_compared": n, "subsample_share": subsample,
                   "share_se": se}


def _nearest_distance(reference, X):
    """Euclidean distance from each row of ``X`` to its nearest row of ``reference``."""
    return NearestNeighbors(n_neighbors=1).fit(reference).kneighbors(X)[0][:, 0]


def _expected_closer_share(d, large, X_synth, n):
    """Per row of ``X_synth``: how often it is closer to ``large`` than ``d``, over every ``n``-row subsample of it.

    ``d``: each synthetic row's distance to its nearest row of the smaller
    set (whole). With the counts of ``large``'s rows strictly within ``d``
    (``k_lt``) and within ``d`` up to the tie tolerance (``k_le``): a
    subsample holds none of ``k`` given rows with probability
    ``C(N - k, n) / C(N, n)``; the row is closer to the larger set when the
    subsample holds one of the ``k_lt``, tied when it holds none of those
    but one of the ties (counted one half). Equal sizes give the plain
    share. Returns ``(len(X_synth),)`` shares.
    """
    tol = 1e-12 + 1e-9 * d           # np.isclose's tolerance of the one-subsample share
    # counts of distances <= r: at r = d - tol the rows strictly closer than the tie band
    k_lt, k_le = _count_within(large, X_synth, np.maximum(d - tol, 0.0), d + tol)
    k_lt = np.where(d - tol > 0, k_lt, 0)
    none_lt, none_le = _none_drawn(len(large), k_lt, n), _none_drawn(len(large), k_le, n)
    # P(the subsample's nearest is closer than d) = 1 - none_lt; tied = none_lt - none_le
    return 1.0 - none_lt + 0.5 * (none_lt - none_le)


#: above this many columns a k-d tree prunes almost nothing (scikit-learn's own cut-off for "auto"), and
#: counting rows within a radius is done by blocks of distances instead
_TREE_MAX_COLUMNS = 15


def _count_within(reference, X, *radii, block_cells=4_000_000):
    """How many rows of ``reference`` lie within Euclidean distance ``radius[i]`` (inclusive) of each row ``X[i]``,
    for each of ``radii`` (arrays of ``len(X)``); a list of count arrays, one per radius.

    Few columns: :meth:`sklearn.neighbors.KDTree.query_radius`. More (a
    one-hot table has hundreds, where a tree's query degrades to far worse
    than a full scan): squared distances by blocks of rows from matrix
    products, ``|x|² + |y|² − 2x·y``, whose rounding is bounded by a margin;
    the pairs within that margin of a radius are measured again exactly, so
    the counts are those of the exact distances.
    """
    radii = [np.asarray(r, dtype=np.float64) for r in radii]
    if X.shape[1] <= _TREE_MAX_COLUMNS:
        tree = KDTree(reference)
        return [tree.query_radius(X, r, count_only=True) for r in radii]
    ref_sq = np.einsum("ij,ij->i", reference, reference)
    # a bound on the products' rounding, well above it (each term's error is within columns × eps of its size)
    relative = 8.0 * (X.shape[1] + 2) * np.finfo(np.float64).eps
    counts = [np.empty(len(X), dtype=np.int64) for _ in radii]
    step = max(1, block_cells // max(len(reference), 1))
    pairs = max(1, block_cells // X.shape[1])
    for start in range(0, len(X), step):
        x = X[start: start + step]
        x_sq = np.einsum("ij,ij->i", x, x)
        d2 = x_sq[:, None] + ref_sq[None, :] - 2.0 * (x @ reference.T)
        margin = relative * (x_sq[:, None] + ref_sq[None, :]) + 1e-300
        for radius, count in zip(radii, counts):
            r = radius[start: start + step]
            r2 = r[:, None] ** 2
            count[start: start + len(x)] = (d2 <= r2 - margin).sum(axis=1)
            rows, cols = np.nonzero(np.abs(d2 - r2) < margin)   # too close to call: exact distances
            for a in range(0, len(rows), pairs):                # (a bounded number of pairs at a time)
                i, j = rows[a: a + pairs], cols[a: a + pairs]
                within = np.sqrt(((x[i] - reference[j]) ** 2).sum(axis=1)) <= r[i]
                count[start: start + len(x)] += np.bincount(i[within], minlength=len(x))
    return counts


def _none_drawn(total, k, n):
    """``C(total - k, n) / C(total, n)``: the chance that ``n`` rows drawn without replacement miss ``k`` given ones."""
    k = np.asarray(k, dtype=np.float64)
    free = total - k
    with np.errstate(invalid="ignore"):
        log_p = (gammaln(free + 1) - gammaln(free - n + 1) - gammaln(total + 1) + gammaln(total - n + 1))
    return np.where(free >= n, np.exp(np.where(free >= n, log_p, 0.0)), 0.0)


def membership_inference_auc(train, holdout, synthetic, *, metadata=None, random_state=0):
    """ROC AUC of a distance-based membership-inference attack on the synthetic rows.

    The attacker holds real records, half of them training rows (members) and
    half holdout rows (non-members, equal-size seeded subsamples), and scores
    each by how close the synthetic data comes to it: the distance to its
    nearest synthetic row divided by the distance to its nearest *other* real
    record of the reference set (the holdout rows not under attack), so that
    records in dense regions are not taken for members just because everything
    is near them. **0.5** is ideal (the synthetic rows say nothing about who was
    in training); 1.0 means every member is singled out. Encoding and distances
    as in :func:`dcr_closer_to_train_share`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from synthaug.evaluation.metrics import membership_inference_auc
    >>> x = np.random.default_rng(0).normal(size=(900, 2))
    >>> train, holdout, fresh = (pd.DataFrame(x[k::3], columns=["a", "b"]) for k in range(3))
    >>> membership_inference_auc(train, holdout, synthetic=train)   # a copy exposes every member
    1.0
    >>> 0.4 < membership_inference_auc(train, holdout, synthetic=fresh) < 0.6
    True
    """
    (train_n, hold_n, synth_n), kinds, _ = prepare_frames(
        {"train": train, "holdout": holdout, "synthetic": synthetic}, metadata
    )
    rng = check_random_state(random_state)
    # holdout: half attacked (non-members), half the attacker's reference population
    hold_perm = rng.permutation(len(hold_n))
    n = min(len(train_n), len(hold_n) // 2)
    if n < 2:
        raise ValueError("membership_inference_auc needs at least 4 holdout rows and 2 training rows.")
    members = train_n.iloc[np.sort(rng.choice(len(train_n), n, replace=False))]
    outsiders = hold_n.iloc[np.sort(hold_perm[:n])]
    reference = hold_n.iloc[np.sort(hold_perm[n:])]
    X_mem, X_out, X_ref, X_synth = distance_matrices([train_n, hold_n], [members, outsiders, reference, synth_n],
                                                     kinds)
    attacked = np.vstack([X_mem, X_out])
    d_synth = NearestNeighbors(n_neighbors=1).fit(X_synth).kneighbors(attacked)[0][:, 0]
    d_ref = NearestNeighbors(n_neighbors=1).fit(X_ref).kneighbors(attacked)[0][:, 0]
    score = -d_synth / (d_ref + 1e-12)
    labels = np.r_[np.ones(n), np.zeros(n)]
    return float(roc_auc_score(labels, score))


def exact_copy_share(train, synthetic, *, metadata=None):
    """Share of synthetic rows identical, in every column, to some training row.

    Missing values match missing values; numbers must be exactly equal.
    Rows are hashed, so this is linear in the table sizes. On discrete data
    some copies happen by chance: compare with the same share computed for
    held-out real rows (the HTML report shows both).

    Parameters
    ----------
    train, synthetic : pandas.DataFrame
        Same columns.
    metadata : dict, optional
        sdmetrics single-table metadata; inferred from ``train`` when None.

    Returns
    -------
    share : float
        0.0 is best; 1.0 means every synthetic row is a copy.

    Examples
    --------
    >>> import pandas as pd
    >>> from synthaug.evaluation.metrics import exact_copy_share
    >>> train = pd.DataFrame({"x": [1.0, 2.0, None], "c": ["a", "b", "c"]})
    >>> synth = pd.DataFrame({"x": [1.0, None, 5.0, 2.0], "c": ["a", "c", "a", "a"]})
    >>> exact_copy_share(train, synth)
    0.5
    """
    (train_n, synth_n), kinds, _ = prepare_frames(
        {"train": train, "synthetic": synthetic}, metadata
    )
    h_train, h_synth = row_hashes([train_n, synth_n], kinds)
    return float(np.isin(h_synth, h_train).mean())


# --------------------------------------------------------------------------- associations
def association_matrix(frame, *, metadata=None):
    """Pairwise association between columns, for every column kind.

    * numerical–numerical (datetimes as numbers): Spearman rank correlation,
      signed, in [-1, 1], over rows where both are observed;
    * categorical–categorical: bias-corrected Cramér's V (Bergsma, 2013) in
      [0, 1], missing values a level of their own;
    * categorical–numerical: correlation ratio η in [0, 1] over rows where the
      number is observed, missing categories a level of their own, bias-corrected
      like the Cramér's V (η² adjusted for the k − 1 group means fitted, as an
      adjusted R²: a many-level column unrelated to the number scores ≈ 0).

    Parameters
    ----------
    frame : pandas.DataFrame
    metadata : dict, optional
        sdmetrics single-table metadata; inferred from ``frame`` when None.

    Returns
    -------
    matrix : pandas.DataFrame
        Square, symmetric, 1 on the diagonal, NaN where undefined (a
        constant column).

    Examples
    --------
    >>> import pandas as pd
    >>> from synthaug.evaluation.metrics import association_matrix
    >>> df = pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
    ...                    "y": [6.5, 5.5, 4.5, 3.5, 2.5, 1.5], "c": list("aabbcc")})
    >>> association_matrix(df).round(2)
          x     y     c
    x  1.00 -1.00  0.93
    y -1.00  1.00  0.93
    c  0.93  0.93  1.00
    """
    (frame_n,), kinds, _ = prepare_frames({"frame": frame}, metadata)
    names = list(kinds)
    values = {}
    for name in names:
        if kinds[name] == "categorical":
            values[name] = pd.factorize(with_missing_level(frame_n[name]))[0]
        else:
            values[name] = to_float(frame_n, name, kinds[name])
    out = np.eye(len(names))
    for i, a in enumerate(names):
        if kinds[a] != "categorical" and _constant(values[a]):
            out[i, i] = np.nan
        elif kinds[a] == "categorical" and np.unique(values[a]).size < 2:
            out[i, i] = np.nan
        for j in range(i + 1, len(names)):
            b = names[j]
            cat_a, cat_b = kinds[a] == "categorical", kinds[b] == "categorical"
            if cat_a and cat_b:
                v = _cramers_v(values[a], values[b])
            elif cat_a:
                v = _correlation_ratio(values[a], values[b])
            elif cat_b:
                v = _correlation_ratio(values[b], values[a])
            else:
                v = _spearman(values[a], values[b])
            out[i, j] = out[j, i] = v
    return pd.DataFrame(out, index=names, columns=names)


def _constant(x):
    """True when a float array has fewer than two distinct observed values.

    Compares values exactly: the standard deviation of identical floats can
    come out as 1e-11 instead of 0.
    """
    observed = x[~np.isnan(x)]
    return observed.size == 0 or observed.min() == observed.max()


def _spearman(x, y):
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.sum() < 3:
        return np.nan
    if _constant(x[ok]) or _constant(y[ok]):
        return np.nan
    rx = pd.Series(x[ok]).rank().to_numpy()
    ry = pd.Series(y[ok]).rank().to_numpy()
    return float(np.clip(np.corrcoef(rx, ry)[0, 1], -1.0, 1.0))


def _cramers_v(a, b):
    n = len(a)
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    r, k = ia.max() + 1, ib.max() + 1
    if r < 2 or k < 2 or n < 2:
        return np.nan
    table = np.zeros((r, k))
    np.add.at(table, (ia, ib), 1)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = np.sum((table - expected) ** 2 / expected)
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    r_c = r - (r - 1) ** 2 / (n - 1)
    k_c = k - (k - 1) ** 2 / (n - 1)
    denom = min(k_c - 1, r_c - 1)
    return float(min(1.0, np.sqrt(phi2 / denom))) if denom > 0 else np.nan


def _correlation_ratio(codes, x):
    ok = ~np.isnan(x)
    codes, x = codes[ok], x[ok]
    if x.size < 2 or _constant(x):
        return np.nan
    _, inv = np.unique(codes, return_inverse=True)
    counts = np.bincount(inv)
    means = np.bincount(inv, weights=x) / counts
    between = np.sum(counts * (means - x.mean()) ** 2)
    total = np.sum((x - x.mean()) ** 2)
    n, k = x.size, counts.size
    if n <= k:                 # a group per row: nothing left to tell a relation from noise
        return np.nan
    eta2 = 1.0 - (1.0 - between / total) * (n - 1) / (n - k)     # adjusted for the k - 1 fitted group means
    return float(min(1.0, np.sqrt(max(0.0, eta2))))
