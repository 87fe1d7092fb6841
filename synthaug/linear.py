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
one-hot, so that a known level shifts every prediction by its own amount
(and a missing level is predicted by its indicators' regressions).
:meth:`~synthaug.imputation.ImputerMixin.impute` mixes its predictions with
the model's point estimate by weights fitted on held-out cells
(:func:`~synthaug.imputation.blend_weights`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["LinearImputer"]


class LinearImputer:
    """Bayesian-ridge chained regressions of the numeric columns on all the others.

    Parameters
    ----------
    numeric : list of str
        Columns predicted (and used as predictors), standardised.
    categorical : dict
        ``{column: levels}``: columns used as predictors, one-hot over
        ``levels`` (a missing cell: every one of its indicators missing), and
        predicted as those indicators' regressions (:meth:`predict`; the
        first level's is one minus the others', not a column of its own:
        the chained regressions would read one indicator off the rest).
    max_rows : int, default=20_000
        Fitted on at most this many rows (a fixed random subset).
    max_iter : int, default=10
        Rounds of the chained regressions.

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
    >>> numbers, levels = lin.predict(pd.DataFrame({"a": [1.0], "b": [np.nan], "g": [None]}))
    >>> round(float(numbers["b"].iloc[0]), 1), bool(levels["g"][0, 0] > levels["g"][0, 1])
    (2.0, True)
    """

    def __init__(self, numeric, categorical, *, max_rows=20_000, max_iter=10):
        self.numeric = list(numeric)
        self.categorical = dict(categorical)
        self.max_rows = max_rows
        self.max_iter = max_iter

    def _design(self, frame):
        parts = [((frame[self.numeric].astype(np.float64) - self.mean_) / self.scale_).to_numpy()]
        for col in self.categorical:   # the first level's indicator is left out: the others' sum gives it
            values = frame[col]
            onehot = np.equal.outer(values.to_numpy(dtype=object), self.levels_[col][1:].to_numpy(dtype=object))
            parts.append(np.where(values.isna().to_numpy()[:, None], np.nan, onehot.astype(np.float64)))
        return np.concatenate(parts, axis=1)

    def fit(self, frame):
        """Fit on ``frame`` (a DataFrame holding the columns; NaN where missing); returns self."""
        from sklearn.experimental import enable_iterative_imputer  # noqa: F401  (makes it importable)
        from sklearn.impute import IterativeImputer

        if len(frame) > self.max_rows:   # a fixed subset, as the Gaussian residual's
            keep = np.sort(np.random.default_rng(0).choice(len(frame), self.max_rows, replace=False))
            frame = frame.iloc[keep]
        numbers = frame[self.numeric].astype(np.float64)
        self.mean_ = numbers.mean().fillna(0.0)
        self.scale_ = numbers.std().fillna(1.0).replace(0.0, 1.0)
        self.levels_ = {c: pd.Index(list(levels), dtype=object) for c, levels in self.categorical.items()}
        self.imputer_ = IterativeImputer(max_iter=self.max_iter, random_state=0, keep_empty_features=True)
        self.imputer_.fit(self._design(frame))
        return self

    def predict(self, frame):
        """``(numbers, levels)``: the predictions for ``frame``'s cells, observed cells kept.

        ``numbers``: every numeric column, its missing cells predicted (a
        float DataFrame on ``frame``'s index); ``levels``: ``{column: (n,
        L)}`` each categorical column's level probabilities — its indicators'
        regressions (the first level's one minus the others') clipped at 0
        and normalised (uniform where all are 0), one-hot where the cell is
        observed.
        """
        filled = self.imputer_.transform(self._design(frame))
        at = len(self.numeric)
        numbers = pd.DataFrame(filled[:, :at] * self.scale_.to_numpy() + self.mean_.to_numpy(), columns=self.numeric,
                               index=frame.index)
        levels = {}
        for col in self.categorical:
            width = len(self.levels_[col])
            rest = filled[:, at: at + width - 1]
            at += width - 1
            p = np.clip(np.concatenate([1.0 - rest.sum(axis=1, keepdims=True), rest], axis=1), 0.0, None)
            total = p.sum(axis=1, keepdims=True)
            levels[col] = np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / max(width, 1))
        return numbers, levels
