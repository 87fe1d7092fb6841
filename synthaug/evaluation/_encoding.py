"""Numeric encodings of normalised frames, one per use.

* :func:`tree_matrices` – for gradient boosting: numerics as floats with NaN,
  categoricals as integer codes shared by all frames (native categorical
  support), missing values left as NaN.
* :func:`distance_matrices` – for nearest neighbours: numerics min-max scaled
  on the real rows plus a missing-value indicator, categoricals one-hot.
* :func:`row_hashes` – one 64-bit hash per row for exact-match counting.
"""

import numpy as np
import pandas as pd

from ._schema import to_float

#: HistGradientBoosting accepts at most ``max_bins`` (255) categories per
#: feature; columns with more levels are passed as ordered integer codes.
_MAX_TREE_CATEGORIES = 250


MISSING = "\0missing"


def with_missing_level(values, missing=MISSING):
    """Object array of a column with every missing value replaced by ``missing``."""
    out = np.asarray(values, dtype=object).copy()
    out[pd.isna(out)] = missing
    return out


def shared_codes(frames, name, *, rank_by=None):
    """Integer codes of one categorical column, shared across frames.

    Levels are ranked by their frequency (most frequent is 0) in the frames
    ``rank_by`` (indices; default: all), ties by first appearance there; the
    levels found only in the other frames come after them, ranked the same
    way over all frames. So the codes of the ``rank_by`` frames' rows do not
    depend on the other frames. Missing values get code -1. Values that
    compare equal in Python (``1`` and ``1.0``) share a code.
    """
    stacked = pd.concat([f[name] for f in frames], ignore_index=True).astype(object)
    codes, uniques = pd.factorize(stacked, use_na_sentinel=True)
    bounds = np.cumsum([0] + [len(f) for f in frames])
    if len(uniques):
        ranking = np.zeros(len(stacked), dtype=bool)
        for i in range(len(frames)) if rank_by is None else rank_by:
            ranking[bounds[i]: bounds[i + 1]] = True
        n = len(uniques)
        valid = codes >= 0
        ref_counts = np.bincount(codes[valid & ranking], minlength=n)
        counts = np.bincount(codes[valid], minlength=n)
        positions = np.arange(len(stacked))
        first_ref = np.full(n, len(stacked))
        np.minimum.at(first_ref, codes[valid & ranking], positions[valid & ranking])
        elsewhere = ref_counts == 0
        # keys, last the primary: reference levels first, by count, then first appearance (over all frames a
        # level's code from factorize is its order of first appearance); the others after
        order = np.lexsort((np.where(elsewhere, np.arange(n), first_ref), -np.where(elsewhere, counts, ref_counts),
                            elsewhere))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        codes = np.where(valid, rank[np.maximum(codes, 0)], -1)
    return [codes[a:b] for a, b in zip(bounds[:-1], bounds[1:])], len(uniques)


def tree_matrices(frames, kinds, *, exclude=(), rank_by=None):
    """Encode frames for HistGradientBoosting (``rank_by``: as in :func:`shared_codes`).

    Returns
    -------
    matrices : list of ndarray of shape (n_rows_i, n_features)
    categorical : ndarray of bool of shape (n_features,)
        Mask for ``categorical_features``.
    names : list of str
    """
    names = [c for c in kinds if c not in exclude]
    blocks = [[] for _ in frames]
    categorical = []
    for name in names:
        kind = kinds[name]
        if kind == "categorical":
            codes, n_levels = shared_codes(frames, name, rank_by=rank_by)
            for block, c in zip(blocks, codes):
                block.append(np.where(c >= 0, c, np.nan).astype("float64"))
            categorical.append(n_levels <= _MAX_TREE_CATEGORIES)
        else:
            for block, frame in zip(blocks, frames):
                block.append(to_float(frame, name, kind))
            categorical.append(False)
    matrices = [
        np.column_stack(b) if b else np.empty((len(f), 0)) for b, f in zip(blocks, frames)
    ]
    return matrices, np.asarray(categorical, dtype=bool), names


def distance_matrices(reference, frames, kinds):
    """Encode frames for Euclidean nearest-neighbour search.

    The encoding is fitted on ``reference`` (a list of real frames):

    * numerical and datetime columns are min-max scaled with the real minimum
      and maximum (a constant column maps to 0); a missing value is imputed
      with the scaled real median and flagged in an extra 0/1 column, so two
      missing cells are at distance 0 and a missing and an observed cell at
      least 1 apart;
    * categorical columns are one-hot encoded over the real levels, missing
      being a level of its own; each one-hot block is multiplied by
      ``1/sqrt(2)`` so that two different levels are at distance 1, the same
      as the two ends of a numeric column's range. A level never seen in the
      real data encodes as all zeros.

    Returns a list of float64 matrices, one per frame in ``frames``.
    """
    ref = pd.concat(reference, ignore_index=True)
    out = [[] for _ in frames]
    for name, kind in kinds.items():
        if kind == "categorical":
            levels = pd.Index(pd.unique(with_missing_level(ref[name])))
            scale = 1.0 / np.sqrt(2.0)
            for block, frame in zip(out, frames):
                idx = levels.get_indexer(with_missing_level(frame[name]))
                onehot = np.zeros((len(frame), len(levels)))
                seen = idx >= 0
                onehot[np.flatnonzero(seen), idx[seen]] = scale
                block.append(onehot)
            continue
        ref_values = to_float(ref, name, kind)
        observed = ref_values[~np.isnan(ref_values)]
        lo, hi = (observed.min(), observed.max()) if observed.size else (0.0, 0.0)
        span = hi - lo if hi > lo else 1.0
        fill = (np.median(observed) - lo) / span if observed.size else 0.0
        any_missing = any(np.isnan(to_float(f, name, kind)).any() for f in frames)
        for block, frame in zip(out, frames):
            values = (to_float(frame, name, kind) - lo) / span
            missing = np.isnan(values)
            block.append(np.where(missing, fill, values)[:, None])
            if any_missing:
                block.append(missing.astype("float64")[:, None])
    return [np.hstack(b) if b else np.zeros((len(f), 0)) for b, f in zip(out, frames)]


def row_hashes(frames, kinds):
    """One uint64 hash per row; equal rows (NaN equal to NaN) hash equal.

    Categorical values are compared with Python equality (``1 == 1.0``),
    numerics exactly as float64, datetimes to the nanosecond.
    """
    columns = [{} for _ in frames]
    for name, kind in kinds.items():
        if kind == "categorical":
            codes, _ = shared_codes(frames, name)
            for cols, c in zip(columns, codes):
                cols[name] = c
        elif kind == "datetime":
            for cols, frame in zip(columns, frames):
                cols[name] = frame[name].to_numpy(dtype="datetime64[ns]").astype("int64")
        else:
            for cols, frame in zip(columns, frames):
                values = frame[name].to_numpy(dtype="float64") + 0.0  # -0.0 -> 0.0
                # One NaN bit pattern, so that every missing cell hashes the same.
                cols[name] = np.where(np.isnan(values), np.nan, values)
    return [
        pd.util.hash_pandas_object(pd.DataFrame(cols, index=pd.RangeIndex(len(f))), index=False)
        .to_numpy()
        for cols, f in zip(columns, frames)
    ]
