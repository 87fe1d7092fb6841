"""One round of MissForest's regressions and classifications, the point estimate's forests.

A column that is a non-linear function of the others (a silhouette's
compactness of its area and perimeter, a wine's density of its sugar and
alcohol) is predicted better by an ensemble of trees than by a linear
regression, and, on a few hundred or thousand rows, often better than the
network's conditional mean. MissForest (Stekhoven & Bühlmann 2012) fits such
forests column by column, in rounds, from a mean fill. :class:`ForestImputer`
is one round of it without the fill: for each numeric column, scikit-learn's
:class:`~sklearn.ensemble.ExtraTreesRegressor` on the rows that have it, reading
the other columns (numeric standardised, categorical one-hot) with their missing
cells left missing — the trees route them — rather than filled by a
regression, whose fill of a non-linear column would mislead every tree that
splits on it. Like the neighbours, it is fitted on the table being imputed, so
a fitted model keeps none of its rows.
:meth:`~synthaug.imputation.ImputerMixin.impute` mixes its predictions with
the model's, the linear imputer's and the neighbours' by weights fitted on
held-out cells (:func:`~synthaug.blending.blend_weights`). A categorical column
asked for gets an :class:`~sklearn.ensemble.ExtraTreesClassifier` the same way,
whose level probabilities are pooled with the model's and the discriminant's
(:func:`~synthaug.blending.log_linear_pool`).
"""

from __future__ import annotations

import numpy as np

from .linear import OneHotDesign

__all__ = ["ForestImputer"]


class ForestImputer(OneHotDesign):
    """An extremely randomised forest per column (numeric, or categorical asked for), on the other columns with
    their missing cells.

    Parameters
    ----------
    numeric : list of str
        Columns predicted (and read), standardised.
    categorical : dict
        ``{column: levels}``: columns read, one-hot over ``levels``.
    n_estimators : int, default=50
    min_samples_leaf : int, default=2
    max_rows : int, default=5_000
        The forests are fitted on at most this many rows of the frame
        (drawn at random), each on those that have its column: their cost
        grows with the rows, their accuracy hardly beyond a few thousand.

    Attributes
    ----------
    forests_ : dict
        Column → fitted :class:`~sklearn.ensemble.ExtraTreesRegressor`
        (a column with fewer than ``2 * min_samples_leaf`` known cells, or
        no other column to read, has none: its mean stands in).
    classifiers_, frequencies_ : dict
        Categorical column asked for → fitted
        :class:`~sklearn.ensemble.ExtraTreesClassifier` (of the level's
        position in ``levels_[col]``), and its levels' shares of the rows.
    mean_, scale_ : Series
        The numeric columns' means and standard deviations.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from synthaug.linear import LinearImputer
    >>> rng = np.random.default_rng(0)
    >>> a = rng.uniform(-2, 2, 400)
    >>> df = pd.DataFrame({"a": a, "b": a ** 2})                 # not linear in a
    >>> lin = LinearImputer(["a", "b"], {}).fit(df)
    >>> forest = ForestImputer(["a", "b"], {}).fit(df, np.random.default_rng(0))
    >>> query = pd.DataFrame({"a": [1.5], "b": [np.nan]})
    >>> round(float(forest.predict(query)["b"].iloc[0]), 1), round(float(lin.predict(query)["b"].iloc[0]), 1)
    (2.2, 1.5)
    """

    def __init__(self, numeric, categorical, *, n_estimators=50, min_samples_leaf=2, max_rows=5_000):
        super().__init__(numeric, categorical)
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_rows = max_rows

    def fit(self, frame, rng, *, features=None, columns=None):
        """Fit a forest per numeric column on the rows of ``frame`` that have it; returns self.

        ``rng`` draws the rows (when there are more than ``max_rows``) and
        seeds the forests. ``features``, a completed copy of ``frame`` (the
        same rows, every cell filled), is read instead of ``frame``'s own
        cells — one more round of MissForest, from that fill; ``columns``
        (default: every numeric column) are the ones given forests — a
        categorical column among them gets a classifier (:meth:`predict_proba`).
        """
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        if len(frame) > self.max_rows:
            keep = np.sort(rng.choice(len(frame), self.max_rows, replace=False))
            frame = frame.iloc[keep]
            features = None if features is None else features.iloc[keep]
        reading = frame if features is None else features
        self._fit_design(reading)
        design = self._design(reading)
        self.forests_ = {}
        for j, col in enumerate(self.numeric):
            if columns is not None and col not in columns:
                continue
            y = frame[col].to_numpy(dtype=np.float64, na_value=np.nan)
            rows = np.flatnonzero(~np.isnan(y))
            others = np.delete(design[rows], j, axis=1)
            if len(rows) < 2 * self.min_samples_leaf or not others.shape[1]:
                continue
            self.forests_[col] = self._fitted(ExtraTreesRegressor, others, y[rows], rng)
        self.classifiers_, self.frequencies_ = {}, {}
        for col in self.levels_:
            if columns is None or col not in columns:
                continue
            y = self._level_codes(frame, col)
            rows = np.flatnonzero(y >= 0)
            others = np.delete(design[rows], self._block(col), axis=1)
            if len(rows) < 2 * self.min_samples_leaf or not others.shape[1]:
                continue
            self.classifiers_[col] = self._fitted(ExtraTreesClassifier, others, y[rows], rng)
            self.frequencies_[col] = np.bincount(y[rows], minlength=len(self.levels_[col])) / len(rows)
        return self

    def _fitted(self, forest_class, X, y, rng):
        """A ``forest_class`` (extremely randomised trees) of this imputer's size, seeded by ``rng``, fitted on
        ``X``, ``y``."""
        forest = forest_class(self.n_estimators, min_samples_leaf=self.min_samples_leaf, n_jobs=-1,
                              random_state=int(rng.integers(2**31)))
        # predictions come a chunk of rows at a time: one thread spares a thread pool's start per call
        return forest.fit(X, y).set_params(n_jobs=1)

    def predict(self, frame, *, features=None):
        """Every numeric column of ``frame`` with its missing cells predicted (a float DataFrame, observed kept).

        ``features``: as in :meth:`fit` (the forests read what they were fitted on).
        """
        own = self._design(frame)
        design = own if features is None else self._design(features)
        out = self._numbers(np.nan_to_num(own[:, : len(self.numeric)]), frame.index)   # (a hole: the mean)
        for j, col in enumerate(self.numeric):
            holes = frame[col].isna().to_numpy()
            if holes.any() and col in self.forests_:
                out.loc[holes, col] = self.forests_[col].predict(np.delete(design[holes], j, axis=1))
        return out

    def predict_proba(self, frame, col):
        """(len(frame), len(levels)) probabilities of categorical column ``col``'s levels (in ``levels_[col]``'s
        order) given each row's other cells, by its classifier; None if it has none.

        Each tree's vote is a leaf's share of the levels; the forest's mean is
        smoothed towards the levels' frequencies by one tree's worth, so a level
        no tree votes for keeps a small probability.
        """
        forest = self.classifiers_.get(col)
        if forest is None:
            return None
        n_levels = len(self.levels_[col])
        proba = np.zeros((len(frame), n_levels))
        if len(frame):
            proba[:, forest.classes_] = forest.predict_proba(np.delete(self._design(frame), self._block(col), axis=1))
        trees = len(forest.estimators_)
        return (trees * proba + self.frequencies_[col]) / (trees + 1)
