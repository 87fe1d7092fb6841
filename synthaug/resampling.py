"""Over-sampling with a class-conditional generative model, under imbalanced-learn's contract.

:class:`OverSamplerMixin` gives an estimator ``fit_resample(X, y)``: it
resolves ``sampling_strategy`` exactly as imbalanced-learn's over-samplers do
(``imblearn.utils.check_sampling_strategy``), fits the class-conditional model
on *all* classes — so a minority class of 20 rows borrows the structure the
other classes share — and appends, class by class, rows sampled with that
class given. The original rows come first and unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from imblearn.utils import check_sampling_strategy
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.multiclass import type_of_target

from ._atomic import restore_on_failure
from ._validation import check_table, check_target
from .density_ratio import TableFeatures
from .encoding.images import is_image_input

__all__ = ["ClassNeighbourhoodCheck", "OverSamplerMixin", "PlausibilityFilter"]


def check_resampling_target(y_series, name="y"):
    """Resampling needs class labels, ≥ 2 classes and ≥ 2 rows in each; a clear error otherwise."""
    kind = pd.api.types.infer_dtype(y_series, skipna=True)
    if kind in ("mixed", "mixed-integer"):
        types = sorted({type(v).__name__ for v in y_series.dropna()})
        raise TypeError(f"{name} mixes label types ({', '.join(types)}); give every class label one type "
                        "(e.g. y.astype(str)).")
    if pd.api.types.is_float_dtype(y_series.dtype) and type_of_target(y_series.dropna().to_numpy()) == "continuous":
        raise ValueError(f"{name} holds continuous values (floats that are not whole numbers), not class labels; "
                         "resampling balances classes: bin a numeric target first (e.g. pd.cut).")
    counts = y_series.value_counts()
    counts = counts[counts > 0]     # a categorical's unused categories are not classes (as in imbalanced-learn)
    if len(counts) < 2:
        raise ValueError(f"{name} holds a single class ({counts.index[0]!r}); resampling needs at least two.")
    lonely = counts[counts < 2]
    if len(lonely):
        raise ValueError(f"class {lonely.index[0]!r} of {name} has a single row; a generative model needs at "
                         "least 2 rows of a class to learn it (drop the class or add rows).")
    return counts


class PlausibilityFilter:
    """Rank synthetic rows by how plausible a classifier trained on the real rows finds their class.

    A ``HistGradientBoostingClassifier`` (categorical columns as categories —
    the 254 most frequent levels of a wider column, the others as missing —
    missing values native) is fitted on the real ``(X, y)`` (classes as
    codes, so any hashable label works); :meth:`keep`
    returns the ``n`` candidate rows with the highest predicted probability of
    the class they were generated for.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [0.0, 0.1, 0.2, 5.0, 5.1, 5.2] * 20, "c": list("xxxyyy") * 20})
    >>> y = ["lo", "lo", "lo", "hi", "hi", "hi"] * 20
    >>> flt = PlausibilityFilter(X, y, random_state=0)
    >>> candidates = pd.DataFrame({"a": [5.0, 0.1, 5.1], "c": ["y", "x", "y"]})
    >>> sorted(flt.keep(candidates, "hi", 2).tolist())
    [0, 2]
    """

    def __init__(self, X, y, *, random_state=None):
        self.features_ = TableFeatures(X)
        codes, self.classes_ = pd.factorize(pd.Series(y), sort=False)
        self.classifier_ = self.features_.classifier(random_state, max_iter=100).fit(
            self.features_.transform(X), codes)

    def keep(self, candidates, label, n):
        """Positions of the ``n`` candidates most plausible for class ``label``, in their original order."""
        proba = self.classifier_.predict_proba(self.features_.transform(candidates))
        column = list(self.classifier_.classes_).index(self.classes_.get_loc(label))
        best = np.argsort(-proba[:, column], kind="stable")[:n]
        return np.sort(best)


class ClassNeighbourhoodCheck:
    """Turn away synthetic rows that the real rows around them place in their class less than nearly any real row.

    Two measures of a row of class ``c``, both against the real rows —
    numeric (and datetime) columns standardised, categorical ones one-hot, a
    missing cell at its column's mean (no level), a real row leaving itself
    out:

    * its *class share*: the share of ``c`` among its ``n_neighbors``
      nearest real rows;
    * its *class distance*: how far its nearest real row of ``c`` is (and
      whether a real row of another class is nearer).

    A synthetic row of class ``c`` passes (:meth:`assess`) when its share
    reaches the ``quantile`` of the real ``c`` rows' shares and it is not
    *astray*: further from the real rows of ``c`` than the ``1 − quantile``
    quantile of their own class distances and nearer another class's real
    row than any of theirs (no limit where that
    quantile is 0: real rows that nearly all repeat one another, as in a
    table of a few categorical columns). Rows made like the real ones fail
    about as often as the real rows do; rows in a region where the real
    rows of ``c`` never have neighbours of ``c`` (a class the model drew too
    much like another), or astray (a small class whose rows the model spread
    over another class's region), are turned away — not rows that only
    reach past the class's real rows where no other class is. Where the classes
    overlap so much that some real rows of ``c`` have no neighbour of ``c``
    at that quantile, the share turns no row away. At most ``max_rows`` real
    rows (drawn at random) are the reference.
    :meth:`~OverSamplerMixin.fit_resample` replaces a class's failing rows
    only when more of them fail than twice the share of its real rows that
    do, and than twice ``quantile`` (:meth:`tolerance`).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [0.0, 0.1, 0.2, 0.3, 5.0, 5.1, 5.2, 5.3] * 5})
    >>> y = [label for _ in range(5) for label in ["lo"] * 4 + ["hi"] * 4]
    >>> check = ClassNeighbourhoodCheck(X, y)
    >>> check.passes(pd.DataFrame({"a": [5.1, 0.1, 2.0]}), "hi").tolist()
    [True, False, False]
    """

    def __init__(self, X, y, *, n_neighbors=5, quantile=0.05, max_rows=20_000, random_state=None):
        labels = pd.Series(y).to_numpy()
        rows = np.arange(len(labels))
        if len(rows) > max_rows:
            rows = np.sort(np.random.default_rng(random_state).choice(len(rows), max_rows, replace=False))
        X, labels = X.iloc[rows], labels[rows]
        self.features_ = TableFeatures(X)
        values = self.features_.transform(X)
        numeric = ~np.asarray(self.features_.categorical, dtype=bool)
        self.mean_ = np.nanmean(values[:, numeric], axis=0) if numeric.any() else np.zeros(0)
        scale = np.nanstd(values[:, numeric], axis=0) if numeric.any() else np.zeros(0)
        self.scale_ = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        self.mean_ = np.where(np.isfinite(self.mean_), self.mean_, 0.0)
        self.quantile = quantile
        self.codes_, classes = pd.factorize(labels, sort=False)
        self.classes_ = pd.Index(classes)   # (looked up by label: datetimes, intervals and all)
        k = min(n_neighbors, len(labels) - 1)
        reference = self._design(values)
        self.neighbours_ = NearestNeighbors(n_neighbors=k).fit(reference)
        dist, near = (a[:, 1:] for a in self.neighbours_.kneighbors(reference, n_neighbors=k + 1))
        share = (self.codes_[near] == self.codes_[:, None]).mean(axis=1)
        # per class (in the order of classes_): the quantile of its real rows' shares; the nearest-neighbour search
        # among its real rows and the 1 − quantile quantile of their distances to their nearest other row of the
        # class (none with one row); the share of its real rows that fail
        self.thresholds_ = np.empty(len(self.classes_))
        self.class_searches_, self.distance_limits_ = [], np.full(len(self.classes_), np.inf)
        self.real_fail_rates_ = np.zeros(len(self.classes_))
        for c in range(len(self.classes_)):
            mine = self.codes_ == c
            self.thresholds_[c] = np.quantile(share[mine], quantile, method="lower")
            fails = share[mine] < self.thresholds_[c]
            search = None
            if 1 < mine.sum() < len(mine):
                search = NearestNeighbors(n_neighbors=1).fit(reference[mine])
                gap = search.kneighbors(reference[mine], n_neighbors=2)[0][:, 1]
                limit = np.quantile(gap, 1 - quantile, method="higher")
                # (a class whose real rows nearly all repeat another of its rows has no spacing to compare with)
                self.distance_limits_[c] = limit if limit > 0 else np.inf
                other = _other_class_distance(dist[mine], self.codes_[near[mine]], c)
                fails |= _distance_margin(gap, other, self.distance_limits_[c]) < 1.0
            self.class_searches_.append(search)
            self.real_fail_rates_[c] = fails.mean()

    def _design(self, values):
        """Standardised numbers (missing: 0) beside one indicator per level of each categorical column."""
        categorical = np.asarray(self.features_.categorical, dtype=bool)
        parts = [np.nan_to_num((values[:, ~categorical] - self.mean_) / self.scale_)]
        for j, column in zip(np.flatnonzero(categorical), np.array(self.features_.columns)[categorical]):
            codes = values[:, j]
            onehot = np.zeros((len(values), len(self.features_.categories[column])))
            known = np.flatnonzero(np.isfinite(codes))
            onehot[known, codes[known].astype(np.int64)] = 1.0
            parts.append(onehot)
        return np.concatenate(parts, axis=1)

    def assess(self, candidates, label):
        """``(passes, margin)`` of each candidate row of class ``label``: whether it passes, and how near it
        comes to passing — the lesser of its class share over the share needed (1 when none is) and, for a
        row nearer another class's real row than its own's, the greater of the distance allowed and that
        other distance over its class distance; a row passes when its margin reaches 1."""
        design = self._design(self.features_.transform(candidates))
        dist, near = self.neighbours_.kneighbors(design)
        c = self.classes_.get_loc(label)
        share = (self.codes_[near] == c).mean(axis=1)
        threshold, limit = self.thresholds_[c], self.distance_limits_[c]
        margin = share / threshold if threshold > 0 else np.ones(len(share))
        if np.isfinite(limit):
            own = self.class_searches_[c].kneighbors(design)[0][:, 0]
            margin = np.minimum(margin, _distance_margin(own, _other_class_distance(dist, self.codes_[near], c),
                                                         limit))
        return margin >= 1.0, margin

    def threshold(self, label):
        """The class share a row of class ``label`` needs to pass."""
        return float(self.thresholds_[self.classes_.get_loc(label)])

    def tolerance(self, label):
        """The share of a class's synthetic rows that may fail before they are replaced: twice that of its real
        rows (each left out of its own neighbours), or twice ``quantile`` if more — on a class of a handful of
        rows, none of which fails, a fresh row drawn like them would still fail often (beyond their largest
        distance, one time in the number of rows plus one)."""
        return 2.0 * max(float(self.real_fail_rates_[self.classes_.get_loc(label)]), self.quantile)

    def passes(self, candidates, label):
        """Boolean mask of the candidates of class ``label`` that pass the check."""
        return self.assess(candidates, label)[0]


def _other_class_distance(dist, codes, c):
    """Per row, the distance to its nearest neighbour not of class ``c`` among its listed neighbours (``dist``,
    ``codes``: (n, k), nearest first); where all of them are of ``c``, the farthest one's distance — a lower bound
    that serves :func:`_distance_margin` as well: the row's own class is then no further than it, so the row is
    not astray either way."""
    other = codes != c
    return np.where(other.any(axis=1), np.where(other, dist, np.inf).min(axis=1), dist[:, -1])


def _distance_margin(own, other, limit):
    """``max(limit, other) / own`` (inf where ``own`` is 0): below 1 for a row astray — further from its class's
    nearest real row (``own``) than ``limit`` and than the nearest real row of another class (``other``)."""
    with np.errstate(divide="ignore"):
        return np.where(own > 0, np.maximum(limit, other) / own, np.inf)


class OverSamplerMixin:
    """``fit_resample`` for an estimator with a class-conditional ``fit(X, y)`` / ``sample(n, y=...)``."""

    _sampling_type = "over-sampling"

    def fit_resample(self, X, y):
        """Fit on ``(X, y)``, then add synthetic rows of the classes ``sampling_strategy`` names.

        Parameters
        ----------
        X : DataFrame or ndarray of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (binary or multi-class).

        Returns
        -------
        X_resampled : DataFrame or ndarray
            The rows of ``X`` first, unchanged, then the synthetic ones; same
            container, columns and dtypes as ``X`` (a DataFrame gets a fresh
            RangeIndex, as imbalanced-learn's samplers do).
        y_resampled : Series or ndarray
            Labels, in the container of ``y``.
        """
        self._validate_params()
        with restore_on_failure(self):   # a failure leaves the previous fit (or none) as it was
            return self._fit_resample(X, y)

    def _fit_resample(self, X, y):
        if is_image_input(X):
            return self._resample_images(X, y)
        # a column constant (or all missing) in a training fold is no error for a resampler: its
        # synthetic rows hold that value, as RandomOverSampler's and SMOTE's do
        frame, schema = check_table(X, allow_constant=True)
        y_series, target_schema = check_target(y, len(frame))
        check_resampling_target(y_series)
        labels = y_series.to_numpy()
        strategy = check_sampling_strategy(self.sampling_strategy, labels, self._sampling_type)
        self._fit(X, y, allow_constant=True, resampling=True)
        self.sampling_strategy_ = strategy
        share = self.quality_filter if not isinstance(self.quality_filter, str) else None
        seed = int(self._sample_rng.integers(2**31))
        flt = PlausibilityFilter(frame, labels, random_state=seed) if share else None
        # "auto": the neighbourhood check (not under DP: it reads the real rows outside the budget)
        check = ClassNeighbourhoodCheck(frame, labels, random_state=seed) \
            if self.quality_filter == "auto" and self.epsilon is None else None
        frames, targets = [frame.reset_index(drop=True)], [labels]
        for label, n_new in self.sampling_strategy_.items():
            if n_new <= 0:
                continue
            if check is not None:
                new, new_labels = self._rows_passing(check, label, int(n_new))
            else:
                n_draw = int(np.ceil(n_new / (1 - share))) if share else int(n_new)
                new, new_labels = self._sample_table(n_draw, None, label, self._sample_rng, resampling=True)
            if flt is not None:   # keep the n_new rows the real-data classifier finds most plausible
                keep = flt.keep(new, label, int(n_new))
                new, new_labels = new.iloc[keep].reset_index(drop=True), new_labels[keep]
            frames.append(new)
            targets.append(new_labels)
        X_res = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return schema.wrap(X_res), target_schema.wrap(np.concatenate(targets))

    #: rounds of candidates :meth:`_rows_passing` draws (each twice the rows still missing) before it settles
    _CHECK_ROUNDS = 3

    def _rows_passing(self, check, label, n):
        """``n`` rows of class ``label``: the model's, unless more of them fail ``check`` than its tolerance
        (:meth:`ClassNeighbourhoodCheck.tolerance`) — then those that fail are replaced by candidates
        that pass, drawn in rounds; should the rounds leave some missing, the rejected candidates that come
        nearest to passing fill them."""
        kept, rejected, missing = [], [], n
        for draw in range(1 + self._CHECK_ROUNDS):   # the rows asked for, then rounds of replacements
            new, new_labels = self._sample_table(2 * missing if draw else n, None, label, self._sample_rng,
                                                 resampling=True)
            ok, margin = check.assess(new, label)
            if not draw and (~ok).mean() <= check.tolerance(label):   # as often as real rows would: they stand
                return new, new_labels
            take = np.flatnonzero(ok)[:missing]
            kept.append((new.iloc[take], new_labels[take]))
            rejected.append((new.iloc[~ok], new_labels[~ok], margin[~ok]))
            missing -= len(take)
            if not missing:
                break
        if missing:
            pool = pd.concat([r[0] for r in rejected], ignore_index=True)
            best = np.sort(np.argsort(-np.concatenate([r[2] for r in rejected]), kind="stable")[:missing])
            kept.append((pool.iloc[best], np.concatenate([r[1] for r in rejected])[best]))
        return pd.concat([k[0] for k in kept], ignore_index=True), np.concatenate([k[1] for k in kept])
