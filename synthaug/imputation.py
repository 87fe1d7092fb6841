"""Imputation from a fitted generative model: missing cells generated given the observed ones.

:class:`ImputerMixin` gives an estimator ``impute(X, n_draws=None)``. Each row
is one conditional-sampling problem: its observed cells are *given* (the
conditioning every model is trained with), its missing cells are generated,
and the "missing" level of every column is forbidden, so a draw comes from
p(missing cells | observed cells, the cells are present). A row with every
cell missing is an unconditional sample. Observed cells are copied back from
the input, so they are returned bit for bit.

``n_draws=k`` returns k such draws (multiple imputation). A model reproduces
the cells it was trained on more closely than cells it never saw, so on a
small table its draws for a missing cell can be narrower than its error
there; with ``k >= 2`` the numeric draws are therefore calibrated by default
(split-conformal, on cells the model did not see): a second model of the same
kind is fitted on ``X`` with :data:`CALIBRATION_SHARE` of each numeric
column's observed cells hidden, imputes them, and each column's factor is the
smallest widening of its draws around their mean that puts
:data:`CALIBRATION_LEVEL` of those held-out values inside the draws' central
:data:`CALIBRATION_LEVEL` interval (see :func:`interval_ratios` and
:func:`calibration_factors`), measured on at least :data:`CALIBRATION_DRAWS`
draws of each held-out cell whatever ``k``: the factor corrects the spread of
the model's distribution, and each of the k draws is a draw from it widened. Without ``n_draws``, a table
is filled with the point estimate of that posterior — as scikit-learn's
``IterativeImputer`` does by default — estimated from
:data:`BLENDED_POINT_ESTIMATE_DRAWS` draws (:data:`POINT_ESTIMATE_DRAWS` when
nothing is blended with them): the mean of a numeric cell's draws (the
value that minimises the expected squared error; rounded for integer
columns) — blended, with the Gaussian residual, with the prediction of a
linear imputer fitted on the training rows (:mod:`synthaug.linear`), the
mean of the nearest rows of the table being imputed (:mod:`synthaug.neighbours`)
and one round of MissForest's forests on that table (:mod:`synthaug.forest`)
by per-column weights fitted on held-out observed cells of that table,
estimated by a shorter copy of the model that never saw them
(:func:`blend_weights`): on a small table the mean of a network's draws
carries the network's estimation noise, which a regression does not
— and, for any other cell, the most probable level under the mean of
the probabilities its draws were drawn with (the level that maximises the
chance of being right, with less Monte Carlo noise than the most frequent
drawn level) — pooled, with the Gaussian residual, with the residual's
linear discriminant given the row's observed scores, a forest
classifier's posterior (:mod:`synthaug.forest`), a logistic regression's
(:class:`~synthaug.linear.LevelRegression`) and the vote of the
nearest rows (:mod:`synthaug.neighbours`), by per-column weights
fitted on held-out cells of the table (:func:`~synthaug.blending.pool_weights`).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from ._validation import check_same_columns, check_table
from .blending import (SHRINK_CELLS, blend_weights, decision_offsets, log_linear_pool, log_probabilities,
                       pool_weights)
from .conditioning import TARGET_COLUMN as _TARGET
from .encoding import EncodedTable
from .encoding.columns import NumericColumn, _to_grid
from .encoding.layout import Constraints
from .forest import ForestImputer
from .linear import LevelRegression, LinearImputer
from .neighbours import NeighbourImputer
from .noise import Antithetic

__all__ = ["BLEND_ROWS", "BLEND_SHARE", "CALIBRATION_LEVEL", "CALIBRATION_SHARE", "ImputerMixin",
           "POINT_ESTIMATE_DRAWS", "BLENDED_POINT_ESTIMATE_DRAWS", "blend_weights", "calibration_factors",
           "interval_ratios", "posterior_point_estimate"]

#: Draws per missing cell behind ``impute(X)``'s point estimate when it is their mean alone, in antithetic
#: pairs (:mod:`synthaug.noise`; an even number). 50 independent draws would leave a Monte Carlo error of
#: 1/√50 of the posterior's spread in their mean, adding 2 % of the posterior variance to the expected squared
#: error; the pairs' is smaller.
POINT_ESTIMATE_DRAWS = 50
#: Draws per missing cell when the mean is one estimate of the blend (:func:`blend_weights`), the weights
#: fitted on estimates from as many draws. The Monte Carlo error of 16 independent draws, 6 % of the posterior
#: variance (less in pairs), reaches the blend times the square of the mean's weight, which is below 1 and
#: shared again with the forests' last round; the blend's weights also move away from a noisy mean. On small
#: tables the draws were about half of ``impute``'s time, and 16 instead of 50 imputed as well (development
#: probe on KEEL's tables, breast_cancer and credit; figures in docs/imputation.md).
BLENDED_POINT_ESTIMATE_DRAWS = 16
# rows imputed per pass of the point estimate (each repeated once per draw)
_POINT_CHUNK_ROWS = 1_024
# rows whose last round of forests (ImputerMixin._refine) is predicted at once
_REFINE_CHUNK_ROWS = 16_384
# rows per generated batch of the point estimate (at least two draws of a chunk)
_POINT_BATCH_ROWS = 4_096
#: Central interval of the k draws that multiple imputation is calibrated to cover.
CALIBRATION_LEVEL = 0.9
#: Share of each numeric column's observed cells hidden from the calibration model.
CALIBRATION_SHARE = 0.1
#: Draws per held-out cell behind the widening factors, at least (more when more are asked for): the central
#: interval of a few draws is mostly their sampling noise — of two, their range, which must be widened
#: several times to hold 90 % of the truths, and then sent a third of a column's draws onto its bounds.
CALIBRATION_DRAWS = 20
#: Rows (at most) of the table being imputed, and the share of their observed numeric cells, hidden to fit the
#: point estimate's blend (:func:`blend_weights`).
BLEND_ROWS = 1_024
BLEND_SHARE = 0.2
#: length of the copy of the model the blend's weights are fitted with, as a share of the model's steps
BLEND_PROXY_STEPS = 0.15
#: Rows (at most) of the table being imputed whose categorical pool weights are fitted, each with one of its
#: observed pooled cells held out, and the folds of them: the forest classifier and the logistic regression
#: that predict a fold's cells are fitted on the table with that fold's cells hidden (cross-fitting).
POOL_ROWS = 1_024
POOL_FOLDS = 3
#: The random splits of the pool's held-out cells into :data:`POOL_FOLDS` folds its decision offsets are fitted on.
DECISION_SPLITS = 10
# held-out cells below which no calibration (nor blend) is attempted (the factor would be noise)
_MIN_CALIBRATION_CELLS = 20
# held-out cells of a categorical column below which its pool weight is not fitted (the model's alone)
_MIN_POOL_CELLS = 10
# categorical columns with more levels are left out of the linear imputer's predictors
_LINEAR_MAX_LEVELS = 64
# factors are kept within [1 / _MAX_FACTOR, _MAX_FACTOR]
_MAX_FACTOR = 10.0


def interval_ratios(draws, truth, level=CALIBRATION_LEVEL):
    """By how much each cell's draws must widen around their mean to hold its true value.

    ``draws`` (k, m) and ``truth`` (m,): the ratio of ``|truth − mean|`` to
    the distance from the mean to the side of the draws' central ``level``
    interval that ``truth`` lies on. Widening every draw ``d`` to
    ``mean + f·(d − mean)`` puts a cell inside the interval exactly when its
    ratio is ≤ f. A truth at the mean needs 0; one outside draws that are
    all equal needs ``inf``.

    Examples
    --------
    >>> import numpy as np
    >>> draws = np.array([[-1.0, 0.0], [0.0, 1.0], [1.0, 2.0]])
    >>> interval_ratios(draws, np.array([0.45, 3.0]), level=1.0).tolist()
    [0.45, 2.0]
    """
    draws, truth = np.asarray(draws, dtype=float), np.asarray(truth, dtype=float)
    mean = draws.mean(axis=0)
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
    dist = np.abs(truth - mean)
    reach = np.where(truth > mean, hi - mean, mean - lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(dist == 0, 0.0, dist / reach)


def calibration_factors(ratios, level=CALIBRATION_LEVEL):
    """Per-column widening factors from :func:`interval_ratios` of held-out cells.

    ``ratios`` maps a column to its cells' ratios. A column's own factor is
    the split-conformal quantile of its ratios (level ⌈(n + 1)·level⌉ / n);
    a column with few held-out cells is pulled towards the factor of all
    columns pooled, on the log scale with weight n / (n + 100) for its own.

    Examples
    --------
    >>> import numpy as np
    >>> f = calibration_factors({"a": np.full(1000, 2.0), "b": np.full(10, 1.0)})
    >>> round(f["a"], 2), round(f["b"], 2)
    (2.0, 1.88)
    """
    def conformal(r):
        q = min(1.0, np.ceil((len(r) + 1) * level) / len(r))
        return float(np.clip(np.quantile(r, q, method="higher"), 1 / _MAX_FACTOR, _MAX_FACTOR))

    pooled = np.log(conformal(np.concatenate(list(ratios.values()))))
    out = {}
    for col, r in ratios.items():
        w = len(r) / (len(r) + SHRINK_CELLS)
        out[col] = float(np.exp(w * np.log(conformal(r)) + (1 - w) * pooled))
    return out


def _mode_by_row(draws):
    """Most frequent value of each column of ``draws`` (k, m); a tie goes to the earliest draw."""
    k, m = draws.shape
    codes, levels = pd.factorize(draws.T.ravel(), use_na_sentinel=False)
    rows, order = np.repeat(np.arange(m), k), np.tile(np.arange(k), m)
    counts = np.zeros((m, len(levels)), dtype=np.int64)
    np.add.at(counts, (rows, codes), 1)
    first = np.full((m, len(levels)), k, dtype=np.int64)
    np.minimum.at(first, (rows, codes), order)
    return levels[(counts * (k + 1) - first).argmax(axis=1)]


def posterior_point_estimate(draws, like, *, step=None, categorical=False):
    """One value per row of ``draws`` (k, m): their mean for numbers, their mode otherwise.

    ``like`` (a Series) gives the dtype the result must keep: a float column
    gets the mean itself — the estimate of least expected squared error, as
    scikit-learn's imputers give, even where the column holds whole numbers
    (each draw stays on the column's grid; round the estimate, or take a
    draw, to keep a float column of whole numbers whole) — integer columns
    the rounded mean, datetimes the mean instant (on the column's time grid
    ``step``, in nanoseconds, when given), and booleans, every non-numeric
    dtype and a ``categorical`` column of numbers (one the model treats as
    levels) the most frequent value.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> posterior_point_estimate(np.array([[1.0, 2.0], [3.0, 4.0]]), pd.Series([0.0])).tolist()
    [2.0, 3.0]
    >>> posterior_point_estimate(np.array([["a", "b"], ["a", "c"], ["b", "c"]], dtype=object),
    ...                          pd.Series(["a"])).tolist()
    ['a', 'c']
    """
    dtype = like.dtype
    if categorical or pd.api.types.is_bool_dtype(dtype) or not (pd.api.types.is_numeric_dtype(dtype)
                                                                 or pd.api.types.is_datetime64_any_dtype(dtype)):
        modes = _mode_by_row(draws)
        # a categorical dtype would turn a level outside its categories into NaN: leave that to the caller
        return modes if isinstance(dtype, pd.CategoricalDtype) else pd.Series(modes).astype(dtype).to_numpy()
    if pd.api.types.is_datetime64_any_dtype(dtype):
        # UTC nanoseconds, whatever the column's unit (s, ms, µs or ns)
        ns = pd.Series(draws.ravel()).astype(dtype).dt.as_unit("ns").array.asi8.reshape(draws.shape)
        tz = getattr(dtype, "tz", None)
        # the mean of the offsets from the first draw, in int64: float64 nanoseconds near 2020 are only
        # exact to ~256 ns; then onto the column's time grid (day, hour, …) as sampled values are
        mean = ns[0] + np.round((ns - ns[0]).mean(axis=0)).astype(np.int64)
        if step:
            unit = np.int64(round(step))
            mean = (mean + unit // 2) // unit * unit
        instants = pd.to_datetime(mean, utc=tz is not None)
        return pd.Series(instants.tz_convert(tz) if tz is not None else instants).astype(dtype).to_numpy()
    mean = np.asarray(draws, dtype=np.float64).mean(axis=0)
    if pd.api.types.is_integer_dtype(dtype):
        mean = _to_grid(mean, True, None)
    return pd.Series(mean).astype(dtype).to_numpy()


def _drawn_cells(draws, col, rows):
    """The values of column ``col`` at positions ``rows`` in each completed frame of ``draws``: (k, len(rows))."""
    return np.stack([d[col].to_numpy(dtype=float)[rows] for d in draws])


def _not_calibrated(reason):
    warnings.warn(f"impute: {reason}; the draws are not calibrated. Pass calibrate=False (CLI: --no-calibrate) to "
                  "silence this.",
                  UserWarning, stacklevel=4)


class Blend(NamedTuple):
    """What :meth:`ImputerMixin._impute_point` combines, fitted on held-out cells."""

    #: numeric column → weights of the model's, the linear imputer's, the neighbours' and the forests' estimates
    weights: dict
    #: categorical column → ``{source: weight}`` of the sources' log-posteriors in its log-linear pool: the model's,
    #: the discriminant's, and the forest's, the neighbours' and the logistic regression's where they read the column
    pools: dict
    #: the :class:`~synthaug.neighbours.NeighbourImputer` over the frame (None without numeric weights nor pools)
    neighbours: NeighbourImputer | None
    #: the :class:`~synthaug.forest.ForestImputer` fitted on the frame (None without numeric weights nor pools)
    forest: ForestImputer | None = None
    #: numeric column → weight of a last round of forests, on the frame as the blend completes it
    refine: dict | None = None
    #: the :class:`~synthaug.linear.LevelRegression` fitted on the frame (None without pools the linear imputer reads)
    logistic: LevelRegression | None = None
    #: categorical column → (L,) offsets of its pool's levels (:func:`~synthaug.blending.pool_weights`)
    offsets: dict | None = None
    #: categorical column → (L,) offsets of its pooled log-probabilities before the most probable level is taken
    #: (:func:`~synthaug.blending.mode_decision_offset`, on its most frequent level)
    decisions: dict | None = None


_NO_BLEND = Blend({}, {}, None)


class ImputerMixin:
    """``impute`` for an estimator with the conditioning of :class:`BaseGenerativeSampler`."""

    def impute(self, X, *, n_draws=None, calibrate=True, random_state=None):
        """Fill every missing cell of ``X`` from the model's distribution given the row's observed cells.

        Parameters
        ----------
        X : DataFrame or ndarray of shape (n_samples, n_features)
            The training columns (a DataFrame is aligned by column name);
            NaN/None/NaT mark the cells to fill. Rows may miss any pattern of
            cells, including patterns never seen in training and every cell.
        n_draws : int, default=None
            None returns one completed table holding the point estimate of
            each missing cell: the mean of its draws for numeric columns
            (:data:`BLENDED_POINT_ESTIMATE_DRAWS` of them when blended,
            :data:`POINT_ESTIMATE_DRAWS` alone; rounded for integers; with
            ``gaussian_residual``, blended with a linear imputer's
            prediction, the mean of the nearest rows of ``X`` and a
            forest's prediction fitted on ``X`` by
            per-column weights fitted on observed cells of ``X`` held out
            for it from a copy of the model trained for 15 % of its steps —
            about a seventh of a fit more — see the module's description), the most
            probable level under those draws otherwise (with
            ``gaussian_residual``, pooled with the residual's discriminant,
            a forest classifier and the nearest rows' vote by weights fitted
            on the same held-out cells) — what scikit-learn's
            imputers return, and what minimises the error per cell. An integer k
            returns a list of k completed tables, each an independent draw
            from the model (multiple imputation): their spread reflects the
            model's uncertainty and each keeps the data's variability
            (``n_draws=1`` for a single draw). Images are always filled with
            draws (a pixel-wise mean of inpaintings is a blur).
        calibrate : bool, default=True
            With ``n_draws >= 2``, widen (or narrow) each numeric column's
            draws around each cell's mean by a factor fitted on held-out
            observed cells of ``X`` (see the module's description; measured
            on at least 20 draws of those cells), so that the central 90 % of
            many draws covers the true value for about 90 % of missing cells.
            This fits a second model on ``X``: the call costs about one more
            fit of the model (and 20 draws of the held-out cells). Widened values are kept within the
            column's training range and on its grid (whole numbers stay
            whole). The point estimate, single draws and categorical cells
            are never changed by it.
        random_state : int, RandomState or Generator, default=None
            Seed of this call; None continues the model's own stream.

        Returns
        -------
        X_filled : DataFrame or ndarray, or a list of them
            Same container, columns, index and dtypes as ``X``; observed
            cells unchanged.
        """
        check_is_fitted(self)
        if n_draws is not None and (isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer))
                                    or n_draws < 1):
            raise ValueError(f"n_draws must be None or a positive integer, got {n_draws!r}.")
        if not isinstance(calibrate, (bool, np.bool_)):
            raise TypeError(f"calibrate must be True or False, got {calibrate!r}.")
        if hasattr(self, "image_scaler_"):
            return self._impute_images(X, n_draws, self._call_rng(random_state))
        frame, schema = check_table(X, min_rows=1, allow_constant=True)
        if schema.container == "frame" and hasattr(self, "feature_names_in_"):
            frame = check_same_columns(frame, self.feature_names_in_)
        elif frame.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {frame.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input.")
        else:   # (a frame for a model fitted on an array: its columns by position, named back at the end)
            frame = frame.set_axis(self.schema_.columns, axis=1)
        frame, cast_when_filled = self._with_fitted_dtypes_where_empty(frame)
        self._check_impute_values(frame)
        rng = self._call_rng(random_state)
        if n_draws is None:
            draws = [self._impute_point(frame, rng)]
        else:
            draws = [self._impute_once(frame, rng) for _ in range(n_draws)]
            if calibrate and n_draws >= 2:
                self._widen_draws(draws, frame, self._calibration_factors(frame, n_draws, rng))
        draws = [d.astype(cast_when_filled) if cast_when_filled else d for d in draws]
        if schema.container == "frame":
            by_name = hasattr(self, "feature_names_in_")
            draws = [d[list(X.columns)] if by_name else d.set_axis(X.columns, axis=1) for d in draws]
        wrapped = [schema.wrap(d) for d in draws]
        return wrapped[0] if n_draws is None else wrapped

    def _with_fitted_dtypes_where_empty(self, frame):
        """``(frame, after)``: each entirely missing column of ``frame`` in its training dtype (a copy when one
        changes), and ``{column: dtype}`` of those that take it only once filled.

        A column missing in every row usually arrives as float NaN (``df[c] = np.nan``, a CSV); filled
        with the levels or instants it had at fit, it needs the dtype it had then. A numpy integer or
        boolean column cannot hold the holes: it is filled as it came (float or object), then cast.
        """
        fitted = self.schema_.dtypes
        empty = [c for c in frame.columns if c in fitted and frame[c].dtype != fitted[c] and frame[c].isna().all()]
        after = {}
        if not empty:
            return frame, after
        frame = frame.copy()
        for col in empty:
            dtype = fitted[col]
            if not isinstance(dtype, pd.api.extensions.ExtensionDtype) and (
                    pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype)):
                after[col] = dtype
                if pd.api.types.is_integer_dtype(dtype):
                    continue            # the float column is filled with whole numbers
                dtype = object
            frame[col] = pd.Series([None] * len(frame), index=frame.index, dtype=object).astype(dtype)
        return frame, after

    def _check_impute_values(self, frame):
        """``ValueError`` naming the column for observed values the model cannot take as given.

        Every row is checked, also those with nothing to fill: a category
        unseen at fit, a numeric or datetime value that does not parse as
        its column's type (or is infinite), or datetimes whose time zone (or
        its absence) differs from the training column's.
        """
        self.encoder_.check_levels(frame)
        fitted = self.schema_.dtypes
        for col in frame.columns:
            if self.encoder_.kinds_.get(col) == "datetime" and pd.api.types.is_datetime64_any_dtype(frame[col].dtype):
                tz_now, tz_fit = getattr(frame[col].dtype, "tz", None), getattr(fitted.get(col), "tz", None)
                if (tz_now is None) != (tz_fit is None):
                    raise ValueError(f"Column {col!r} of X is {'naive' if tz_now is None else 'timezone-aware'} "
                                     f"but was {'naive' if tz_fit is None else f'in time zone {tz_fit}'} at fit; "
                                     "convert it with .dt.tz_localize / .dt.tz_convert first.")
        self.encoder_.check_values(frame)

    def _impute_once(self, frame, rng):
        missing = frame.isna()
        rows = np.flatnonzero(missing.to_numpy().any(axis=1))
        out = frame.copy()
        if not len(rows):
            return out
        part = frame.iloc[rows]
        generated = self._generate_missing(part, missing.iloc[rows], rng)
        for col in frame.columns[missing.to_numpy().any(axis=0)]:
            holes = missing[col].to_numpy()
            out.loc[holes, col] = generated[col].to_numpy()[holes[rows]]
        return out

    def _impute_point(self, frame, rng, *, blend=True, level_posteriors=False, draws=None):
        """``frame`` with each missing cell set to the point estimate of its posterior draws.

        With ``blend`` and a :class:`~synthaug.linear.LinearImputer` (the
        model's ``linear_imputer_``), each numeric column's estimate is a
        mixture of the mean of the draws, the linear prediction, the
        mean of the nearest rows of ``frame`` (a
        :class:`~synthaug.neighbours.NeighbourImputer`) and the forests'
        prediction (a :class:`~synthaug.forest.ForestImputer` fitted on
        ``frame``), and each categorical
        column's posterior a :func:`~synthaug.blending.log_linear_pool` of
        the model's, the Gaussian residual's discriminant's, the forest
        classifier's, the logistic regression's and the nearest rows' vote, by the weights
        :meth:`_blend_weights` fits on held-out cells of ``frame``.
        ``level_posteriors`` also returns ``{column: (len(frame), L)}``: the
        posterior over the levels each categorical missing cell was set from
        (NaN in the other rows). ``draws`` per missing cell: by default
        :data:`BLENDED_POINT_ESTIMATE_DRAWS` when a blend was fitted,
        :data:`POINT_ESTIMATE_DRAWS` when not.
        """
        missing = frame.isna()
        rows = np.flatnonzero(missing.to_numpy().any(axis=1))
        out = frame.copy()
        holes_cols = frame.columns[missing.to_numpy().any(axis=0)]
        levels = any(self.encoder_.kinds_[c] == "categorical" for c in holes_cols)
        fitted = self._blend_weights(frame, rng) if blend and len(rows) else _NO_BLEND
        k = draws or (POINT_ESTIMATE_DRAWS if fitted is _NO_BLEND else BLENDED_POINT_ESTIMATE_DRAWS)
        weights, pools = fitted.weights, fitted.pools
        posteriors = {}
        for start in range(0, len(rows), _POINT_CHUNK_ROWS):
            chunk = rows[start:start + _POINT_CHUNK_ROWS]
            part, part_missing = frame.iloc[chunk], missing.iloc[chunk]
            # (by chunk: their designs are dense)
            others = (self.linear_imputer_.predict(part), fitted.neighbours.predict(part),
                      fitted.forest.predict(part)) if weights else ()
            pool_sources = self._pool_sources(part, rng, pools, fitted)
            m = len(chunk)
            repeated = np.tile(np.arange(m), k)       # draw j of row i at j·m + i
            # each batch holds an even number of whole draws (k is even), so its second half repeats its
            # first half's rows, and the antithetic generator gives each of them its first-half twin's
            # noise mirrored
            generated = self._generate_missing(part.iloc[repeated].reset_index(drop=True),
                                               part_missing.iloc[repeated].reset_index(drop=True), rng,
                                               batch_size=2 * m * max(1, _POINT_BATCH_ROWS // (2 * m)),
                                               antithetic=True, steps=self._point_estimate_steps(),
                                               with_probs=levels)
            if levels:
                generated, probs = generated
            for col in holes_cols:
                holes = part_missing[col].to_numpy()
                if not holes.any():
                    continue
                j = frame.columns.get_loc(col)
                if self.encoder_.kinds_[col] == "categorical":
                    posterior = self._level_posterior(col, probs, m, holes)
                    if col in pools:
                        logs = self._pooled_logs(posterior, pool_sources[col], holes)
                        posterior = log_linear_pool([logs[name] for name in pools[col]], list(pools[col].values()),
                                                    self._allowed_levels(col), fitted.offsets[col])
                    if level_posteriors:
                        full = posteriors.setdefault(col, np.full((len(frame), posterior.shape[1]), np.nan))
                        full[chunk[holes]] = posterior
                    ruled = log_probabilities(posterior) + fitted.decisions[col] if col in pools else posterior
                    out.iloc[chunk[holes], j] = self._decode_levels(col, ruled.argmax(axis=1), frame[col].dtype, rng)
                    continue
                draws = generated[col].to_numpy().reshape(k, len(chunk))[:, holes]
                if col in weights:   # (the mean of the blended draws is the blend of the estimates)
                    w = weights[col]
                    draws = w[0] * draws.astype(np.float64) + sum(
                        wi * other[col].to_numpy()[holes] for wi, other in zip(w[1:], others))
                out.iloc[chunk[holes], j] = self._numeric_point(draws, frame, col)
        if fitted.refine:
            self._refine(out, frame, fitted.refine, rng)
        return (out, posteriors) if level_posteriors else out

    def _refine(self, out, frame, refine, rng):
        """Mix ``out``'s estimates of each numeric column in ``refine`` (column → weight) with one more round of
        MissForest: forests fitted on the rows of ``frame`` that have the column, reading the other columns as
        ``out`` completes them (every cell filled by the blend). ``out`` is updated in place."""
        refine = {col: w for col, w in refine.items() if w > 0.0}
        if not refine:
            return
        linear = self.linear_imputer_
        forest = ForestImputer(linear.numeric, linear.categorical).fit(frame, rng, features=out, columns=list(refine))
        holes = frame[list(refine)].isna().to_numpy()
        rows = np.flatnonzero(holes.any(axis=1))
        for start in range(0, len(rows), _REFINE_CHUNK_ROWS):   # (by chunk: the designs are dense)
            chunk = rows[start:start + _REFINE_CHUNK_ROWS]
            predicted = forest.predict(frame.iloc[chunk], features=out.iloc[chunk])
            for i, (col, weight) in enumerate(refine.items()):
                in_chunk = holes[chunk, i]
                if not in_chunk.any():
                    continue
                cells, j = chunk[in_chunk], frame.columns.get_loc(col)
                mixed = (1.0 - weight) * out[col].iloc[cells].to_numpy(dtype=np.float64) \
                    + weight * predicted[col].to_numpy()[in_chunk]
                out.iloc[cells, j] = self._numeric_point(mixed[None, :], frame, col)

    def _numeric_point(self, draws, frame, col):
        """The point estimate of numeric column ``col`` from its ``draws`` (k, m), in ``frame[col]``'s dtype."""
        return posterior_point_estimate(draws, frame[col], step=getattr(self.encoder_.encoders_[col], "step", None))

    def _blend_weights(self, frame, rng):
        """The :class:`Blend` of the point estimate: its weights per column, fitted on held-out cells of ``frame``.

        The numeric columns with missing cells get their weights from
        :meth:`_numeric_weights`; the categorical ones the Gaussian
        residual's discriminant predicts (:meth:`_pooled_columns`) their
        pool's from :meth:`_cross_fitted_pools`. The blend's neighbours read
        ``frame``; its forests and logistic regression are fitted on it.
        Nothing without a linear imputer (the model's estimates alone).
        """
        linear = getattr(self, "linear_imputer_", None)
        if linear is None:
            return _NO_BLEND
        numeric = [c for c in self._calibrated_columns(frame) if c in linear.numeric]
        pooled = self._pooled_columns(frame)
        if not numeric and not pooled:
            return _NO_BLEND
        # (the forests: a regression per numeric column, a classifier per pooled column the linear imputer reads;
        # the neighbours also vote on those columns' levels)
        regressed = [c for c in pooled if c in linear.categorical]
        forested = (linear.numeric if numeric else []) + regressed
        neighbours = NeighbourImputer(linear.numeric, linear.categorical).fit(frame, rng) if forested else None
        forest = ForestImputer(linear.numeric, linear.categorical).fit(frame, rng, columns=forested) \
            if forested else None
        logistic = LevelRegression(linear, regressed).fit(frame, rng) if regressed else None
        weights, refine = self._numeric_weights(frame, rng, numeric, neighbours) if numeric else ({}, None)
        pools, offsets, decisions = self._cross_fitted_pools(frame, rng, pooled, neighbours) if pooled else ({}, {}, {})
        if not weights and not pools:
            return _NO_BLEND
        return Blend(weights, pools, neighbours, forest, refine, logistic, offsets, decisions)

    def _numeric_weights(self, frame, rng, numeric, neighbours):
        """``(weights, refine)`` of :class:`Blend` for the ``numeric`` columns, fitted on cells of ``frame`` held out.

        :data:`BLEND_SHARE` of the observed cells of up to
        :data:`BLEND_ROWS` rows are hidden. A copy of the model fitted
        without them (:meth:`_blend_proxy`; the model itself if it cannot
        be fitted) estimates them, beside its linear imputer, the nearest
        rows of ``frame`` (``neighbours``, reading ``frame``; a row is not
        its own neighbour) and the forests fitted on the frame with the cells
        hidden; :func:`~synthaug.blending.blend_weights` fits the weights on
        the truths (none with fewer than 20 such cells), then
        :meth:`_refine_weights` the weight of a last round of forests.
        """
        linear = self.linear_imputer_
        observed = frame[numeric].notna().to_numpy()
        candidates = np.flatnonzero(observed.any(axis=1))
        rows = np.sort(rng.choice(candidates, min(BLEND_ROWS, len(candidates)), replace=False))
        hidden = dict(zip(numeric, (observed[rows] & (rng.random((len(rows), len(numeric))) < BLEND_SHARE)).T))
        if sum(h.sum() for h in hidden.values()) < _MIN_CALIBRATION_CELLS:
            return {}, None
        held = self._hide(frame, rows, hidden)
        # the held-out cells are honest for a copy of the model fitted without them (the model itself, and its
        # regression, were trained on them when the frame is the training table); a shorter copy suffices
        proxy = self._blend_proxy(held, rng)
        source = proxy if proxy is not None else self
        reference = NeighbourImputer(linear.numeric, linear.categorical).fit(held, rng) \
            if proxy is not None else neighbours
        part, truth = held.iloc[rows], frame.iloc[rows]
        estimate = source._impute_point(part, rng, blend=False, draws=BLENDED_POINT_ESTIMATE_DRAWS)
        # (the forests that estimate the held-out cells never saw them: fitted on the held frame)
        held_forest = ForestImputer(linear.numeric, linear.categorical).fit(held, rng, columns=linear.numeric)
        estimates = (estimate, source.linear_imputer_.predict(part), reference.predict(part, exclude=rows),
                     held_forest.predict(part))

        def floats(values):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)

        cells = {col: (np.stack([floats(e[col])[hidden[col]] for e in estimates], axis=1),
                       floats(truth[col])[hidden[col]])
                 for col in numeric if hidden[col].any()}
        weights = blend_weights(cells)
        return weights, self._refine_weights(part, estimate, cells, weights, hidden, rng)

    def _cross_fitted_pools(self, frame, rng, pooled, neighbours):
        """Each ``pooled`` column's weights, level offsets and decision offsets in the log-linear pool (as
        :meth:`_pool_weights` returns them), fitted on cells of ``frame`` held out.

        Up to :data:`POOL_ROWS` rows each hold out one of their observed
        pooled cells, so a held-out cell's row keeps the rest of what it
        has, as a missing cell's does. The rows are split into
        :data:`POOL_FOLDS` folds; a fold's cells are predicted by the forest
        classifier and the logistic regression fitted on ``frame`` with that
        fold's cells hidden, by the nearest rows' vote (``neighbours``,
        reading ``frame``; a row is not its own neighbour), by the
        discriminant, and by the model's posterior
        (:meth:`_pool_weights`). Every held-out cell enters the weights, a
        fold's sources never having seen it.
        """
        observed = frame[pooled].notna().to_numpy()
        candidates = np.flatnonzero(observed.any(axis=1))
        rows = np.sort(rng.choice(candidates, min(POOL_ROWS, len(candidates)), replace=False))
        # (one cell per row, uniformly among the row's observed pooled cells)
        pick = (rng.random((len(rows), len(pooled))) * observed[rows]).argmax(axis=1)
        hidden = {col: pick == j for j, col in enumerate(pooled)}
        hidden = {col: h for col, h in hidden.items() if h.sum() >= _MIN_POOL_CELLS}
        if not hidden:
            return {}, {}, {}
        held = self._hide(frame, rows, hidden)
        part, truth = held.iloc[rows], frame.iloc[rows]
        posteriors = self._impute_point(part, rng, blend=False, level_posteriors=True,
                                        draws=BLENDED_POINT_ESTIMATE_DRAWS)[1]
        linear, columns = self.linear_imputer_, list(hidden)
        regressed = [c for c in columns if c in linear.categorical]
        folds = [np.sort(f) for f in np.array_split(rng.permutation(len(rows)), min(POOL_FOLDS, len(rows)))]
        # (the linear imputer completes a row from its own cells: a fold's table, completed, is the whole table's
        # completion with the fold's rows as the held-out table completes them)
        completed = (linear.complete(frame), linear.complete(held)) if regressed else None
        found = []
        for in_fold in folds:
            fold_rows = rows[in_fold]
            fold_held = self._hide(frame, fold_rows, {c: h[in_fold] for c, h in hidden.items()})
            fitted, design = Blend({}, {}, neighbours), None
            if regressed:
                design = completed[0].copy()
                design[fold_rows] = completed[1][fold_rows]
                fitted = fitted._replace(
                    logistic=LevelRegression(linear, regressed).fit(fold_held, rng, design=design),
                    forest=ForestImputer(linear.numeric, linear.categorical).fit(fold_held, rng, columns=regressed))
            found.append(self._pool_sources(part.iloc[in_fold], rng, columns, fitted, exclude=fold_rows,
                                            design=None if design is None else design[fold_rows]))
        # each source's log-probabilities back in the rows' order (a source some fold lacks is left out)
        order = np.argsort(np.concatenate(folds))
        sources = {col: {name: np.concatenate([f[col][name] for f in found])[order]
                         for name in found[0][col] if all(name in f[col] for f in found)}
                   for col in columns}
        return self._pool_weights(truth, hidden, posteriors, sources, rng)

    @staticmethod
    def _hide(frame, rows, hidden):
        """A copy of ``frame`` with the cells of ``rows`` that ``hidden`` (column → mask over ``rows``) marks set
        missing."""
        held = frame.copy()
        for col, h in hidden.items():
            cells = np.zeros(len(frame), dtype=bool)
            cells[rows[h]] = True
            held[col] = held[col].mask(cells)
        return held

    def _pool_weights(self, truth, hidden, level_posteriors, sources, rng):
        """``(weights, offsets, decisions)``: each categorical column's weights and level offsets in the log-linear
        pool, and the offsets its decision adds (:func:`~synthaug.blending.decision_offsets`, over
        :data:`DECISION_SPLITS` splits into :data:`POOL_FOLDS` folds), fitted on its cells ``hidden``
        (column → mask over the rows of ``truth``, which holds their levels).

        The model's own level posteriors (``level_posteriors``, as
        :meth:`_impute_point` gives them) and the other ``sources``'
        (:meth:`_pool_sources`, over the same rows) are pooled by
        :func:`~synthaug.blending.pool_weights` (with ``offsets``). The model was trained on those
        cells when the rows come from its training table, but, unlike a
        regression's, its posterior of one cell given the rest of the row does
        not recall them: measured on held-out cells, weights fitted with the
        model's own posteriors imputed more cells right than with those of a
        shorter copy fitted without them (whose weaker posteriors lent the
        other sources too much weight).
        """
        pools, offsets, decisions = {}, {}, {}
        for col, h in hidden.items():
            logs = self._pooled_logs(level_posteriors[col][h], sources[col], h)
            codes = self.encoder_.encoders_[col].codes_for(truth[col][h], name=col)
            allowed, log_posteriors = self._allowed_levels(col), list(logs.values())
            weights, offsets[col] = pool_weights(log_posteriors, codes, allowed, offsets=True)
            pools[col] = {name: float(w) for name, w in zip(logs, weights)}
            decisions[col] = decision_offsets(log_posteriors, codes, allowed, rng, folds=POOL_FOLDS,
                                              splits=DECISION_SPLITS)
        return pools, offsets, decisions

    def _pool_sources(self, part, rng, columns, fitted, *, exclude=None, design=None):
        """``{column: {source: (len(part), L)}}``: the log-probabilities of ``columns``' levels (the model's
        codes) under the residual's discriminant, and ``fitted``'s (a :class:`Blend`) forest classifier,
        neighbours' vote and logistic regression where they read the column (``exclude`` as in
        :meth:`~synthaug.neighbours.NeighbourImputer.predict`; ``design`` as in
        :meth:`~synthaug.linear.LevelRegression.predict_proba`)."""
        if not len(columns):
            return {}
        forest, neighbours, logistic = fitted.forest, fitted.neighbours, fitted.logistic
        out = {col: {"discriminant": log_p}
               for col, log_p in self._discriminant_log_posteriors(part, part.isna(), rng, list(columns)).items()}
        voted = [col for col in columns if neighbours is not None and col in neighbours.levels_]
        votes = neighbours.predict_proba(part, voted, exclude=exclude) if voted else {}
        regressed = logistic.predict_proba(part, columns, design=design) if logistic is not None else {}
        for col in columns:
            proba = forest.predict_proba(part, col) if forest is not None and col in forest.levels_ else None
            if proba is not None:
                out[col]["forest"] = self._log_levels(col, forest.levels_[col], proba)
            if col in votes:
                out[col]["neighbours"] = self._log_levels(col, neighbours.levels_[col], votes[col])
            if col in regressed:
                out[col]["logistic"] = self._log_levels(col, logistic.imputer.levels_[col], regressed[col])
        return out

    @staticmethod
    def _pooled_logs(posterior, sources, cells):
        """``{source: log-probabilities}`` of a column's pool at ``cells`` (a mask over the sources' rows): the model's
        ``posterior`` (already at those cells), then the other ``sources`` (:meth:`_pool_sources`)."""
        return {"model": log_probabilities(posterior), **{name: log_p[cells] for name, log_p in sources.items()}}

    def _log_levels(self, col, levels, proba):
        """(n, L) log-probabilities over categorical column ``col``'s codes from ``proba`` (n, len(levels)) over
        ``levels``, floored by :func:`~synthaug.blending.log_probabilities` (a level ``levels`` lacks among them)."""
        codes = self.encoder_.encoders_[col].levels_.get_indexer(levels)
        full = np.zeros((len(proba), self._level_block(col)[1]))
        full[:, codes[codes >= 0]] = proba[:, codes >= 0]
        return log_probabilities(full)

    def _refine_weights(self, part, estimate, cells, weights, hidden, rng):
        """Each numeric column's weight of :meth:`_refine`'s last round of forests, fitted on the held-out cells.

        ``part`` holds the rows with cells held out (missing there), ``estimate`` the
        copy's completion of them; ``cells`` the blended estimates' held-out
        ``(estimates, truth)`` and ``weights`` their weights, per column. The
        forests read ``estimate`` (every cell filled without the held-out truths)
        and learn from the cells ``part`` has: their predictions and the blend's
        are mixed by :func:`~synthaug.blending.blend_weights` on the truths.
        """
        linear = self.linear_imputer_
        forest = ForestImputer(linear.numeric, linear.categorical).fit(part, rng, features=estimate,
                                                                      columns=list(cells))
        predicted = forest.predict(part, features=estimate)
        mixed = {col: (np.stack([estimates @ weights[col],
                                 predicted[col].to_numpy(dtype=np.float64)[hidden[col]]], axis=1), truth)
                 for col, (estimates, truth) in cells.items()}
        return {col: float(w[1]) for col, w in blend_weights(mixed).items()}

    def _blend_proxy(self, held, rng):
        """A copy of the model fitted on ``held`` for :data:`BLEND_PROXY_STEPS` of its steps, or None if it cannot be.

        Its estimates of the cells ``held`` hides are not in-sample. None
        (the model's own estimates are used) when the copy's fit fails —
        e.g. a column ``held`` leaves constant — or it has no linear imputer.
        """
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                proxy = self._fitted_copy(held, rng, max_steps=max(1, int(round(BLEND_PROXY_STEPS * self.n_iter_))),
                                          calibrate_levels=False)
        except ValueError:
            return None
        return proxy if getattr(proxy, "linear_imputer_", None) is not None else None

    def _fitted_copy(self, frame, rng, *, calibrate_levels=True, **params):
        """A quiet copy of the model (fresh seed, no warm start, no checkpoint, ``params`` set) fitted on ``frame``.

        ``calibrate_levels=False`` skips the fit's calibration of the levels'
        unconditional frequencies (``level_calibration_``), which a copy
        used only for draws conditioned on most of a row's cells does not
        need. The fit's ``ValueError`` (a column left constant, a privacy
        budget too small) propagates.
        """
        from sklearn.base import clone

        params = {"random_state": int(rng.integers(2**31 - 1)), "verbose": False, "warm_start": False,
                  "checkpoint": None, **params}
        copy = clone(self).set_params(**{k: v for k, v in params.items() if k in self.get_params()})
        if not calibrate_levels:
            copy._level_calibration_rounds = 0   # (over the class's rounds, for this copy only)
        return copy.fit(frame)

    def _fit_linear_imputer(self, table):
        """The :class:`~synthaug.linear.LinearImputer` of the training ``table`` behind the blend, or None.

        Fitted with the Gaussian residual (``gaussian_residual``, not under
        DP: it reads the rows) on the numeric columns and the categorical
        ones of at most 64 levels (not the class of ``fit(X, y)``).
        """
        if not (self.gaussian_residual and self._budget is None):
            return None
        encoders = self.encoder_.encoders_
        numeric = [c for c in self._numeric_columns(table) if c != _TARGET]
        # over the encoder's levels; not a column with an <other> code (its rare levels are not one level)
        categorical = {c: encoders[c].levels_ for c in table.columns
                       if c != _TARGET and self.encoder_.kinds_.get(c) == "categorical"
                       and not encoders[c].has_other_ and len(encoders[c].levels_) <= _LINEAR_MAX_LEVELS}
        if not numeric:
            return None
        return LinearImputer(numeric, categorical).fit(table)

    def _level_posterior(self, col, probs, m, holes):
        """Posterior (n_holes, L) over a categorical column's levels at ``holes`` of a chunk of ``m`` rows.

        ``probs`` holds, at j·m + i, the level probabilities that draw j of
        row i was drawn with. Their mean over the draws is the cell's
        posterior over its levels (Rao–Blackwellised: less Monte Carlo noise
        than counting the drawn levels, whose mode flips between runs where
        two levels are close); its most probable level maximises the
        expected share of cells imputed right.
        """
        start, width = self._level_block(col)
        start -= self.encoder_.layout_.n_continuous
        block = probs[:, start: start + width]
        return block.reshape(-1, m, block.shape[1])[:, holes].mean(axis=0)

    def _decode_levels(self, col, codes, dtype, rng):
        """The values of a categorical column's level ``codes``, in ``dtype`` unless that is categorical."""
        values = self.encoder_.encoders_[col].decode(codes, None, rng=rng)
        # a categorical dtype would turn a level outside its categories into NaN: leave that to the caller
        return values if isinstance(dtype, pd.CategoricalDtype) else \
            np.asarray(self.encoder_._restore_dtype(col, values))

    def _level_block(self, col):
        """``(start, width)``: where a categorical column's levels sit in model space."""
        layout = self.encoder_.layout_
        di = layout.column_parts[self.encoder_.columns_.index(col)][1]
        return int(layout.offsets[di]), int(layout.cardinalities[di])

    def _allowed_levels(self, col):
        """Boolean mask (L,) of a categorical column's codes a missing cell may take: its block of
        :meth:`_present_levels` (not its "missing" level)."""
        start, width = self._level_block(col)
        return self._present_levels(torch.device("cpu"))[start: start + width].numpy()

    def _feature_positions(self, col):
        """Where a categorical column's levels sit among the Gaussian residual's features, or None if it has none."""
        residual = getattr(self, "residual_", None)
        if residual is None or not residual.n_features:
            return None
        start, width = self._level_block(col)
        dims = start + np.arange(width)
        features = residual.feature_dims_
        positions = np.minimum(np.searchsorted(features, dims), len(features) - 1)
        return positions if np.array_equal(features[positions], dims) else None

    def _pooled_columns(self, frame):
        """Categorical columns of ``frame`` with missing cells whose levels the Gaussian residual predicts."""
        return [c for c in frame.columns if c != _TARGET and self.encoder_.kinds_.get(c) == "categorical"
                and frame[c].isna().any() and self._feature_positions(c) is not None]

    @torch.inference_mode()
    def _discriminant_log_posteriors(self, part, missing, rng, columns):
        """``{column: (len(part), L)}``: log-probabilities of ``columns``' levels under the residual's discriminant.

        The Gaussian residual's linear discriminant given each row's known
        numeric scores (:meth:`~synthaug.residual.GaussianResidual.moments`);
        the column's level frequencies in a row with none.
        """
        encoded, col_given = self._given_rows(part, missing, rng)
        lt = self.encoder_.layout_.tensors(self.device_)
        x = lt.to_model(torch.as_tensor(encoded.continuous, device=self.device_),
                        torch.as_tensor(encoded.discrete, device=self.device_))
        given = torch.as_tensor(col_given, device=self.device_)[:, lt.dim_to_column]
        features = self.residual_.moments(x, given, features=True)[2].cpu().numpy().astype(np.float64)
        return {col: features[:, self._feature_positions(col)] for col in columns}

    def _numeric_columns(self, frame):
        """Numeric (not boolean, not datetime) columns of ``frame``."""
        return [c for c in frame.columns
                if isinstance(self.encoder_.encoders_.get(c), NumericColumn)
                and pd.api.types.is_numeric_dtype(frame[c].dtype) and not pd.api.types.is_bool_dtype(frame[c].dtype)]

    def _calibrated_columns(self, frame):
        """Numeric (not boolean, not datetime) columns of ``frame`` with missing cells."""
        return [c for c in self._numeric_columns(frame) if frame[c].isna().any()]

    def _calibration_factors(self, frame, k, rng):
        """Widening factor per numeric column from a model fitted without some observed cells."""
        columns = self._calibrated_columns(frame)
        if not columns:
            return {}
        observed = frame[columns].notna().to_numpy()
        hide = observed & (rng.random(observed.shape) < CALIBRATION_SHARE)
        hide[:, observed.sum(axis=0) - hide.sum(axis=0) < 2] = False   # every column keeps observed cells
        if hide.sum() < _MIN_CALIBRATION_CELLS:
            _not_calibrated(f"only {int(hide.sum())} observed numeric cells to hold out (fewer than "
                            f"{_MIN_CALIBRATION_CELLS})")
            return {}
        hidden = frame.copy()
        for j, col in enumerate(columns):
            hidden[col] = hidden[col].mask(hide[:, j])
        try:
            proxy = self._fitted_copy(hidden, rng)
        except ValueError as err:      # e.g. a column left constant, or a privacy budget too small for X
            _not_calibrated(f"the calibration model cannot be fitted on X with cells held out ({err})")
            return {}
        draws = proxy.impute(hidden, n_draws=max(k, CALIBRATION_DRAWS), calibrate=False,
                             random_state=int(rng.integers(2**31 - 1)))
        ratios = {}
        for j, col in enumerate(columns):
            rows = np.flatnonzero(hide[:, j])
            if len(rows):
                truth = frame[col].to_numpy(dtype=float, na_value=np.nan)[rows]
                ratios[col] = interval_ratios(_drawn_cells(draws, col, rows), truth)
        return calibration_factors(ratios)

    def _widen_draws(self, draws, frame, factors):
        """Widen each column's draws (in place) around every missing cell's mean by its factor."""
        for col, f in factors.items():
            rows = np.flatnonzero(frame[col].isna().to_numpy())
            j = frame.columns.get_loc(col)
            stack = _drawn_cells(draws, col, rows)
            mean = stack.mean(axis=0)
            enc = self.encoder_.encoders_[col]
            wide = _to_grid(np.clip(mean + f * (stack - mean), enc.min_, enc.max_), enc.integral, enc.step)
            for d, values in zip(draws, wide):
                d.iloc[rows, j] = pd.Series(values).astype(d[col].dtype).to_numpy()

    def _point_estimate_steps(self):
        """Sampler steps of the draws behind the point estimate; None: the model's own (or it has none)."""
        return None

    @torch.inference_mode()
    def _generate_missing(self, part, missing, rng, batch_size=4_096, *, antithetic=False, steps=None,
                          with_probs=False):
        """Decoded rows for ``part`` with its missing cells generated (observed cells given).

        ``antithetic``: the noise of each batch comes in mirrored halves
        (:class:`~synthaug.noise.Antithetic`); ``steps``: the sampler's steps;
        ``with_probs``: also return the probabilities each row's levels were
        drawn with, ``(len(part), width - n_continuous)`` in model order.
        """
        encoder, device = self.encoder_, self.device_
        lt = encoder.layout_.tensors(device)
        encoded, col_given = self._given_rows(part, missing, rng)
        constraints = Constraints(allowed=self._present_levels(device))
        generator = torch.Generator(device=device).manual_seed(int(rng.integers(2**62)))
        if antithetic:
            generator = Antithetic(generator)
        conts, codes, probs = [], [], []
        for start in range(0, len(part), batch_size):
            sl = slice(start, start + batch_size)
            cols = torch.as_tensor(col_given[sl], device=device)
            x_given = lt.to_model(torch.as_tensor(encoded.continuous[sl], device=device),
                                  torch.as_tensor(encoded.discrete[sl], device=device))
            cont, code, *prob = self._generate_rows(len(cols), cols[:, lt.dim_to_column], x_given, cols.float(),
                                                    constraints, generator, steps=steps, with_probs=with_probs)
            conts.append(cont.cpu().numpy())
            codes.append(code.cpu().numpy() if code is not None else np.zeros((len(cols), 0), np.int64))
            if with_probs:
                probs.append(prob[0].cpu().numpy() if prob[0] is not None else np.zeros((len(cols), 0), np.float32))
        decoded = encoder.inverse_transform(EncodedTable(np.concatenate(conts), np.concatenate(codes)),
                                            random_state=np.random.RandomState(rng.integers(2**31)))
        decoded = decoded.set_axis(part.index, axis=0)
        return (decoded, np.concatenate(probs)) if with_probs else decoded

    def _given_rows(self, part, missing, rng):
        """``(encoded, given)``: ``part`` encoded, with placeholders in its ``missing`` cells, and the
        (len(part), n_columns) mask of the cells given (in the encoder's column order)."""
        encoder = self.encoder_
        # placeholders where cells are missing (never used: those cells are not given)
        table = part.copy()
        valid = self._valid_row()
        for col in part.columns[missing.to_numpy().any(axis=0)]:
            table[col] = table[col].where(~missing[col], valid[col].iloc[0])
        col_given = np.zeros((len(part), encoder.layout_.n_columns), dtype=bool)
        col_given[:, [encoder.columns_.index(c) for c in part.columns]] = ~missing.to_numpy()
        if _TARGET in encoder.columns_:  # a class-conditional model: the class is generated too
            table[_TARGET] = valid[_TARGET].iloc[0]
        return encoder.transform(table[encoder.columns_], random_state=int(rng.integers(2**31))), col_given

    def _present_levels(self, device):
        """Allowed-levels mask over model space forbidding every column's "missing" level."""
        layout = self.encoder_.layout_
        allowed = torch.ones(layout.width, dtype=torch.bool)
        for name, (_, di) in zip(self.encoder_.columns_, layout.column_parts):
            enc = self.encoder_.encoders_[name]
            if di is not None and getattr(enc, "has_missing_", False) and name != _TARGET:
                allowed[int(layout.offsets[di]) + enc.missing_code] = False
        return allowed.to(device)

    def _valid_row(self):
        """One row of valid training values (every code 0 decoded), as placeholders."""
        layout = self.encoder_.layout_
        zeros = EncodedTable(np.zeros((1, layout.n_continuous), np.float32),
                             np.zeros((1, layout.n_discrete), np.int64))
        return self.encoder_.inverse_transform(zeros, random_state=np.random.RandomState(0))
