"""Reading and writing tables (CSV or Parquet by extension) and fitted models."""

from __future__ import annotations

import contextlib
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["atomic_path", "check_table_path", "read_table", "write_table", "save_model", "load_model",
           "is_image_path", "read_images", "write_images"]

_TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def check_table_path(path):
    """Raise ``ValueError`` unless ``path`` names a CSV or Parquet file that can be written (before any work)."""
    _table_format(path)
    if Path(path).is_dir():
        raise ValueError(f"{path}: is a folder; name a .csv or .parquet file.")


def _table_format(path):
    fmt = _TABLE_SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown table format; use a .csv or .parquet file.")
    return fmt


def read_table(path):
    """Read a CSV or Parquet file into a DataFrame.

    A CSV column whose every value is an ISO 8601 date or time (as
    :func:`write_table` writes datetimes) is read as datetimes, so it is
    modelled as one and not as a set of strings.
    """
    if Path(path).is_dir():
        raise ValueError(f"{path}: is a folder, not a table file.")
    fmt = _table_format(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file.")
    if fmt == "csv":
        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            raise ValueError(f"{path}: the file is empty (no header, no rows).") from None
        return _parse_iso_datetimes(frame)
    try:
        return pd.read_parquet(path)
    except ImportError:
        raise ImportError("Reading Parquet needs pyarrow: pip install 'synthaug[parquet]'.") from None


_UTC_OFFSET = r"(?:[+-]\d\d:?\d\d|Z)$"


def _parse_iso_datetimes(frame):
    """``frame`` with each text column that holds only ISO 8601 dates/times (and blanks) as datetimes."""
    for col in frame.columns:
        values = frame[col]
        if values.dtype != object or values.isna().all():
            continue
        text = values.dropna()
        if not all(isinstance(v, str) and len(v) >= 10 and v[:4].isdigit() and v[4] == "-" and v[7] == "-"
                   for v in text):
            continue   # cheap screen before parsing: a full ISO date starts "YYYY-MM-DD" ("2020-01" is a code)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # pandas warns about mixed offsets instead of failing
            try:
                parsed = pd.to_datetime(values, format="ISO8601")
            except (TypeError, ValueError):
                continue   # not all dates: stays text
        if not pd.api.types.is_datetime64_any_dtype(parsed.dtype) and text.str.contains(_UTC_OFFSET).all():
            # every value carries a UTC offset, not all the same (a time zone across a DST change): the
            # instants are exact in UTC, the only zone a CSV can name
            parsed = pd.to_datetime(values, format="ISO8601", utc=True)
        if pd.api.types.is_datetime64_any_dtype(parsed.dtype):
            frame[col] = parsed
    return frame


@contextlib.contextmanager
def atomic_path(path, *, keep_suffix=False):
    """Yield a temporary sibling of ``path`` to write; rename it to ``path`` on success, remove it on failure.

    A reader never sees a half-written file. ``keep_suffix`` keeps the
    extension on the temporary name (numpy and matplotlib choose the format
    by it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}" if keep_suffix else f".{path.name}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_table(frame, path, *, schema=None):
    """Write a DataFrame to CSV or Parquet, atomically (temporary name, then rename).

    ``schema`` (a ``pyarrow.Schema``) fixes the Parquet column types, so that
    shards of one output agree even when a column is empty in one of them.
    """
    fmt = _table_format(path)
    with atomic_path(path) as tmp:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            try:
                frame.to_parquet(tmp, index=False, schema=schema)
            except ImportError:
                raise ImportError("Writing Parquet needs pyarrow: pip install 'synthaug[parquet]'.") from None
    return Path(path)


_IMAGE_SUFFIXES = (".npz", ".npy")


def is_image_path(path):
    """True for the image formats: ``.npz`` (arrays ``X`` and optionally ``y``) or ``.npy`` (``X``)."""
    return Path(path).suffix.lower() in _IMAGE_SUFFIXES


def read_images(path):
    """``(X, y or None)`` from a ``.npz`` holding ``X`` (and ``y``) or a ``.npy`` holding ``X``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file.")
    if path.suffix.lower() == ".npy":
        return np.load(path, allow_pickle=False), None
    with np.load(path, allow_pickle=False) as data:
        if "X" not in data:
            raise ValueError(f"{path}: an image .npz must hold an array named 'X' (and optionally 'y'); "
                             f"found {sorted(data.files)}.")
        return data["X"], (data["y"] if "y" in data else None)


def write_images(X, y, path):
    """Write images as ``.npz`` (``X``, ``y``), ``.npy`` (``X``) or a ``.png`` grid, atomically."""
    from .plotting import image_grid

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (*_IMAGE_SUFFIXES, ".png"):
        raise ValueError(f"{path}: unknown image output format; use .npz, .npy or .png.")
    with atomic_path(path, keep_suffix=True) as tmp:
        if suffix == ".png":
            image_grid(X, path=tmp)
        elif suffix == ".npy":
            np.save(tmp, np.asarray(X))
        else:
            np.savez_compressed(tmp, X=np.asarray(X), **({} if y is None else {"y": np.asarray(y)}))
    return path


def save_model(model, path):
    """Pickle a fitted estimator (networks are stored on the CPU)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return Path(path)


def load_model(path):
    """Load an estimator written by :func:`save_model` (only load files you trust)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file.")
    from ._base import BaseGenerativeSampler

    with open(path, "rb") as fh:
        try:
            model = pickle.load(fh)
        except (pickle.UnpicklingError, EOFError, AttributeError, ModuleNotFoundError) as exc:
            raise ValueError(f"{path}: not a synthaug model file ({exc}).") from None
    if not isinstance(model, BaseGenerativeSampler):
        raise ValueError(f"{path}: not a synthaug model file (it holds a {type(model).__name__}).")
    return model
