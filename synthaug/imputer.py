"""``GenerativeImputer``: a fitted generative model as a scikit-learn imputer."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context, clone
from sklearn.utils.validation import check_is_fitted, check_random_state

from ._validation import check_table

__all__ = ["GenerativeImputer"]


def _is_na_marker(value):
    try:
        return value is None or value is pd.NA or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


class GenerativeImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Impute missing cells with a generative model, as a scikit-learn transformer.

    ``fit`` trains a clone of ``estimator`` on the observed cells of ``X``;
    ``transform`` fills every missing cell from the model's distribution given
    the row's observed cells (:meth:`~synthaug.DiffusionSampler.impute`):
    the point estimate of that distribution by default, one draw from it
    with ``sample_posterior=True``.
    Observed cells are returned unchanged. A fitted imputer is deterministic:
    the same input gives the same output (seeded by ``random_state``).

    Parameters
    ----------
    estimator : DiffusionSampler or GANSampler, default=None
        The model (cloned at fit); None means ``DiffusionSampler()``.
    missing_values : scalar, default=np.nan
        What marks a missing cell: ``np.nan``, ``None``, ``pd.NA`` (all of
        which also catch the others and NaT), or a sentinel such as ``-1`` or
        ``"?"``.
    sample_posterior : bool, default=False
        False fills each cell with the point estimate (numeric: the mean of
        the draws, blended with a regression's, the nearest rows' and the
        forests'; otherwise the most probable level), the smallest expected
        error per cell, as
        scikit-learn's ``IterativeImputer`` does by default. True fills it
        with one draw, which keeps each column's spread (for multiple
        imputation, call ``estimator_.impute(X, n_draws=k)``, whose numeric
        draws are calibrated on held-out cells, or fit several imputers with
        different ``random_state``).
    random_state : int, RandomState or None, default=None
        Seeds the imputation draws (the estimator keeps its own
        ``random_state`` for training).

    Attributes
    ----------
    estimator_ : fitted estimator
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` is a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from synthaug import DiffusionSampler, GenerativeImputer
    >>> X = np.random.default_rng(0).normal(size=(60, 3))
    >>> X[::7, 1] = np.nan
    >>> imp = GenerativeImputer(DiffusionSampler(max_steps=20, verbose=False, random_state=0), random_state=0)
    >>> out = imp.fit_transform(X)
    >>> bool(np.isnan(out).any()), bool(np.array_equal(out[:, 0], X[:, 0]))
    (False, True)
    """

    _parameter_constraints: dict = {
        "estimator": [object, None],
        "missing_values": "no_validation",
        "sample_posterior": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, missing_values=np.nan, sample_posterior=False, random_state=None):
        self.estimator = estimator
        self.missing_values = missing_values
        self.sample_posterior = sample_posterior
        self.random_state = random_state

    def _to_nan(self, X):
        """``X`` with the ``missing_values`` sentinel replaced by NaN (a copy; ``X`` is untouched).

        A list becomes an ndarray: a transformer returns arrays, as scikit-learn's do.
        """
        if isinstance(X, list):
            X = np.asarray(X)
        if _is_na_marker(self.missing_values):
            return X
        if isinstance(X, pd.DataFrame):
            return X.mask(X == self.missing_values)
        arr = np.asarray(X)
        if arr.dtype.kind in "iub":
            arr = arr.astype(float)
        return np.where(arr == self.missing_values, np.nan, arr)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit a clone of ``estimator`` on ``X`` (missing cells allowed); ``y`` is ignored."""
        from .samplers import DiffusionSampler

        X = self._to_nan(X)
        frame, schema = check_table(X)
        self.estimator_ = clone(self.estimator if self.estimator is not None else DiffusionSampler())
        self.estimator_.fit(X)
        self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        self._seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        return self

    def transform(self, X):
        """Return ``X`` with every missing cell filled; same container, columns and dtypes."""
        check_is_fitted(self, "estimator_")
        original = X
        X = self._to_nan(X)
        n_features = check_table(X, min_rows=1, allow_constant=True)[0].shape[1]
        if n_features != self.n_features_in_:
            raise ValueError(f"X has {n_features} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input.")
        names = getattr(self, "feature_names_in_", None)
        if isinstance(X, pd.DataFrame) and names is not None and list(map(str, X.columns)) != list(map(str, names)):
            # a transformer's output columns are its input's, by position (get_feature_names_out,
            # set_output): another order would put one column's values under another's name
            raise ValueError(f"The feature names should match those that were passed during fit, in the same "
                             f"order: got {list(X.columns)}, expected {list(names)}.")
        if self.sample_posterior:
            filled = self.estimator_.impute(X, n_draws=1, random_state=self._seed)[0]
        else:
            filled = self.estimator_.impute(X, random_state=self._seed)
        return self._with_original_dtypes(filled, original)

    def _with_original_dtypes(self, filled, original):
        """``filled`` with the integer (or boolean) dtypes a sentinel's NaN turned to float given back."""
        if _is_na_marker(self.missing_values):
            return filled
        if isinstance(filled, pd.DataFrame) and isinstance(original, pd.DataFrame):
            for col, dtype in original.dtypes.items():
                if dtype.kind in "iub" and filled[col].dtype != dtype:
                    filled[col] = filled[col].astype(dtype)
            return filled
        dtype = np.asarray(original).dtype
        return filled.astype(dtype) if isinstance(filled, np.ndarray) and dtype.kind in "iub" else filled

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags
