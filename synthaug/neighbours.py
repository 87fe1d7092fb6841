"""Nearest-neighbour imputation among a table's own rows, the second counterpart of the point estimate's blend.

Where a table's rows form tight clusters (kinds of wine, species, machine
states) the mean of a missing number over the few rows most like its own
row is hard to beat, and neither a regression nor a network trained on a few
hundred rows draws that close to it. :class:`NeighbourImputer` is that
estimate, as scikit-learn's :class:`~sklearn.impute.KNNImputer` computes it
(the Euclidean distance over the cells both rows have, scaled up for the
cells they miss; the neighbours of a cell are the nearest rows that have
its column), on the numeric columns standardised and the categorical ones
one-hot. Its reference rows are those of the table being imputed, not the
training rows, so a fitted model keeps none of them.
:meth:`~synthaug.imputation.ImputerMixin.impute` mixes its prediction with
the model's and the linear imputer's (:func:`~synthaug.blending.blend_weights`),
and pools the vote of a row's nearest rows on a categorical column's level
(:meth:`NeighbourImputer.predict_proba`) with the model's posterior
(:func:`~synthaug.blending.log_linear_pool`).
"""

from __future__ import annotations

import numpy as np

from .linear import OneHotDesign

__all__ = ["NeighbourImputer"]

# query rows whose distances to the reference are held at once
_CHUNK_ROWS = 512


class NeighbourImputer(OneHotDesign):
    """The mean of each missing number over the ``n_neighbors`` nearest reference rows that have it.

    Parameters
    ----------
    numeric : list of str
        Columns predicted (and used in the distance), standardised.
    categorical : dict
        ``{column: levels}``: columns used in the distance, one-hot over
        ``levels`` (two rows of different levels are as far apart there as
        two numbers √2 standard deviations apart).
    n_neighbors : int, default=5
    max_rows : int, default=2_000
        The reference is at most this many rows of the fitted table (drawn
        at random): the distances cost query rows × reference rows.

    Attributes
    ----------
    rows_ : ndarray
        Positions (in the fitted table) of the reference rows, increasing.
    reference_ : ndarray
        Their standardised design (NaN where missing).
    mean_, scale_ : Series
        The numeric columns' means and standard deviations in the fitted table.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> df = pd.DataFrame({"a": [0.0, 0.1, 5.0, 5.1, 0.05], "b": [1.0, 1.2, 9.0, 9.2, np.nan]})
    >>> knn = NeighbourImputer(["a", "b"], {}, n_neighbors=2).fit(df, np.random.default_rng(0))
    >>> round(float(knn.predict(df)["b"].iloc[4]), 2)
    1.1
    """

    def __init__(self, numeric, categorical, *, n_neighbors=5, max_rows=2_000):
        super().__init__(numeric, categorical)
        self.n_neighbors = n_neighbors
        self.max_rows = max_rows

    def fit(self, frame, rng):
        """Take up to ``max_rows`` rows of ``frame`` (drawn with ``rng``) as the reference; returns self."""
        self._fit_design(frame)
        rows = np.arange(len(frame))
        if len(frame) > self.max_rows:
            rows = np.sort(rng.choice(len(frame), self.max_rows, replace=False))
        self.rows_ = rows
        self.reference_ = self._design(frame.iloc[rows])
        return self

    def predict(self, frame, *, exclude=None):
        """Every numeric column of ``frame`` with its missing cells predicted.

        A float DataFrame on ``frame``'s index; its observed cells are
        ``frame``'s up to rounding (they went through the standardisation).

        ``exclude`` (one position of the fitted table per row of ``frame``,
        or -1) names a row that may not be that row's neighbour: the row
        itself, when ``frame`` is the fitted table with cells hidden.
        """
        query = self._design(frame)
        p = len(self.numeric)
        out = query[:, :p].copy()
        holes = np.isnan(out)
        donors = ~np.isnan(self.reference_[:, :p])
        # a cell no reference row is near (no cell in common) gets its column's mean (0: the fitted mean)
        fallback = np.where(donors, self.reference_[:, :p], 0.0).sum(axis=0) / np.maximum(donors.sum(axis=0), 1)
        out[holes] = np.broadcast_to(fallback, out.shape)[holes]
        for j, asked, near, usable in self._nearest(query, holes, donors, exclude):
            values = self.reference_[near, j]
            count = usable.sum(axis=1)
            mean = np.where(usable, values, 0.0).sum(axis=1) / np.maximum(count, 1)
            out[asked, j] = np.where(count > 0, mean, out[asked, j])
        return self._numbers(out, frame.index)

    def predict_proba(self, frame, columns=None, *, exclude=None):
        """``{column: (len(frame), len(levels))}``: probabilities of each categorical column's levels (in
        ``levels_[column]``'s order) where ``frame`` misses it, given the row's other cells.

        A missing cell's are the levels' shares among the row's ``n_neighbors``
        nearest reference rows that have the column, smoothed towards their
        shares of the reference by one row's worth; an observed cell's level
        has probability 1. ``columns`` (default: every categorical column);
        ``exclude`` as in :meth:`predict`. The distances of a chunk of rows are
        computed once for every column.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> df = pd.DataFrame({"a": [0.0, 0.1, 0.2, 5.0, 5.1, 5.2], "g": list("xxxyyy")})
        >>> knn = NeighbourImputer(["a"], {"g": ["x", "y"]}, n_neighbors=3).fit(df, np.random.default_rng(0))
        >>> knn.predict_proba(pd.DataFrame({"a": [0.05, 5.0], "g": [None, "x"]}))["g"].round(3).tolist()
        [[0.875, 0.125], [1.0, 0.0]]
        """
        columns = list(self.levels_) if columns is None else list(columns)
        if not columns:
            return {}
        query = self._design(frame)
        blocks = [self._block(col) for col in columns]
        holes = np.stack([np.isnan(query[:, block[0]]) for block in blocks], axis=1)
        known = np.stack([~np.isnan(self.reference_[:, block[0]]) for block in blocks], axis=1)
        codes = np.full(known.shape, -1)                # each reference row's level of each column (-1: missing)
        for t, block in enumerate(blocks):
            codes[known[:, t], t] = self.reference_[known[:, t]][:, block].argmax(axis=1)
        counts = [np.zeros((len(frame), len(block))) for block in blocks]
        for t, asked, near, usable in self._nearest(query, holes, known, exclude):
            np.add.at(counts[t], (np.repeat(asked, near.shape[1])[usable.ravel()], codes[near, t][usable]), 1.0)
        out = {}
        for t, (col, block) in enumerate(zip(columns, blocks)):
            levels = codes[known[:, t], t]
            shares = np.bincount(levels, minlength=len(block)) / len(levels) if len(levels) \
                else np.full(len(block), 1.0 / len(block))
            voted = (counts[t] + shares) / (counts[t].sum(axis=1, keepdims=True) + 1.0)
            out[col] = np.where(holes[:, t, None], voted, np.nan_to_num(query[:, block]))
        return out

    def _nearest(self, query, wanted, donors, exclude):
        """Yield ``(t, asked, near, usable)`` for each target ``t`` (a column of ``wanted`` (n_query, T) and
        ``donors`` (n_reference, T), the cells asked for and the reference rows that have them): the query rows
        ``asked`` for it, their nearest donors' reference rows ``near`` (len(asked), k) and whether each is at a
        finite distance (``usable``); ``exclude`` as in :meth:`predict`."""
        from sklearn.metrics.pairwise import nan_euclidean_distances

        need = np.flatnonzero(wanted.any(axis=1))
        if exclude is not None:
            excluded = np.asarray(exclude)
            at = np.minimum(np.searchsorted(self.rows_, excluded), len(self.rows_) - 1)
            excluded = np.where(self.rows_[at] == excluded, at, -1)
        for start in range(0, len(need), _CHUNK_ROWS):
            rows = need[start:start + _CHUNK_ROWS]
            dist = nan_euclidean_distances(query[rows], self.reference_)
            dist[np.isnan(dist)] = np.inf            # no cell in common: never a neighbour
            if exclude is not None:
                mine = excluded[rows] >= 0
                dist[np.flatnonzero(mine), excluded[rows][mine]] = np.inf
            for t in np.flatnonzero(wanted[rows].any(axis=0)):
                asked = rows[wanted[rows, t]]
                cand = np.flatnonzero(donors[:, t])
                k = min(self.n_neighbors, len(cand))
                if k == 0:
                    continue
                d = dist[np.searchsorted(rows, asked)][:, cand]
                near = np.argpartition(d, k - 1, axis=1)[:, :k]
                yield t, asked, cand[near], np.isfinite(np.take_along_axis(d, near, axis=1))
