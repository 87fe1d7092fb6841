"""Input validation shared by every public entry point.

Each check raises one ``TypeError``/``ValueError`` that names the argument or
column at fault. Nothing here mutates the caller's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["TableSchema", "check_table", "check_target", "check_n_samples", "check_same_columns", "column_mismatch"]


@dataclass
class TableSchema:
    """How a table arrived, so results go back in the same container."""

    container: str            # "frame", "array" or "list"
    columns: list
    dtypes: dict
    array_dtype: object = None
    columns_name: object = None   # a DataFrame's ``columns.name``, given back

    def wrap(self, frame: pd.DataFrame):
        if self.container == "frame" and self.columns_name is not None:
            frame = frame.rename_axis(columns=self.columns_name)
        if self.container == "array":
            return frame.to_numpy(dtype=self.array_dtype)
        if self.container == "list":
            return frame.to_numpy(dtype=self.array_dtype).tolist()
        return frame


@dataclass
class TargetSchema:
    container: str            # "series", "frame" (one column), "array", "list" or "indicator" (one-vs-all)
    name: object
    dtype: object
    classes: object = None    # the columns' classes of an indicator target

    def wrap(self, values):
        if self.container == "series":
            return pd.Series(values, name=self.name).astype(self.dtype)
        if self.container == "frame":
            return pd.DataFrame({self.name: pd.Series(values).astype(self.dtype)})
        if self.container == "indicator":
            values = np.asarray(values)
            return (values[:, None] == np.asarray(self.classes)[None]).astype(self.dtype)
        out = np.asarray(values).astype(self.dtype)
        return out.tolist() if self.container == "list" else out


def _array_to_frame(X):
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D (rows × columns) for a table, or (N, C, H, W) / (N, H, W) for images; "
                         f"got an array of shape {arr.shape}. Reshape your data, e.g. X.reshape(-1, 1) for a "
                         "single column.")
    columns = [f"x{i}" for i in range(arr.shape[1])]
    frame = pd.DataFrame(arr, columns=columns)
    if arr.dtype == object:
        frame = frame.infer_objects()
    return frame, TableSchema("array", columns, frame.dtypes.to_dict(), arr.dtype)


def check_table(X, *, name="X", min_rows=2, allow_constant=False):
    """Validate a table and return ``(frame, schema)``.

    ``frame`` is a DataFrame view/copy of ``X`` that callers may read but must
    not modify. ``allow_constant`` accepts constant and entirely missing
    columns (a batch to impute may hold one value in a column, or none — a
    fitted model fills that column from the others; a table to learn from
    may not).
    """
    if sp.issparse(X):
        raise TypeError(f"{name} is a sparse matrix; sparse input is not supported, pass a dense array or DataFrame.")
    if isinstance(X, pd.Series):
        raise ValueError(f"{name} is a pandas Series; a table needs columns: pass X.to_frame() for a single "
                         "column.")
    if isinstance(X, pd.DataFrame):
        if isinstance(X.columns, pd.MultiIndex):
            raise ValueError(f"{name} has MultiIndex columns; flatten them first (e.g. X.columns = "
                             "['_'.join(map(str, c)) for c in X.columns]).")
        frame = X
        schema = TableSchema("frame", list(X.columns), X.dtypes.to_dict(), columns_name=X.columns.name)
    elif isinstance(X, (np.ndarray, list)) or hasattr(X, "__array__"):
        frame, schema = _array_to_frame(X)
        if isinstance(X, list):
            schema.container = "list"
    else:
        raise TypeError(f"{name} must be a pandas DataFrame or a 2-D numpy array, got {type(X).__name__}.")
    if frame.shape[1] == 0:
        raise ValueError(f"{name} has no columns: 0 feature(s) (shape={frame.shape}) while a minimum of 1 "
                         "is required.")
    if len(frame) == 0:
        raise ValueError(f"{name} is empty (0 rows).")
    if len(frame) < min_rows:
        raise ValueError(f"{name} has {len(frame)} row(s); at least {min_rows} are needed to learn a distribution.")
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()][0]
        raise ValueError(f"{name} has duplicate column name {dup!r}.")
    for col in frame.columns:
        _check_column(frame[col], name, allow_constant)
    return frame, schema


def _check_column(series, name, allow_constant=False):
    col = series.name
    if pd.api.types.is_complex_dtype(series.dtype):
        raise ValueError(f"Complex data not supported: column {col!r} of {name} is complex.")
    if pd.api.types.is_object_dtype(series.dtype):
        try:
            uniq = pd.unique(series)
        except TypeError:
            raise TypeError(f"Column {col!r} of {name} holds unhashable values (e.g. lists or dicts).") from None
        non_na = [v for v in uniq if not _isna_scalar(v)]
        if any(isinstance(v, float) and np.isinf(v) for v in non_na):
            raise ValueError(f"Column {col!r} of {name} contains infinite values.")
    elif pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(values).any():
            raise ValueError(f"Column {col!r} of {name} contains infinite values.")
    n_missing = int(series.isna().sum())
    if n_missing == len(series) and not allow_constant:
        raise ValueError(f"Column {col!r} of {name} is entirely missing; there is nothing to learn it from: "
                         "drop it.")
    n_distinct = series.nunique(dropna=True) + (1 if n_missing else 0)
    if n_distinct < 2 and not allow_constant:
        raise ValueError(f"Column {col!r} of {name} is constant (one value in every row); drop it "
                         "and add it back after sampling.")


def _isna_scalar(v):
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def check_target(y, n_rows, *, name="y"):
    """Validate a 1-D target of ``n_rows`` labels; return ``(series, schema)``."""
    if y is None:
        raise ValueError(f"{name} is required: one label per row of X.")
    if np.ndim(y) == 0:
        hint = f" (to use the column {y!r} of X, pass X.drop(columns={y!r}) and X[{y!r}])" \
            if isinstance(y, str) else ""
        raise ValueError(f"{name} must be an array of labels, one per row of X; got the single value {y!r}{hint}.")
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError(f"{name} must be 1-D; got a DataFrame with {y.shape[1]} columns.")
        schema = TargetSchema("frame", y.columns[0], y.dtypes.iloc[0])
        series = y.iloc[:, 0].reset_index(drop=True)
    elif isinstance(y, pd.Series):
        schema = TargetSchema("series", y.name, y.dtype)
        series = y.reset_index(drop=True)
    else:
        arr = np.asarray(y)
        container = "list" if isinstance(y, list) else "array"
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        elif arr.ndim == 2 and arr.shape[1] > 1 and _is_indicator(arr):
            # one-vs-all encoding (one 1 per row): model the class index, return the same encoding
            schema = TargetSchema("indicator", None, arr.dtype, classes=np.arange(arr.shape[1]))
            arr, container = arr.argmax(axis=1), None
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D (or a one-vs-all indicator matrix), got shape {arr.shape}.")
        if container is not None:
            schema = TargetSchema(container, None, arr.dtype)
        series = pd.Series(arr)
    if len(series) != n_rows:
        raise ValueError(f"{name} has {len(series)} labels but X has {n_rows} rows.")
    if series.isna().any():
        raise ValueError(f"{name} contains missing values (NaN/None); every row needs a label.")
    try:
        series.nunique()
    except TypeError:
        raise TypeError(f"{name} holds unhashable values.") from None
    return series, schema


def _is_indicator(arr):
    try:
        return bool(np.isin(arr, (0, 1)).all() and (arr.sum(axis=1) == 1).all())
    except TypeError:
        return False


def check_n_samples(n, *, name="n"):
    """``n`` must be a non-negative integer."""
    if isinstance(n, bool) or not isinstance(n, Integral):
        raise TypeError(f"{name} must be a non-negative integer, got {n!r}.")
    if n < 0:
        raise ValueError(f"{name} must be >= 0, got {n}.")
    return int(n)


def column_mismatch(expected, actual, *, missing="missing columns", extra="unexpected columns"):
    """Describe how ``actual`` column names differ from ``expected``; None when they hold the same names."""
    absent = [c for c in expected if c not in actual]
    unknown = [c for c in actual if c not in expected]
    parts = ([f"{missing} {absent}"] if absent else []) + ([f"{extra} {unknown}"] if unknown else [])
    return "; ".join(parts) if parts else None


def check_same_columns(frame, columns, *, name="X"):
    """Return ``frame`` with ``columns`` in training order; ``ValueError`` naming missing/extra ones."""
    problem = column_mismatch(list(columns), list(frame.columns), extra="columns unseen at fit")
    if problem:
        raise ValueError(f"{name} does not match the training columns: {problem}.")
    return frame[list(columns)]
