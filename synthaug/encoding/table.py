"""The table encoder: a DataFrame <-> (continuous scores, discrete codes).

The encoded form is two dense arrays, cheap to keep on a GPU:

* ``continuous`` — float32, one column per numeric/datetime column that has a
  continuous part (a standard-normal score, 0 where the row sits on a spike or
  is missing);
* ``discrete`` — int64 codes, one column per categorical column and per
  numeric column with spikes or missing values (its *mode*; with
  ``numeric_levels``, a column of a few common values is spikes alone).

:class:`~synthaug.encoding.Layout` records which encoded columns belong to
which table column; models see one-hot blocks built from the codes on the
device.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_random_state

from .columns import CategoricalColumn, NumericColumn
from .layout import Layout
from .private import fit_private_categorical, fit_private_numeric

__all__ = ["TableEncoder", "EncodedTable", "infer_column_kind", "warn_if_identifier"]

#: a column with a distinct value in each of at least this many rows may be an identifier (warn_if_identifier)
IDENTIFIER_MIN_ROWS = 20


def warn_if_identifier(col: pd.Series):
    """Warn when a column looks like an identifier or a row number rather than data.

    A text or category column with a different value in every row (a
    customer number, a name), or an integer column holding every whole
    number of its range once (a row counter, such as a saved index), with
    no missing value and at least :data:`IDENTIFIER_MIN_ROWS` rows. It
    carries nothing a generative model can learn; as a categorical column
    its synthetic values are the training rows' own values. Other numbers
    and datetimes are not checked: all-distinct values are normal there.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_if_identifier(pd.Series([f"C{i}" for i in range(30)], name="customer"))
    >>> str(caught[0].message)[:60]
    "Column 'customer' holds a different value in each of its 30 "
    """
    n = len(col)
    if n < IDENTIFIER_MIN_ROWS or col.isna().any():
        return
    if pd.api.types.is_integer_dtype(col.dtype):   # (bool dtypes are not integer ones)
        if int(col.max()) - int(col.min()) == n - 1 and col.nunique() == n:
            warnings.warn(f"Column {col.name!r} holds each whole number from {int(col.min())} to "
                          f"{int(col.max())} once: a row number or identifier (e.g. an index saved with the "
                          "table)? A generative model cannot learn it; it is modelled as a number like any other. "
                          "Drop it before fitting.", UserWarning, stacklevel=2)
        return
    text = pd.api.types.is_object_dtype(col.dtype) or pd.api.types.is_string_dtype(col.dtype) \
        or isinstance(col.dtype, pd.CategoricalDtype)
    if not text or col.nunique() < n:
        return
    warnings.warn(f"Column {col.name!r} holds a different value in each of its {n} rows: an identifier? A "
                  "generative model cannot learn it; it is modelled as a categorical column, so its synthetic "
                  "values are values of the training rows (real identifiers in released rows). Drop it before "
                  "fitting, and give new rows identifiers of their own after sampling.", UserWarning,
                  stacklevel=2)


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


def _decimal_step(values: np.ndarray, max_decimals=6, eps=np.finfo(np.float64).eps):
    """The coarsest grid 10**-d (d <= max_decimals) that holds all ``values``.

    A value is on the grid when ``values * 10**d`` is an integer up to the
    representation error of its dtype (``eps``: float64, or float32 for a
    float32 column), *relative to that value*: a tolerance relative to the
    column's largest value would put every value of a column of large numbers
    "on the grid" (e.g. incomes around 1e6 with cents were taken for integers).
    """
    values = values[np.isfinite(values)]
    if len(values) > 20_000:
        values = values[:: len(values) // 20_000]
    with np.errstate(over="ignore", invalid="ignore"):   # values near 1e308 overflow: no grid
        for d in range(max_decimals + 1):
            scaled = values * 10.0 ** d
            tol = 4.0 * eps * np.maximum(np.abs(scaled), 1.0)
            if np.all(np.abs(scaled - np.round(scaled)) <= tol):
                return 10.0 ** -d
    return None


def _float_eps(dtype):
    """Machine epsilon of a float column's dtype (float64 for anything else)."""
    try:
        np_dtype = getattr(dtype, "numpy_dtype", dtype)   # Float32Dtype -> float32
        if np.issubdtype(np_dtype, np.floating):
            return float(np.finfo(np_dtype).eps)
    except TypeError:
        pass
    return float(np.finfo(np.float64).eps)


def _datetime_ns(col: pd.Series):
    """``(int64 nanoseconds since the epoch in UTC, missing mask)`` of a datetime column."""
    s = col
    if getattr(col.dtype, "tz", None) is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    s = s.astype("datetime64[ns]")
    missing = s.isna().to_numpy()
    return s.to_numpy(dtype="int64", na_value=0), missing


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
    numeric_levels : int, default=0
        With ``n`` > 0, a numeric column of two to ``n`` distinct values, each
        held by 2 % of the rows and 50 rows at least, is encoded as levels,
        each value a discrete mode with no continuous score (see
        :class:`~synthaug.encoding.columns.NumericColumn`); it stays numeric
        in every other respect (its dtype, interval conditions, imputation's
        mean). 0 (the default) keeps such columns continuous.
    n_knots : int, default=1000
        Resolution of the empirical CDF of a numeric column's continuous part.
    fit_subsample : int, default=200_000
        Numeric CDFs and spikes are estimated on at most this many rows
        (levels, bounds, missing rates and the value set of a numeric column
        with at most ``n_knots`` distinct values always use every row).
    transform_chunk : int, default=200_000
        Rows encoded at a time by ``transform`` (bounds the memory beyond the
        encoded output).
    epsilon : float or None, default=None
        With a budget, every statistic comes from differentially private
        releases (:mod:`synthaug.encoding.private`) that spend ``epsilon`` in
        all, split evenly over the columns.
    delta : float, default=None
        δ of the releases of category sets (split over the categorical
        columns without declared categories); required with ``epsilon``.
    bounds : dict, default=None
        Column → ``(low, high)`` declared public: with ``epsilon``, no budget
        is spent on that column's bounds and its values are clipped to them.
    categories : dict, default=None
        Column → list of levels declared public: with ``epsilon``, they are
        kept even when rare, and no other level may occur.
    complete_columns : list of str, default=None
        Columns declared never missing: with ``epsilon``, they get no
        ``<missing>`` code (every other column does, whatever its data).

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

    A rating of three values, each in 60 rows, is one score, or levels with
    ``numeric_levels``:

    >>> ratings = pd.DataFrame({"rating": [1, 2, 3] * 60})
    >>> TableEncoder().fit(ratings).transform(ratings).discrete.shape
    (180, 0)
    >>> TableEncoder(numeric_levels=10).fit(ratings).transform(ratings).discrete.shape
    (180, 1)
    """

    def __init__(self, *, discrete_columns=None, max_levels=100, spike_threshold=0.02, numeric_levels=0,
                 n_knots=1000, fit_subsample=200_000, epsilon=None, delta=None, bounds=None, categories=None,
                 complete_columns=None, transform_chunk=200_000):
        self.discrete_columns = discrete_columns
        self.transform_chunk = transform_chunk
        self.epsilon = epsilon
        self.delta = delta
        self.bounds = bounds
        self.categories = categories
        self.complete_columns = complete_columns
        self.max_levels = max_levels
        self.spike_threshold = spike_threshold
        self.numeric_levels = numeric_levels
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
        if n == 0:
            raise ValueError("Cannot fit a TableEncoder on a frame with 0 rows.")
        sub = None
        if n > self.fit_subsample:
            sub = np.sort(rng.choice(n, self.fit_subsample, replace=False))
        self.columns_ = list(X.columns)
        self.dtypes_ = X.dtypes.to_dict()
        self.kinds_, self.encoders_, self.datetime_info_ = {}, {}, {}
        # exact bounds of integer columns: float64 holds integers exactly only up to 2**53
        self.int_bounds_ = {}
        if self.epsilon is not None:
            return self._fit_private(X, discrete, rng)
        for name in self.columns_:
            col = X[name]
            kind = "categorical" if name in discrete else infer_column_kind(col)
            self.kinds_[name] = kind
            warn_if_identifier(col)
            if kind == "categorical":
                enc = CategoricalColumn(max_levels=self.max_levels).fit(col)
            else:
                values = self._to_float(name, col, kind, fitting=True)
                if kind == "numeric" and pd.api.types.is_integer_dtype(col.dtype) and col.notna().any():
                    self.int_bounds_[name] = (int(col.min()), int(col.max()))
                integral, step = self._grid(name, col, kind, values)
                enc = NumericColumn(spike_threshold=self.spike_threshold, numeric_levels=self.numeric_levels,
                                    n_knots=self.n_knots, integral=integral, step=step)
                # bounds, missing rate and small value sets from every row, CDF from ``sub``
                enc.fit(values, sample=sub)
            self.encoders_[name] = enc
        self.layout_ = Layout.from_encoders([self.encoders_[c] for c in self.columns_])
        return self

    def _fit_private(self, X, discrete, rng):
        """Fit every column from DP releases; ``privacy_spent_`` records each one."""
        bounds, categories = dict(self.bounds or {}), dict(self.categories or {})
        for arg, given in (("bounds", bounds), ("categories", categories)):
            unknown = set(given) - set(X.columns)
            if unknown:
                raise ValueError(f"{arg} names columns not in the data: {sorted(map(str, unknown))}")
        if self.delta is None or not 0 < self.delta < 1:
            raise ValueError(f"A private TableEncoder needs 0 < delta < 1, got {self.delta!r}.")
        kinds = {name: "categorical" if name in discrete or name in categories else infer_column_kind(X[name])
                 for name in self.columns_}
        eps_col = self.epsilon / len(self.columns_)
        n_released_sets = sum(kinds[c] == "categorical" and c not in categories for c in self.columns_)
        delta_col = self.delta / max(n_released_sets, 1)
        # columns whose dtype cannot hold a missing value (numpy integers, bool) need no <missing> code:
        # the dtype is schema, not data
        complete = set(self.complete_columns or ()) | {
            c for c in self.columns_ if not isinstance(X[c].dtype, pd.api.extensions.ExtensionDtype)
            and (pd.api.types.is_integer_dtype(X[c].dtype) or pd.api.types.is_bool_dtype(X[c].dtype))}
        gen = np.random.default_rng(rng.randint(2**31 - 1))
        self.privacy_spent_ = {}
        for name in self.columns_:
            col, kind = X[name], kinds[name]
            self.kinds_[name] = kind
            if kind == "categorical":
                enc = CategoricalColumn(max_levels=self.max_levels)
                spent = fit_private_categorical(enc, col, name=name, epsilon=eps_col, delta=delta_col,
                                                categories=categories.get(name), rng=gen,
                                                allow_missing=name not in complete)
            else:
                values = self._to_float(name, col, kind, fitting=True)
                integral = kind == "numeric" and (pd.api.types.is_integer_dtype(col.dtype)
                                                  or pd.api.types.is_bool_dtype(col.dtype))
                enc = NumericColumn(spike_threshold=self.spike_threshold, integral=integral,
                                    step=1e9 if kind == "datetime" else None)   # datetimes to the second
                spent = fit_private_numeric(enc, values, name=name, epsilon=eps_col, bounds=bounds.get(name),
                                            rng=gen, spike_threshold=self.spike_threshold,
                                            allow_missing=name not in complete)
            for part, value in spent.items():
                self.privacy_spent_[f"{name}: {part}"] = value
            self.encoders_[name] = enc
        self.layout_ = Layout.from_encoders([self.encoders_[c] for c in self.columns_])
        return self

    def _grid(self, name, col, kind, values):
        if kind == "datetime":
            # on the exact int64 nanoseconds: their float64 copy is not exact
            # (spacing 256 ns today), so a millisecond grid would be missed
            ns, missing = _datetime_ns(col)
            ns = ns[~missing]
            for unit in _DATETIME_UNITS:
                if np.all(ns % np.int64(unit) == 0):
                    return False, float(unit)
            return False, 1.0
        if pd.api.types.is_integer_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            return True, None
        step = _decimal_step(values, eps=_float_eps(col.dtype))
        return step == 1.0, (None if step == 1.0 else step)

    def _to_float(self, name, col, kind, *, fitting=False):
        """Column values as float64 with NaN for missing."""
        if kind == "datetime":
            if fitting:
                self.datetime_info_[name] = getattr(col.dtype, "tz", None)
            ns, missing = _datetime_ns(col)
            out = ns.astype(np.float64)
            out[missing] = np.nan
            return out
        if col.dtype == object:
            try:
                col = pd.to_numeric(col, errors="raise")
            except (ValueError, TypeError) as err:
                raise ValueError(f"Column {name!r} is numeric but holds a value that is not a number: {err}") \
                    from err
        out = col.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(out).any():
            raise ValueError(f"Column {name!r} contains infinite values.")
        return out

    def level_scores(self):
        """``(width,)``: the score of each numeric spike's mode dim on its column's continuous scale, NaN elsewhere.

        See :meth:`~synthaug.encoding.columns.NumericColumn.spike_scores`.
        """
        layout = self.layout_
        out = np.full(layout.width, np.nan)
        for name, (ci, di) in zip(self.columns_, layout.column_parts):
            spikes = getattr(self.encoders_[name], "spike_scores", None)
            if ci is not None and di is not None and spikes is not None:
                scores = spikes()
                out[layout.offsets[di]: layout.offsets[di] + len(scores)] = scores
        return out

    # ------------------------------------------------------------ transform
    def check_levels(self, X):
        """``ValueError`` naming the column of the first observed value of ``X`` a categorical column never saw."""
        for name in X.columns:
            if self.kinds_.get(name) == "categorical":
                self.encoders_[name].codes_for(X[name].dropna(), name=name)

    def transform(self, X: pd.DataFrame, *, random_state=None):
        """Encode ``X``; with ``random_state``, ties are dequantised at random.

        Returns
        -------
        EncodedTable
        """
        rng = None if random_state is None else check_random_state(random_state)
        n = len(X)
        cont = np.empty((n, self.layout_.n_continuous), dtype=np.float32)
        disc = np.empty((n, self.layout_.n_discrete), dtype=np.int64)
        # in row chunks: each chunk is encoded column by column, then copied into the row-major
        # outputs, so peak memory is the outputs plus one chunk (not a second full copy)
        for start in range(0, max(n, 1), self.transform_chunk):
            part = X.iloc[start: start + self.transform_chunk]
            rows = slice(start, start + len(part))
            for name, (ci, di) in zip(self.columns_, self.layout_.column_parts):
                codes, z = self.encode_column(name, part[name], rng=rng)
                if di is not None:
                    disc[rows, di] = codes
                if ci is not None:
                    cont[rows, ci] = z
        return EncodedTable(cont, disc)

    def encode_column(self, name, values, *, rng=None):
        """``(codes or None, z or None)`` of one column's values (a Series)."""
        if self.kinds_[name] != "categorical":
            values = self._column_values(name, values)
        codes, z = self.encoders_[name].encode(values, name=name, rng=rng)
        return codes, z

    def _column_values(self, name, values):
        """A numeric or datetime column's values as float64 (NaN for missing); ``ValueError`` naming it."""
        kind = self.kinds_[name]
        values = pd.Series(values)
        if kind == "datetime":
            try:
                values = values.astype(self.dtypes_[name])
            except (ValueError, TypeError) as err:
                raise ValueError(f"Column {name!r} holds datetimes at fit but a value here is not one: {err}") \
                    from err
        return self._to_float(name, values, kind)

    def check_values(self, X):
        """``ValueError`` naming the column of a numeric or datetime value of ``X`` the encoder cannot take.

        Numeric and datetime values must parse as the column's type and be
        finite (categorical levels: :meth:`check_levels`).
        """
        for name in X.columns:
            if self.kinds_.get(name) not in (None, "categorical"):
                self._column_values(name, X[name])

    # ------------------------------------------------------ inverse transform
    def inverse_transform(self, table: EncodedTable, *, random_state=None, index=None):
        """Decode an :class:`EncodedTable` into a DataFrame with the training dtypes."""
        rng = check_random_state(random_state)
        cont = np.asarray(table.continuous, dtype=np.float64)
        disc = np.asarray(table.discrete, dtype=np.int64)
        n = len(cont) if cont.ndim == 2 and cont.shape[1] else len(disc)
        # one column per row of these copies: every decoder reads contiguous memory
        cont, disc = np.ascontiguousarray(cont.T), np.ascontiguousarray(disc.T)
        data = {}
        for name, (ci, di) in zip(self.columns_, self.layout_.column_parts):
            codes = disc[di] if di is not None else None
            z = cont[ci] if ci is not None else None
            values = self.encoders_[name].decode(codes, z, rng=rng)
            data[name] = self._restore_dtype(name, values)
        return pd.DataFrame(data, index=index if index is not None else pd.RangeIndex(n))

    def _restore_dtype(self, name, values):
        dtype = self.dtypes_[name]
        kind = self.kinds_[name]
        if kind == "datetime":
            # snap onto the training time grid in int64 arithmetic: float64
            # nanoseconds are only exact to ~256 ns, the grid (day .. µs) is exact
            unit = self.encoders_[name].step or 1.0
            missing = np.isnan(values)
            ns = np.round(np.where(missing, 0.0, values) / unit).astype(np.int64) * np.int64(unit)
            ns[missing] = np.iinfo(np.int64).min      # NaT
            out = pd.Series(ns.view("datetime64[ns]"))
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
            if pd.api.types.is_bool_dtype(dtype):     # nullable "boolean": no to_numeric pass
                return s.astype(dtype)
            if pd.api.types.is_numeric_dtype(dtype):  # a numeric column declared discrete
                s = pd.to_numeric(s)
                if s.isna().any() and pd.api.types.is_integer_dtype(dtype) and dtype.kind != "O" \
                        and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
                    return s.astype(np.float64)
            return s.astype(dtype)
        # numeric
        bounds = getattr(self, "int_bounds_", {}).get(name)
        if pd.api.types.is_integer_dtype(dtype) and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
            if np.isnan(values).any():
                return values  # a numpy int column cannot hold NaN
            return _to_int(values, dtype, bounds)
        if isinstance(dtype, pd.api.extensions.ExtensionDtype):
            if pd.api.types.is_integer_dtype(dtype):
                missing = np.isnan(values)
                ints = _to_int(np.where(missing, 0.0, values), dtype.numpy_dtype, bounds)
                return pd.arrays.IntegerArray(ints, missing).astype(dtype) if missing.any() \
                    else pd.array(ints, dtype=dtype)
            return pd.Series(values).astype(dtype)
        return values.astype(dtype)


def _to_int(values, dtype, bounds=None):
    """Round float ``values`` into integer ``dtype`` without wrapping around at its limits.

    ``float(np.iinfo(np.int64).max)`` is 2**63, which does not fit an int64:
    clip to the largest float that does. ``bounds`` (the training column's
    exact integer min and max) are then applied in integer arithmetic, so
    values beyond 2**53, which float64 rounds, stay within them.
    """
    info = np.iinfo(dtype)
    lo, hi = float(info.min), float(info.max)
    if int(hi) > info.max:
        hi = float(np.nextafter(hi, 0.0))
    out = np.clip(np.round(values), lo, hi).astype(dtype)
    if bounds is not None:
        out = np.clip(out, np.asarray(bounds[0], dtype=dtype), np.asarray(bounds[1], dtype=dtype))
    return out
