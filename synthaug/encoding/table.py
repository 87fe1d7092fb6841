"""The table encoder: a DataFrame <-> (continuous scores, discrete codes).

The encoded form is two dense arrays, cheap to keep on a GPU:

* ``continuous`` — float32, one column per numeric/datetime column that has a
  continuous part (a standard-normal score, 0 where the row sits on a spike or
  is missing);
* ``discrete`` — int64 codes, one column per categorical column and per
  numeric column with spikes or missing values (its *mode*).

:class:`~synthaug.encoding.Layout` records which encoded columns belong to
which table column; models see one-hot blocks built from the codes on the
device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_random_state

from .columns import CategoricalColumn, NumericColumn
from .layout import Layout

__all__ = ["TableEncoder", "EncodedTable", "infer_column_kind"]


@dataclass
class EncodedTable:
    """Encoded rows: ``continuous`` (n, n_continuous) float32, ``discrete`` (n, n_discrete) int64."""

    continuous: np.ndarray
    discrete: np.ndarray

    def __len__(self):
        return len(self.continuous)


def infer_column_kind(series: pd.Series):
    """``"categorical"``, ``"numeric"`` or ``"datetime"`` for a column.

    Raises ``TypeError`` for dtypes synthaug cannot model (complex, timedelta,
    period, interval, sparse).
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype) \
            or pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_complex_dtype(dtype):
        raise TypeError(f"Column {series.name!r} has complex dtype {dtype}, which is not supported.")
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    raise TypeError(f"Column {series.name!r} has dtype {dtype}, which is not supported; "
                    "convert it to numeric, datetime or string first.")


def _decimal_step(values: np.ndarray, max_decimals=6):
    """The coarsest grid 10**-d (d <= max_decimals) that holds all ``values``."""
    values = values[np.isfinite(values)]
    if len(values) > 20_000:
        values = values[:: len(values) // 20_000]
    scale = max(1.0, float(np.abs(values).max(initial=1.0)))
    for d in range(max_decimals + 1):
        scaled = values * 10.0 ** d
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 * scale * 10.0 ** d):
            return 10.0 ** -d
    return None


_DATETIME_UNITS = np.array([86_400e9, 3_600e9, 60e9, 1e9, 1e6, 1e3, 1.0])  # day .. ns


class TableEncoder:
    """Encode a mixed-type DataFrame for generative models and decode it back.

    Decoding restores column names, order and dtypes: integers stay integers,
    categories come only from training, numeric values stay inside the
    training bounds, datetimes come back as datetimes (with their time zone),
    and the missing-value rate of each column is reproduced by sampling.

    Parameters
    ----------
    discrete_columns : list of str, default=None
        Numeric columns to treat as categorical. Object, string, category and
        bool columns are always categorical.
    max_levels : int, default=100
        Most levels of a categorical column kept as themselves; the rest share
        one code and are decoded from their empirical frequencies, so a
        10,000-level column costs ``max_levels + 2`` codes, not 10,000.
    spike_threshold : float, default=0.02
        Least share of rows for an exact numeric value to become a discrete
        mode (see :class:`~synthaug.encoding.columns.NumericColumn`).
    n_knots : int, default=1000
        Resolution of the empirical CDF of a numeric column's continuous part.
    fit_subsample : int, default=200_000
        Numeric CDFs and spikes are estimated on at most this many rows
        (levels, bounds and missing rates always use every row).

    Attributes
    ----------
    columns_ : list of str
        Column names in order.
    kinds_ : dict
        Inferred kind of each column.
    encoders_ : dict
        The fitted per-column encoder.
    layout_ : Layout
        Which encoded columns each table column owns.

    Examples
    --------
    >>> import pandas as pd
    >>> from synthaug.encoding import TableEncoder
    >>> df = pd.DataFrame({"age": [21, 35, 35, 60], "city": ["a", "b", None, "a"]})
    >>> enc = TableEncoder().fit(df)
    >>> table = enc.transform(df)
    >>> table.discrete.shape, table.continuous.shape
    ((4, 1), (4, 1))
    >>> enc.inverse_transform(table).equals(df)
    True
    """

    def __init__(self, *, discrete_columns=None, max_levels=100, spike_threshold=0.02,
                 n_knots=1000, fit_subsample=200_000):
        self.discrete_columns = discrete_columns
        self.max_levels = max_levels
        self.spike_threshold = spike_threshold
        self.n_knots = n_knots
        self.fit_subsample = fit_subsample

    # ------------------------------------------------------------------ fit
    def fit(self, X: pd.DataFrame, *, random_state=None):
        rng = check_random_state(random_state)
        discrete = set(self.discrete_columns or ())
        unknown = discrete - set(X.columns)
        if unknown:
            raise ValueError(f"discrete_columns names columns not in the data: {sorted(map(str, unknown))}")
        n = len(X)
        sub = None
        if n > self.fit_subsample:
            sub = np.sort(rng.choice(n, self.fit_subsample, replace=False))
        self.columns_ = list(X.columns)
        self.dtypes_ = X.dtypes.to_dict()
        self.kinds_, self.encoders_, self.datetime_info_ = {}, {}, {}
        for name in self.columns_:
            col = X[name]
            kind = "categorical" if name in discrete else infer_column_kind(col)
            self.kinds_[name] = kind
            if kind == "categorical":
                enc = CategoricalColumn(max_levels=self.max_levels).fit(col)
            else:
                values = self._to_float(name, col, kind, fitting=True)
                fit_values = values if sub is None else values[sub]
                integral, step = self._grid(name, col, kind, values)
                enc = NumericColumn(spike_threshold=self.spike_threshold, n_knots=self.n_knots,
                                    integral=integral, step=step)
                enc.fit(fit_values)
                if sub is not None:  # bounds and missing rate from every row
                    enc.min_, enc.max_ = float(np.nanmin(values)), float(np.nanmax(values))
            self.encoders_[name] = enc
        self.layout_ = Layout.from_encoders([self.encoders_[c] for c in self.columns_])
        return self

    def _grid(self, name, col, kind, values):
        if kind == "datetime":
            finite = values[np.isfinite(values)]
            for unit in _DATETIME_UNITS:
                if np.all(np.mod(finite, unit) == 0):
                    return False, float(unit)
            return True, None
        if pd.api.types.is_integer_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            return True, None
        step = _decimal_step(values)
        return step == 1.0, (None if step == 1.0 else step)

    def _to_float(self, name, col, kind, *, fitting=False):
        """Column values as float64 with NaN for missing."""
        if kind == "datetime":
            tz = getattr(col.dtype, "tz", None)
            if fitting:
                self.datetime_info_[name] = tz
            s = col
            if tz is not None:
                s = s.dt.tz_convert("UTC").dt.tz_localize(None)
            s = s.astype("datetime64[ns]")
            out = s.to_numpy(dtype="int64", na_value=np.iinfo(np.int64).min).astype(np.float64)
            out[s.isna().to_numpy()] = np.nan
            return out
        if col.dtype == object:
            col = pd.to_numeric(col, errors="raise")
        out = col.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(out).any():
            raise ValueError(f"Column {name!r} contains infinite values.")
        return out

    # ------------------------------------------------------------ transform
    def transform(self, X: pd.DataFrame, *, random_state=None):
        """Encode ``X``; with ``random_state``, ties are dequantised at random.

        Returns
        -------
        EncodedTable
        """
        rng = None if random_state is None else check_random_state(random_state)
        n = len(X)
        cont = np.zeros((n, self.layout_.n_continuous), dtype=np.float32)
        disc = np.zeros((n, self.layout_.n_discrete), dtype=np.int64)
        for name, (ci, di) in zip(self.columns_, self.layout_.column_parts):
            codes, z = self.encode_column(name, X[name], rng=rng)
            if di is not None:
                disc[:, di] = codes
            if ci is not None:
                cont[:, ci] = z
        return EncodedTable(cont, disc)

    def encode_column(self, name, values, *, rng=None):
        """``(codes or None, z or None)`` of one column's values (a Series)."""
        kind = self.kinds_[name]
        if kind != "categorical":
            values = self._to_float(name, pd.Series(values).astype(self.dtypes_[name])
                                    if kind == "datetime" else pd.Series(values), kind)
        codes, z = self.encoders_[name].encode(values, name=name, rng=rng)
        return codes, z

    # ------------------------------------------------------ inverse transform
    def inverse_transform(self, table: EncodedTable, *, random_state=None, index=None):
        """Decode an :class:`EncodedTable` into a DataFrame with the training dtypes."""
        rng = check_random_state(random_state)
        cont = np.asarray(table.continuous, dtype=np.float64)
        disc = np.asarray(table.discrete, dtype=np.int64)
        n = len(cont) if cont.ndim == 2 and cont.shape[1] else len(disc)
        data = {}
        for name, (ci, di) in zip(self.columns_, self.layout_.column_parts):
            codes = disc[:, di] if di is not None else None
            z = cont[:, ci] if ci is not None else None
            values = self.encoders_[name].decode(codes, z, rng=rng)
            data[name] = self._restore_dtype(name, values)
        return pd.DataFrame(data, index=index if index is not None else pd.RangeIndex(n))

    def _restore_dtype(self, name, values):
        dtype = self.dtypes_[name]
        kind = self.kinds_[name]
        if kind == "datetime":
            out = pd.to_datetime(pd.Series(values).round(), unit="ns")
            tz = self.datetime_info_.get(name)
            if tz is not None:
                out = out.dt.tz_localize("UTC").dt.tz_convert(tz)
            return out.astype(dtype)
        if kind == "categorical":
            s = pd.Series(values, dtype=object)
            if isinstance(dtype, pd.CategoricalDtype):
                return pd.Categorical(values, dtype=dtype)
            if pd.api.types.is_bool_dtype(dtype) and dtype == bool:
                return s.astype(bool)
            if dtype == object:
                return s
            if pd.api.types.is_numeric_dtype(dtype):  # a numeric column declared discrete
                s = pd.to_numeric(s)
                if s.isna().any() and pd.api.types.is_integer_dtype(dtype) and dtype.kind != "O" \
                        and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
                    return s.astype(np.float64)
            return s.astype(dtype)
        # numeric
        if pd.api.types.is_integer_dtype(dtype) and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
            if np.isnan(values).any():
                return values  # a numpy int column cannot hold NaN
            info = np.iinfo(dtype)
            return np.clip(np.round(values), info.min, info.max).astype(dtype)
        if isinstance(dtype, pd.api.extensions.ExtensionDtype):
            s = pd.Series(values)
            if pd.api.types.is_integer_dtype(dtype):
                s = s.round()
            return s.astype(dtype)
        return values.astype(dtype)
