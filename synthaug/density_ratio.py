"""How much likelier the real table makes a row than the model does, estimated by a classifier.

A classifier that tells real rows from the model's own rows estimates, by its
odds, the density ratio ``r(x) = p_real(x) / p_model(x)`` (the classifier
two-sample view of Grover et al., 2019, "Bias correction of learned
generative models using likelihood-free importance weighting"). Rows drawn
from the model and resampled in proportion to ``r`` follow the real
distribution more closely: :func:`importance_resample` keeps one of ``k``
candidates per requested row that way.

:class:`TableFeatures` is the classifier's view of a frame, shared with
:class:`~synthaug.resampling.PlausibilityFilter`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

__all__ = ["DensityRatio", "TableFeatures", "importance_resample"]

# HistGradientBoosting takes at most 255 categories (one is kept for missing values)
_MAX_LEVELS = 254


def _is_categorical(series):
    return not pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_datetime64_any_dtype(series) \
        or pd.api.types.is_bool_dtype(series)


class TableFeatures:
    """A frame as the float matrix a ``HistGradientBoostingClassifier`` reads, with native categories.

    Categorical columns become codes of their :data:`_MAX_LEVELS` most
    frequent levels in the frame given to the constructor (the others, and
    missing values, NaN); datetimes their int64 nanoseconds; other columns
    their numeric values (NaN where missing). A column missing in every row
    of that frame tells nothing and is left out (the classifier cannot bin
    it); with none left, one constant feature stands in.

    Examples
    --------
    >>> import pandas as pd
    >>> features = TableFeatures(pd.DataFrame({"a": [1.0, 2.0], "c": ["x", "y"]}))
    >>> features.transform(pd.DataFrame({"a": [3.0], "c": ["y"]})).tolist(), features.categorical
    ([[3.0, 1.0]], [False, True])
    """

    def __init__(self, frame):
        self.columns = [c for c in frame.columns if frame[c].notna().any()]
        self.categories = {c: pd.Index(frame[c].value_counts(dropna=True).index[:_MAX_LEVELS])
                           for c in frame.columns if _is_categorical(frame[c])}
        self.categorical = [c in self.categories for c in self.columns]

    def transform(self, frame):
        """``(len(frame), n_columns)`` float64 features of ``frame`` (columns by name)."""
        cols = []
        for c in self.columns:
            values = frame[c]
            if c in self.categories:
                codes = self.categories[c].get_indexer(values).astype(float)
                codes[codes < 0] = np.nan
                cols.append(codes)
            elif pd.api.types.is_datetime64_any_dtype(values):
                if getattr(values.dt, "tz", None) is not None:
                    values = values.dt.tz_convert("UTC").dt.tz_localize(None)
                cols.append(values.astype("int64").where(values.notna()).astype(float).to_numpy())
            else:
                cols.append(pd.to_numeric(values, errors="coerce").astype(float).to_numpy())
        return np.column_stack(cols) if cols else np.zeros((len(frame), 1))

    def classifier(self, random_state, **params):
        """A ``HistGradientBoostingClassifier`` that reads these features' categories natively."""
        return HistGradientBoostingClassifier(categorical_features=self.categorical if any(self.categorical)
                                              else None, random_state=random_state, **params)


class DensityRatio:
    """``p_real(x) / p_model(x)`` of table rows, from a classifier of real against generated rows.

    A ``HistGradientBoostingClassifier`` with small trees (15 leaves of at
    least 20 rows, 100 iterations: a smooth ratio, not one that singles out
    training rows) is fitted on the real rows against as many generated
    ones; its odds, times the ratio of the two counts, estimate the density
    ratio. :meth:`weights` caps each at ``clip`` times their mean over the
    rows weighed, so that a few rows the classifier finds very real do not
    take every draw.

    Parameters
    ----------
    real, generated : DataFrame
        Same columns.
    clip : float, default=20.0
    random_state : int or None

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> real = pd.DataFrame({"x": rng.normal(0, 1, 2000)})
    >>> generated = pd.DataFrame({"x": rng.normal(0, 2, 2000)})   # too wide
    >>> ratio = DensityRatio(real, generated, random_state=0)
    >>> w = ratio.weights(pd.DataFrame({"x": [0.0, 4.0]}))
    >>> bool(w[0] > 5 * w[1])
    True
    """

    def __init__(self, real, generated, *, clip=20.0, random_state=None):
        self.features_ = TableFeatures(real)
        self.clip = clip
        X = np.vstack([self.features_.transform(real), self.features_.transform(generated)])
        y = np.r_[np.ones(len(real)), np.zeros(len(generated))]
        self.prior_odds_ = len(real) / len(generated)
        self.classifier_ = self.features_.classifier(random_state, max_iter=100, max_leaf_nodes=15,
                                                     min_samples_leaf=20, early_stopping=True,
                                                     validation_fraction=0.2, n_iter_no_change=10).fit(X, y)

    def weights(self, frame):
        """The estimated density ratio of each row of ``frame``, capped at ``clip`` times their mean."""
        p = self.classifier_.predict_proba(self.features_.transform(frame))[:, 1]
        w = p / np.maximum(1.0 - p, 1e-12) / self.prior_odds_
        return np.minimum(w, self.clip * w.mean()) if len(w) else w


def importance_resample(weights, k, rng):
    """Positions ``(n,)`` of one of ``k`` candidates per row, drawn in proportion to ``weights``.

    ``weights`` (k·n,) holds candidate j of row i at j·n + i; each row's
    pick is a draw from its ``k`` candidates with probability proportional
    to their weights (the Gumbel-max trick; a row whose candidates all
    weigh 0 keeps a uniform draw).

    Examples
    --------
    >>> import numpy as np
    >>> importance_resample(np.array([0.0, 1.0, 1.0, 0.0]), 2, np.random.default_rng(0)).tolist()
    [2, 1]
    """
    w = np.asarray(weights, dtype=np.float64).reshape(k, -1)
    n = w.shape[1]
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    dead = ~np.isfinite(log_w).any(axis=0)      # every candidate at weight 0: uniform
    log_w[:, dead] = 0.0
    keys = log_w + rng.gumbel(size=w.shape)
    return keys.argmax(axis=0) * n + np.arange(n)
