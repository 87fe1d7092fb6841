"""Input checks, column kinds and metadata inference for the evaluation layer.

Everything downstream works on *normalised* copies of the caller's frames:
string column names, one dtype per column kind (``float64`` numerics,
``datetime64[ns]`` datetimes, ``object`` categoricals) and ``np.nan`` for every
missing cell. The caller's frames are never modified.
"""

import numbers

import numpy as np
import pandas as pd

from .._validation import column_mismatch

__all__ = ["infer_metadata"]

#: sdtypes the metrics understand, mapped to the three kinds used internally.
_SDTYPE_TO_KIND = {
    "numerical": "numerical",
    "datetime": "datetime",
    "categorical": "categorical",
    "boolean": "categorical",
    "ordinal": "categorical",
}


def infer_metadata(frame, *, max_categorical_levels=10):
    """Infer sdmetrics single-table metadata from a frame's dtypes.

    Rules, applied column by column:

    * bool, object, string and category dtypes are ``"categorical"``;
    * datetime dtypes are ``"datetime"``;
    * numeric dtypes are ``"numerical"``, except integer-valued columns
      (integer dtype, or float whose observed values are all whole numbers)
      with at most ``max_categorical_levels`` distinct values, which are
      ``"categorical"``: such columns are usually flags or codes, and
      comparing their level frequencies is more telling than a KS statistic
      over a handful of values.

    Parameters
    ----------
    frame : pandas.DataFrame
        The real data.
    max_categorical_levels : int, default=10
        Largest number of distinct values for which an integer-valued numeric
        column is treated as categorical. Use 0 to keep every numeric column
        numerical.

    Returns
    -------
    metadata : dict
        ``{"columns": {name: {"sdtype": ...}, ...}}`` in the frame's column
        order, ready for sdmetrics and for :func:`synthaug.evaluation.evaluate`.

    Examples
    --------
    >>> import pandas as pd
    >>> from synthaug.evaluation import infer_metadata
    >>> df = pd.DataFrame({"age": [23.5, 41.0, 37.2], "n_cards": [0, 1, 2],
    ...                    "home": ["rent", "own", None]})
    >>> {name: meta["sdtype"] for name, meta in infer_metadata(df)["columns"].items()}
    {'age': 'numerical', 'n_cards': 'categorical', 'home': 'categorical'}
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}.")
    columns = {}
    for name in frame.columns:
        columns[str(name)] = {"sdtype": _infer_sdtype(frame[name], max_categorical_levels)}
    return {"columns": columns}


def _infer_sdtype(column, max_categorical_levels):
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(dtype):
        return "categorical"
    values = pd.to_numeric(column, errors="coerce").astype("float64").dropna().to_numpy()
    if values.size and np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        if np.unique(values).size <= max_categorical_levels:
            return "categorical"
    return "numerical"


def column_kinds(metadata):
    """Map each column to ``"numerical"``, ``"datetime"`` or ``"categorical"``.

    Columns whose sdtype is none of the known ones (``"id"``, ``"pii"``,
    ``"unknown"``...) are left out: they carry no distribution to compare and
    an identifier would make detection trivial.
    """
    return {
        name: _SDTYPE_TO_KIND[meta["sdtype"]]
        for name, meta in metadata["columns"].items()
        if meta.get("sdtype") in _SDTYPE_TO_KIND
    }


def check_metadata(metadata, columns):
    """Validate a user metadata dict and return its single-table form."""
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}.")
    if "tables" in metadata:
        tables = metadata["tables"]
        if not isinstance(tables, dict) or len(tables) != 1:
            raise ValueError("metadata describes several tables; pass one table's metadata.")
        metadata = next(iter(tables.values()))
    if not isinstance(metadata.get("columns"), dict):
        raise ValueError(
            'metadata must have a "columns" dict: {"columns": {name: {"sdtype": ...}}}.'
        )
    described = [str(name) for name in metadata["columns"]]
    problem = column_mismatch(columns, described, missing="columns missing from metadata:",
                              extra="metadata columns not in the data:")
    if problem:
        raise ValueError(f"metadata does not match the data; {problem}.")
    for name, meta in metadata["columns"].items():
        if not isinstance(meta, dict) or "sdtype" not in meta:
            raise ValueError(f'metadata for column {name!r} must be a dict with an "sdtype" key.')
    # Keep the data's column order; copy so later edits cannot reach the caller's dict.
    by_name = {str(k): dict(v) for k, v in metadata["columns"].items()}
    return {"columns": {c: by_name[c] for c in columns}}


def check_frames(frames):
    """Check that the frames are non-empty DataFrames with the same columns.

    ``frames`` maps argument names (used in error messages) to frames; the
    first one is the reference. Returns the column names as strings, in the
    reference's order.
    """
    for name, frame in frames.items():
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}.")
    ref_name, ref = next(iter(frames.items()))
    columns = [str(c) for c in ref.columns]
    if len(set(columns)) != len(columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        raise ValueError(f"{ref_name} has duplicate column names: {dupes}.")
    for name, frame in frames.items():
        if frame.shape[1] == 0:
            raise ValueError(f"{name} has no columns.")
        if frame.shape[0] == 0:
            raise ValueError(f"{name} is empty (0 rows).")
        if name == ref_name:
            continue
        other = [str(c) for c in frame.columns]
        problem = column_mismatch(columns, other)
        if problem:
            raise ValueError(f"{name} does not have the same columns as {ref_name}: {problem}.")
        if len(set(other)) != len(other):
            raise ValueError(f"{name} has duplicate column names.")
    return columns


def check_column_argument(value, columns, name):
    """Validate ``target`` (one column) or ``sensitive_columns`` (a list)."""
    if name == "target":
        if value is None:
            return None
        if not isinstance(value, (str, numbers.Integral)) or str(value) not in columns:
            raise ValueError(f"target {value!r} is not a column of real; columns are {columns}.")
        return str(value)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    value = [str(v) for v in value]
    unknown = [v for v in value if v not in columns]
    if unknown:
        raise ValueError(f"{name} {unknown} are not columns of real; columns are {columns}.")
    if not value:
        raise ValueError(f"{name} is empty; pass None or at least one column.")
    if len(value) == len(columns):
        raise ValueError(f"{name} must leave at least one known column.")
    return value


def prepare_frames(frames, metadata):
    """Validate, resolve the metadata and return normalised copies of all frames.

    ``frames`` maps argument names to frames, the first being the reference
    from which metadata is inferred when ``metadata`` is None.

    Returns
    -------
    normalized : list of DataFrame
    kinds : dict
        Column name -> "numerical" | "datetime" | "categorical".
    metadata : dict
        Single-table metadata with string column names.
    """
    columns = check_frames(frames)
    first = next(iter(frames.values()))
    metadata = infer_metadata(first) if metadata is None else check_metadata(metadata, columns)
    kinds = column_kinds(metadata)
    if not kinds:
        raise ValueError("no column has a comparable sdtype (numerical, datetime, categorical).")
    formats = {
        name: meta["datetime_format"]
        for name, meta in metadata["columns"].items()
        if meta.get("datetime_format")
    }
    # a column that is boolean in any frame: 1/0 and "true"/"false" in another frame are the same flags
    booleans = {str(c) for f in frames.values() for c in f.columns if pd.api.types.is_bool_dtype(f[c].dtype)}
    booleans |= {name for name, meta in metadata["columns"].items() if meta.get("sdtype") == "boolean"}
    normalized = [normalize_frame(f, columns, kinds, formats, frame_name=key, booleans=booleans)
                  for key, f in frames.items()]
    return normalized, kinds, metadata


def normalize_frame(frame, columns, kinds, formats=None, frame_name="the frame", booleans=()):
    """Return a copy with string column names, one dtype per kind and NaN for missing.

    Columns not in ``kinds`` (unknown sdtypes) are kept as ``object``.
    ``formats`` maps datetime columns to a ``strftime`` format used to parse
    strings. In the ``booleans`` columns 1/0 and "true"/"false" are
    True/False. A value a numerical or datetime column cannot read (text in a
    number column) raises a ``ValueError`` naming ``frame_name``, the column and the
    value, rather than counting as missing.
    """
    formats = formats or {}
    out = {}
    by_str = {str(c): c for c in frame.columns}
    for name in columns:
        col = frame[by_str[name]]
        kind = kinds.get(name)
        if kind == "numerical":
            values = pd.to_numeric(col, errors="coerce")
            _check_parsed(col, values, frame_name, kind)
            values = values.astype("float64").replace([np.inf, -np.inf], np.nan)
        elif kind == "datetime":
            if pd.api.types.is_datetime64_any_dtype(col.dtype):
                values = col
            else:
                values = pd.to_datetime(col, errors="coerce", format=formats.get(name))
                _check_parsed(col, values, frame_name, kind)
            if getattr(values.dt, "tz", None) is not None:
                values = values.dt.tz_convert("UTC").dt.tz_localize(None)
            values = values.astype("datetime64[ns]")
        else:
            values = np.asarray(col, dtype=object).copy()
            values[pd.isna(values)] = np.nan
            # True and "True" are one category: a boolean column read back from CSV is text
            flags = np.fromiter((isinstance(v, (bool, np.bool_)) for v in values), dtype=bool, count=len(values))
            values[flags] = [str(bool(v)) for v in values[flags]]
            if name in booleans:   # a flag written as 0/1 or "true" is the same flag
                values = np.asarray([_BOOLEAN_TEXT.get(str(v).strip().lower(), v) for v in values], dtype=object)
            values = pd.Series(values)
        out[name] = values.to_numpy()
    return pd.DataFrame(out, columns=columns)


_BOOLEAN_TEXT = {"1": "True", "0": "False", "1.0": "True", "0.0": "False", "true": "True", "false": "False"}


def _check_parsed(raw, parsed, frame_name, kind):
    """Raise if a present cell of ``raw`` (not NA, not blank text) became missing when parsed as ``kind``."""
    lost = parsed.isna().to_numpy() & raw.notna().to_numpy()
    if lost.any():
        values = raw[lost]
        blank = values.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)
        if not blank.all():
            example = values[~blank].iloc[0]
            raise ValueError(f"Column {str(raw.name)!r} of {frame_name} is read as {kind} but holds "
                             f"{int((~blank).sum())} value(s) that are not, e.g. {example!r}; fix the data or the "
                             "metadata.")


def to_float(frame, name, kind):
    """Column as float64: numerics as they are, datetimes as seconds since epoch."""
    col = frame[name]
    if kind == "datetime":
        values = col.to_numpy(dtype="datetime64[ns]")
        out = values.astype("int64").astype("float64") / 1e9
        out[np.isnat(values)] = np.nan
        return out
    return col.to_numpy(dtype="float64")
