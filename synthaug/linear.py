"""A linear imputer of a table's numeric cells, the counterpart the point estimate is blended with.

A generative model's point estimate of a missing number is the mean of its
draws given the row's observed cells: the network's conditional mean. On a
table of a few hundred or thousand rows that mean carries the network's own
estimation noise, and where a column is close to a linear function of the
others — in the data's own units, not in the normal scores the models work
in — a linear regression fitted on the same rows predicts it with less
variance. :class:`LinearImputer` is that regression: scikit-learn's
:class:`~sklearn.impute.IterativeImputer` (Bayesian ridge, chained over the
columns) on the numeric columns standardised and the categorical ones
one-hot, so that a known level shifts every prediction by its own amount.
:meth:`~synthaug.imputation.ImputerMixin.impute` mixes its predictions with
the model's point estimate by weights fitted on held-out cells
(:func:`~synthaug.blending.blend_weights`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

__all__ = ["LinearImputer", "LevelRegression", "OneHotDesign"]

# below this share of missing cells in the training design, one round of regressions is fitted
_FEW_MISSING = 0.01


class OneHotDesign:
    """The design both reference imputers read: numeric columns standardised, categorical ones one-hot.

    A base for :class:`LinearImputer` and
    :class:`~synthaug.neighbours.NeighbourImputer`: ``numeric`` (list of
    str) and ``categorical`` (``{column: levels}``) name the columns;
    :meth:`_fit_design` learns the numeric columns' ``mean_`` / ``scale_``
    and the ``levels_`` (an Index per column); :meth:`_design` is a float
    array, one row per row of a frame, the standardised numbers then each
    categorical column's indicators over its levels in order, all missing
    where the cell is; :meth:`_numbers` turns standardised numbers back into
    a DataFrame. ``_drop_first`` leaves out each first level's indicator
    (the others' sum gives it).
    """

    _drop_first = False

    def __init__(self, numeric, categorical):
        self.numeric = list(numeric)
        self.categorical = dict(categorical)

    def _fit_design(self, frame):
        numbers = frame[self.numeric].astype(np.float64)
        self.mean_ = numbers.mean().fillna(0.0)
        self.scale_ = numbers.std().fillna(1.0).replace(0.0, 1.0)
        self.levels_ = {c: pd.Index(list(levels), dtype=object) for c, levels in self.categorical.items()}

    def _design(self, frame):
        parts = [((frame[self.numeric].astype(np.float64) - self.mean_) / self.scale_).to_numpy()]
        skip = 1 if self._drop_first else 0
        for col, known in self.levels_.items():
            values = frame[col]
            # (a missing cell compared as None: pandas' NA has no truth value)
            onehot = np.equal.outer(values.to_numpy(dtype=object, na_value=None), known[skip:].to_numpy(dtype=object))
            parts.append(np.where(values.isna().to_numpy()[:, None], np.nan, onehot.astype(np.float64)))
        return np.concatenate(parts, axis=1)

    def _level_codes(self, frame, col):
        """Each row's position of its level in ``levels_[col]`` (-1 where ``frame`` misses the cell)."""
        return self.levels_[col].get_indexer(frame[col].to_numpy(dtype=object, na_value=None))

    def _block(self, col):
        """The positions of categorical column ``col``'s indicators in the design."""
        start, skip = len(self.numeric), 1 if self._drop_first else 0
        for other, known in self.levels_.items():
            if other == col:
                return np.arange(start, start + len(known) - skip)
            start += len(known) - skip
        raise KeyError(col)

    def _numbers(self, standardised, index):
        """The numeric columns ``standardised`` (n, len(numeric)) in the data's units, a DataFrame on ``index``."""
        return pd.DataFrame(standardised * self.scale_.to_numpy() + self.mean_.to_numpy(), columns=self.numeric,
                            index=index)


class LinearImputer(OneHotDesign):
    """Bayesian-ridge chained regressions of the numeric columns on all the others.

    Parameters
    ----------
    numeric : list of str
        Columns predicted (and used as predictors), standardised.
    categorical : dict
        ``{column: levels}``: columns used as predictors, one-hot over
        ``levels`` but the first (a missing cell: every one of its indicators
        missing, filled by the chained regressions; with every level's
        indicator, one would be read off the rest).
    max_rows : int, default=5_000
        Fitted on at most this many rows (a fixed random subset: a few
        hundred coefficients need far fewer).
    max_iter : int, default=5
        Rounds of the chained regressions (each fits one per column of the
        design). The rounds after the first only refine the fill of the
        training rows' own missing cells: with fewer than 1 % of them
        missing, one round is fitted.
    max_predictors : int, default=50
        Each regression reads at most this many of the other indicator and
        numeric columns (``IterativeImputer``'s ``n_nearest_features``, drawn
        by their correlation with it) when there are more, which bounds a
        wide table's fit.

    Attributes
    ----------
    levels_ : dict
        The levels of each categorical column (an Index), in the order of its indicators.
    mean_, scale_ : Series
        The numeric columns' means and standard deviations.
    imputer_ : IterativeImputer

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=300)
    >>> df = pd.DataFrame({"a": a, "b": 2 * a + 0.01 * rng.normal(size=300), "g": np.where(a > 0, "x", "y")})
    >>> lin = LinearImputer(["a", "b"], {"g": ["x", "y"]}).fit(df)
    >>> round(float(lin.predict(pd.DataFrame({"a": [1.0], "b": [np.nan], "g": ["x"]}))["b"].iloc[0]), 1)
    2.0
    """

    _drop_first = True   # with every level's indicator, the chained regressions would read one off the rest

    def __init__(self, numeric, categorical, *, max_rows=5_000, max_iter=5, max_predictors=50):
        super().__init__(numeric, categorical)
        self.max_rows = max_rows
        self.max_iter = max_iter
        self.max_predictors = max_predictors

    def fit(self, frame):
        """Fit on ``frame`` (a DataFrame holding the columns; NaN where missing); returns self."""
        from sklearn.experimental import enable_iterative_imputer  # noqa: F401  (makes it importable)
        from sklearn.impute import IterativeImputer

        if len(frame) > self.max_rows:   # a fixed subset, as the Gaussian residual's
            keep = np.sort(np.random.default_rng(0).choice(len(frame), self.max_rows, replace=False))
            frame = frame.iloc[keep]
        self._fit_design(frame)
        design = self._design(frame)
        nearest = self.max_predictors if design.shape[1] - 1 > self.max_predictors else None
        rounds = self.max_iter if np.isnan(design).mean() >= _FEW_MISSING else min(self.max_iter, 1)
        self.imputer_ = IterativeImputer(max_iter=rounds, n_nearest_features=nearest, random_state=0,
                                         keep_empty_features=True)
        with warnings.catch_warnings():   # the rounds are capped by design: not reaching tolerance is expected
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.imputer_.fit(design)
        return self

    def predict(self, frame):
        """Every numeric column of ``frame`` with its missing cells predicted (a float DataFrame, observed kept)."""
        return self._numbers(self.complete(frame)[:, : len(self.numeric)], frame.index)

    def complete(self, frame):
        """The design of ``frame`` (numbers standardised, then the indicators) with its missing cells filled by the
        chained regressions."""
        return self.imputer_.transform(self._design(frame))


class LevelRegression:
    """A multinomial logistic regression of each categorical column asked for on the rest of the row, as a
    :class:`LinearImputer` completes it.

    The classical classifier of a level from the other columns, and unlike
    the Gaussian residual's discriminant (a linear regression of the
    level's indicators) one whose probabilities are fitted by likelihood:
    where a class is close to linearly separable in the other columns (a
    silhouette's class in its shape measures), it predicts the level better
    than the trees and the neighbours, which split or average the same
    columns. :meth:`~synthaug.imputation.ImputerMixin.impute` pools its
    probabilities with the model's (:func:`~synthaug.blending.log_linear_pool`).

    Parameters
    ----------
    imputer : LinearImputer
        Fitted; its :meth:`~LinearImputer.complete` is what the regressions
        read (the column's own indicators left out), so a row's missing
        cells are filled by the chained regressions rather than by a mean.
    columns : list of str
        Categorical columns of ``imputer`` given a regression.
    C : float, default=1.0
        Inverse strength of the ridge penalty (scikit-learn's).
    max_rows : int, default=5_000
        Each regression is fitted on at most this many of the rows that have
        its column (drawn at random).

    Attributes
    ----------
    classifiers_ : dict
        Column → fitted :class:`~sklearn.linear_model.LogisticRegression`
        (of the level's position in ``imputer.levels_[col]``; none where the
        rows that have the column hold fewer than two levels).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=300)
    >>> df = pd.DataFrame({"a": a, "b": a + rng.normal(size=300), "g": np.where(a > 0, "x", "y")})
    >>> lin = LinearImputer(["a", "b"], {"g": ["x", "y"]}).fit(df)
    >>> levels = LevelRegression(lin, ["g"]).fit(df, np.random.default_rng(0))
    >>> levels.predict_proba(pd.DataFrame({"a": [1.0, -1.0], "b": [1.0, -1.0], "g": [None, None]}))["g"].argmax(1)
    array([0, 1])
    """

    def __init__(self, imputer, columns, *, C=1.0, max_rows=5_000):
        self.imputer = imputer
        self.columns = list(columns)
        self.C = C
        self.max_rows = max_rows

    def fit(self, frame, rng, *, design=None):
        """Fit a regression per column on the rows of ``frame`` that have it (``rng`` draws them where there are
        more than ``max_rows``); returns self. ``design``: ``imputer.complete(frame)``, if the caller has it."""
        from sklearn.linear_model import LogisticRegression

        design = self.imputer.complete(frame) if design is None else design
        self.classifiers_ = {}
        for col in self.columns:
            y = self.imputer._level_codes(frame, col)
            rows = np.flatnonzero(y >= 0)
            if len(rows) > self.max_rows:
                rows = np.sort(rng.choice(rows, self.max_rows, replace=False))
            if len(np.unique(y[rows])) < 2:
                continue
            with warnings.catch_warnings():   # a capped solver on a nearly separable class: close enough
                warnings.simplefilter("ignore", ConvergenceWarning)
                self.classifiers_[col] = LogisticRegression(C=self.C, max_iter=500).fit(
                    self._features(design[rows], col), y[rows])
        return self

    def predict_proba(self, frame, columns=None, *, design=None):
        """``{column: (len(frame), len(levels))}``: probabilities of each column's levels (in the imputer's
        ``levels_[column]`` order) given each row's other cells, for ``columns`` (default: every column asked
        for) that have a regression; a level its rows lacked has probability 0. The rows are completed once for
        every column (``design``: ``imputer.complete(frame)``, if the caller has it)."""
        columns = [c for c in (self.columns if columns is None else columns) if c in self.classifiers_]
        if design is None and columns and len(frame):
            design = self.imputer.complete(frame)
        design = design if len(frame) else None
        out = {}
        for col in columns:
            classifier = self.classifiers_[col]
            out[col] = np.zeros((len(frame), len(self.imputer.levels_[col])))
            if design is not None:
                out[col][:, classifier.classes_] = classifier.predict_proba(self._features(design, col))
        return out

    def _features(self, design, col):
        return np.delete(design, self.imputer._block(col), axis=1)
