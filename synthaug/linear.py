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

__all__ = ["LinearImputer", "OneHotDesign"]

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
        return self._numbers(self.imputer_.transform(self._design(frame))[:, : len(self.numeric)], frame.index)
