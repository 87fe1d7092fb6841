"""Sampling more rows than fit in memory: ``sample_to`` writes Parquet or CSV in shards.

Rows are generated in fixed blocks of :data:`BLOCK_ROWS`, block *k* from its
own random stream (``SeedSequence(seed, spawn_key=(k,))``), so the rows
depend only on the seed — not on the shard size, the process count or the
order in which blocks are made — and any block can be regenerated alone.
Shards are written under a temporary name and renamed, so a shard is never
seen half-written; a single output file is renamed into place once
complete. Under ``torch.distributed`` each rank writes the shards
``i ≡ rank (mod world size)``: the union of the ranks' shards is the output
of one process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from ._validation import check_n_samples
from .conditioning import TARGET_COLUMN as _TARGET
from .conditioning import parse_conditions
from .distributed import world
from .io import atomic_path, write_table

__all__ = ["StreamingMixin", "BLOCK_ROWS"]

#: rows generated per random stream (and per network batch)
BLOCK_ROWS = 4_096
_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


class _Appender:
    """Append frames to one Parquet file (a row group each, all with ``schema``) or CSV file."""

    def __init__(self, path, fmt, schema=None):
        self.path, self.fmt, self.schema, self.writer = path, fmt, schema, None

    def write(self, frame):
        if self.fmt == "csv":
            frame.to_csv(self.path, mode="a" if self.writer else "w", header=self.writer is None, index=False)
            self.writer = True
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table)

    def close(self):
        if self.fmt == "parquet" and self.writer is not None:
            self.writer.close()


class StreamingMixin:
    """``sample_to`` for a fitted table sampler (see the module docstring)."""

    def sample_to(self, path, n, *, batch_size=100_000, conditions=None, y=None, random_state=None,
                  format=None, rank=None, world_size=None):
        """Write ``n`` sampled rows to ``path`` in shards, with memory bounded by one shard.

        Parameters
        ----------
        path : str or path-like
            A ``.parquet`` or ``.csv`` file, or a folder (an existing one, a
            path ending in ``/`` or without suffix) that receives
            ``part-00000.parquet``, ``part-00001.parquet``, … (``format``).
        n : int
            Rows to write.
        batch_size : int, default=100_000
            Rows per shard (per Parquet row group for a single file).
        conditions : dict, default=None
            As in :meth:`sample`.
        y : label, default=None
            Only for a model fitted with ``y``: the class of every row; by
            default drawn with the training class frequencies. The label is
            written as a last column (named as the training ``y``, or
            ``"target"``).
        random_state : int, default=None
            Seed of the rows: the same seed gives the same rows whatever
            ``batch_size`` and the number of processes. None draws a seed
            from the model's own stream.
        format : {"parquet", "csv"}, default=None
            Shard format in a folder (default Parquet); a file's suffix
            decides for a single file.
        rank, world_size : int, default=None
            This process's share: shards ``i`` with ``i % world_size ==
            rank``. By default taken from an initialised
            ``torch.distributed`` group, else one process writes all.

        Returns
        -------
        list of pathlib.Path
            The files this process wrote.
        """
        check_is_fitted(self)
        if hasattr(self, "image_scaler_"):
            raise ValueError("sample_to writes tables; sample images with sample() and save them with numpy.")
        n = check_n_samples(n)
        if n == 0:
            raise ValueError("n must be at least 1: sample_to has nothing to write for n=0.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if y is not None and np.ndim(y) != 0:
            raise ValueError("sample_to takes one class for every row (y=label) or None; use sample() for a list.")
        if rank is None or world_size is None:
            rank, world_size = world()
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size); got rank={rank}, world_size={world_size}.")
        parse_conditions(self.encoder_, conditions)   # a bad condition fails before anything is written
        seed = _stream_seed(self, random_state)
        raw = os.fspath(path)
        path = Path(raw)
        suffix = path.suffix.lower()
        folder = path.is_dir() or raw.endswith(("/", os.sep)) or suffix == ""
        fmt = (format or "parquet") if folder else _FORMATS.get(suffix)
        if fmt not in ("parquet", "csv"):
            raise ValueError(f"{path}: write .parquet or .csv, or give a folder (format='parquet' or 'csv').")
        n_shards = -(-n // batch_size)
        mine = list(range(rank, n_shards, world_size))
        if not folder and world_size > 1:
            raise ValueError("several processes write a folder of shards, not one file; give a folder path.")
        self._check_requested_y(y)   # before anything is created
        if fmt == "parquet":
            odd = [c for c in self.encoder_.columns_ if not isinstance(c, str)]
            if odd:
                raise ValueError(f"Parquet needs string column names; the model's columns include {odd[:3]}. "
                                 "Fit on a frame with string names, or write .csv.")
        if path.is_file() and folder:
            raise ValueError(f"{path} is a file; give a folder path (or a .parquet / .csv file name).")
        digits = _shard_digits(n_shards)
        if folder:
            path.mkdir(parents=True, exist_ok=True)
            _check_no_stale_shards(path, n_shards, fmt, digits)
        schema = self._arrow_schema(y) if fmt == "parquet" else None
        frames = _BlockCache(self, seed, conditions, y).shards(mine, n, batch_size,
                                                                 verbose=getattr(self, "verbose", False))
        if folder:
            written = []
            for i, frame in frames:
                written.append(write_table(frame, path / f"part-{i:0{digits}d}.{fmt}", schema=schema))
            return written
        with atomic_path(path) as tmp:   # one file: renamed into place once complete
            appender = _Appender(tmp, fmt, schema)
            try:
                for _, frame in frames:
                    appender.write(frame)
            finally:
                appender.close()
        return [path]

    def _arrow_schema(self, y):
        """The Parquet schema of every shard, from one row of valid training values.

        Taken from the data a shard holds, a column that happens to be
        empty in it would be typed ``null`` and clash with the other shards.
        """
        import pyarrow as pa

        row = self._valid_row()
        if _TARGET in row.columns:
            labels = row.pop(_TARGET)
            row[_label_name(self, row.columns)] = labels if y is None else [y]
        return pa.Schema.from_pandas(row, preserve_index=False)


def _label_name(model, columns):
    """The column a class label is written to: the training ``y``'s name, else ``"target"``."""
    name = getattr(model.target_schema_, "name", None)
    return name if name is not None and name not in columns else "target"


def _stream_seed(model, random_state):
    """The seed of the rows: ``random_state`` itself (an int), else drawn as :meth:`sample` draws its stream."""
    if random_state is None or isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return int(model._call_rng(random_state).integers(2**62))
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) or random_state < 0:
        raise ValueError(f"random_state must be None, a non-negative int or a numpy Generator/RandomState, "
                         f"got {random_state!r}.")
    return int(random_state)


def _shard_digits(n_shards):
    """Digits of the shard numbers: at least 5, and enough that names sort in row order."""
    return max(5, len(str(n_shards - 1)))


def _check_no_stale_shards(folder, n_shards, fmt, digits):
    """Refuse a folder holding shards this call would not overwrite (a reader would mix two outputs)."""
    stale = sorted(p.name for p in folder.glob("part-*.*")
                   if p.suffix.lstrip(".") in ("parquet", "csv")
                   and (p.suffix.lstrip(".") != fmt or not p.stem[5:].isdigit() or len(p.stem[5:]) != digits
                        or int(p.stem[5:]) >= n_shards))
    if stale:
        raise ValueError(f"{folder} already holds shards of another output ({', '.join(stale[:3])}"
                         f"{', …' if len(stale) > 3 else ''}); remove them or give an empty folder.")


class _BlockCache:
    """Rows ``[start, stop)`` of the seeded stream, assembled from whole blocks (the last one kept)."""

    def __init__(self, model, seed, conditions, y):
        self.model, self.seed, self.conditions, self.y = model, seed, conditions, y
        self.cached = (None, None)

    def block(self, k):
        if self.cached[0] != k:
            rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(k,)))
            frame, labels = self.model._sample_table(BLOCK_ROWS, self.conditions, self.y, rng)
            if labels is not None:
                frame[_label_name(self.model, frame.columns)] = labels
            self.cached = (k, frame)
        return self.cached[1]

    def shards(self, indices, n, batch_size, *, verbose):
        """``(i, rows of shard i)`` for each shard index, with a progress bar over the rows."""
        total = sum(min(batch_size, n - i * batch_size) for i in indices)
        disable = not verbose or not sys.stderr.isatty()
        with tqdm(total=total, desc="sample_to", unit="row", disable=disable, leave=False) as bar:
            for i in indices:
                start, stop = i * batch_size, min(n, (i + 1) * batch_size)
                yield i, self.rows(start, stop)
                bar.update(stop - start)

    def rows(self, start, stop):
        parts = []
        for k in range(start // BLOCK_ROWS, (stop - 1) // BLOCK_ROWS + 1):
            lo, hi = max(start, k * BLOCK_ROWS) - k * BLOCK_ROWS, min(stop, (k + 1) * BLOCK_ROWS) - k * BLOCK_ROWS
            parts.append(self.block(k).iloc[lo:hi])
        return pd.concat(parts, ignore_index=True)
