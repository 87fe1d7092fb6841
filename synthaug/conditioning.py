"""Conditioning shared by every model: which cells are given, and constraints.

A generative model in synthaug is trained with random *conditioning masks*:
for each training row a random subset of columns is given (clean) and the
model learns to generate the others. The same fitted model then serves

* unconditional sampling — nothing given;
* exact conditional sampling — the conditioned columns given;
* class-conditional sampling / upsampling — the target column given;
* imputation — the observed cells of each row given.

Conditions that are not a single value (a set of levels, a numeric or
datetime interval) become :class:`~synthaug.encoding.layout.Constraints` on the
generated cells, enforced by the model while it generates, so every returned row
satisfies them with no rejection loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from scipy.special import ndtr

from .encoding.columns import _to_grid
from .encoding.layout import Constraints

#: Name of the class column in the encoded table of a model fitted with ``y``.
TARGET_COLUMN = "__synthaug_target__"

__all__ = ["TARGET_COLUMN", "random_given_columns", "ParsedConditions", "parse_conditions", "condition_tensors",
           "constrained_columns", "enforce_conditions", "exact_levels_as_sets"]


def random_given_columns(n_rows, n_columns, *, generator, device, p_unconditional=0.5, always=None,
                         p_always=0.5):
    """Random mask of given columns for a training batch, shape ``(n_rows, n_columns)``.

    A share ``p_unconditional`` of rows has nothing given; each other row draws
    a rate ``r ~ U(0, 1)`` and gives each column with probability ``r``. Column
    ``always`` (e.g. the class label) is additionally given with probability
    ``p_always``, so class-conditional sampling is well trained.
    """
    u_row = torch.rand(n_rows, 1, generator=generator, device=device)
    rate = torch.rand(n_rows, 1, generator=generator, device=device)
    cells = torch.rand(n_rows, n_columns, generator=generator, device=device)
    given = (cells < rate) & (u_row >= p_unconditional)
    if always is not None:
        extra = torch.rand(n_rows, generator=generator, device=device) < p_always
        given[:, always] |= extra
    # never give every column of a row: there would be nothing to learn
    if n_columns > 1:  # (no data-dependent branch: no host synchronisation per step)
        drop = torch.randint(n_columns, (n_rows,), generator=generator, device=device)
        drop_mask = torch.nn.functional.one_hot(drop, n_columns).bool() & given.all(dim=1, keepdim=True)
        given &= ~drop_mask
    return given


@dataclass
class ParsedConditions:
    """Conditions translated into the encoder's terms.

    Attributes
    ----------
    exact : dict
        Column → the single value every row must take.
    allowed : dict
        Discrete index → boolean array of allowed codes.
    z_bounds : dict
        Continuous index → list of ``(low, high)`` intervals of the normal
        score (one for an interval condition, one per value for a list of a
        numeric column's exact values); the score must fall in one of them.
    mode_log_weights : dict
        Discrete index → log-weight of each code (an interval's continuous
        mode: the log of the share of the column's continuous values inside it).
    intervals : dict
        Column → (low, high) in the column's own units, enforced after decoding.
    value_sets : dict
        Numeric column → the array of values a list condition allows, enforced after decoding.
    """

    exact: dict = field(default_factory=dict)
    allowed: dict = field(default_factory=dict)
    z_bounds: dict = field(default_factory=dict)
    mode_log_weights: dict = field(default_factory=dict)
    intervals: dict = field(default_factory=dict)
    value_sets: dict = field(default_factory=dict)

    def __bool__(self):
        return bool(self.exact or self.allowed or self.z_bounds)


def _is_interval(value):
    return isinstance(value, tuple) and len(value) == 2


def _is_missing(value):
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def parse_conditions(encoder, conditions):
    """Validate ``conditions`` against a fitted :class:`~synthaug.encoding.TableEncoder`.

    Raises ``ValueError`` naming the column for unknown columns, unseen levels
    and intervals with no training support; ``TypeError`` for malformed values.
    """
    parsed = ParsedConditions()
    if conditions is None:
        return parsed
    if not isinstance(conditions, dict):
        raise TypeError(f"conditions must be a dict mapping column to value, got {type(conditions).__name__}.")
    for name, value in conditions.items():
        if name not in encoder.encoders_ or name == TARGET_COLUMN:
            columns = [c for c in encoder.columns_ if c != TARGET_COLUMN]
            hint = " (the class of a model fitted with y is chosen with y=)" if TARGET_COLUMN in encoder.columns_ \
                else ""
            raise ValueError(f"Unknown condition column {name!r}; columns are {columns}{hint}.")
        kind = encoder.kinds_[name]
        enc = encoder.encoders_[name]
        ci, di = encoder.layout_.column_parts[encoder.columns_.index(name)]
        if _is_interval(value):
            if kind == "categorical":
                raise ValueError(f"Condition on {name!r}: an interval needs a numeric or datetime column; "
                                 "give a value or a list of values.")
            lo, hi = _interval_floats(encoder, name, value)
            if lo == hi:     # a point interval is the exact value
                _parse_exact(parsed, encoder, name, value[0])
                continue
            inside = _parse_interval(parsed, encoder, name, enc, ci, di, lo, hi)
            if inside is not None and kind == "datetime":
                inside = tuple(_timestamp(encoder, name, v) for v in inside)
            # decoded values are clipped onto the interval, or onto the outermost training values inside
            # it for a column that decodes to its training values only (a bound may not be one of them)
            parsed.intervals[name] = inside if inside is not None else (value[0], value[1])
        elif isinstance(value, (list, set, frozenset, np.ndarray, pd.Index, pd.Series)):
            values = list(value)
            if not values:
                raise ValueError(f"Condition on {name!r} is an empty list of values.")
            if len(values) == 1:
                _parse_exact(parsed, encoder, name, values[0])
            else:
                _parse_set(parsed, encoder, name, enc, ci, di, values)
        else:
            _parse_exact(parsed, encoder, name, value)
    return parsed


def _interval_floats(encoder, name, value):
    lo, hi = value
    if encoder.kinds_[name] == "datetime":
        conv = [_datetime_ns(encoder, name, v) for v in (lo, hi)]
    else:
        try:
            conv = [float(v) for v in (lo, hi)]
        except (TypeError, ValueError):
            raise TypeError(f"Condition on {name!r}: interval bounds must be numbers, got {value!r}.") from None
    if np.isnan(conv).any() or conv[0] > conv[1]:
        raise ValueError(f"Condition on {name!r}: interval {value!r} is empty or invalid (need low <= high).")
    return conv


def _utc_timestamp(encoder, name, v):
    """``v`` as a naive UTC nanosecond Timestamp (a naive ``v`` is in the column's time zone, if it has one)."""
    try:
        ts = pd.Timestamp(v)
    except (TypeError, ValueError):
        raise ValueError(f"Condition on {name!r}: {v!r} is not a date or time.") from None
    if ts is pd.NaT:
        raise ValueError(f"Condition on {name!r}: {v!r} is not a date or time.")
    tz = encoder.datetime_info_.get(name)
    if tz is not None:
        ts = ts.tz_localize(tz) if ts.tzinfo is None else ts
        ts = ts.tz_convert("UTC").tz_localize(None)
    elif ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.as_unit("ns")


def _datetime_ns(encoder, name, v):
    return float(_utc_timestamp(encoder, name, v).value)


def _timestamp(encoder, name, ns):
    """The instant ``ns`` (UTC nanoseconds, a number or a naive UTC Timestamp) in the column's own time zone."""
    tz = encoder.datetime_info_.get(name)
    ts = ns if isinstance(ns, pd.Timestamp) else pd.Timestamp(int(round(ns)))
    return ts.tz_localize("UTC").tz_convert(tz) if tz is not None else ts


def _shown(encoder, name, v):
    """A bound of column ``name`` as the user writes it: a date for datetime columns, else a number."""
    return str(_timestamp(encoder, name, v)) if encoder.kinds_[name] == "datetime" else f"{v:g}"


def _parse_interval(parsed, encoder, name, enc, ci, di, lo, hi):
    if getattr(enc, "integral", False) and np.ceil(lo) > np.floor(hi):
        raise ValueError(f"Condition on {name!r}: [{lo:g}, {hi:g}] holds no whole number, and the column "
                         "holds only whole numbers.")
    bounds = enc.z_bounds(lo, hi)
    spikes_in = (enc.spikes_ >= lo) & (enc.spikes_ <= hi)
    if bounds is None and not spikes_in.any():
        raise ValueError(f"Condition on {name!r}: no training value lies in [{_shown(encoder, name, lo)}, "
                         f"{_shown(encoder, name, hi)}] (training range [{_shown(encoder, name, enc.min_)}, "
                         f"{_shown(encoder, name, enc.max_)}]).")
    if di is not None:
        allowed = np.zeros(enc.n_levels, dtype=bool)
        if bounds is not None:
            allowed[enc.CONTINUOUS] = True
            parsed.mode_log_weights[di] = _continuous_mode_weights(enc, [bounds])
        allowed[enc._first_spike_code + np.flatnonzero(spikes_in)] = True
        parsed.allowed[di] = allowed
    if ci is not None and bounds is not None:
        parsed.z_bounds[ci] = [bounds]
    support = list(enc.spikes_[spikes_in])
    if bounds is not None:
        if not getattr(enc, "exact_", False):
            return None                      # continuous values anywhere in the interval
        support += list(enc.values_[(enc.values_ >= lo) & (enc.values_ <= hi)])
    return float(min(support)), float(max(support))


def _continuous_mode_weights(enc, intervals):
    """Log-weights of a numeric column's mode codes under a condition that keeps its scores in ``intervals``.

    A spike inside the condition holds all its rows, the continuous mode only
    the share of its values inside: its scores are standard normal, so
    Σ Φ(b) − Φ(a). Every other code keeps weight 0 (log 1).
    """
    weights = np.zeros(enc.n_levels)
    weights[enc.CONTINUOUS] = np.log(max(sum(ndtr(b) - ndtr(a) for a, b in intervals), 1e-300))
    return weights


def _parse_set(parsed, encoder, name, enc, ci, di, values):
    for v in values:
        _check_hashable(name, v)
    kind = encoder.kinds_[name]
    if kind == "categorical":
        codes = enc.codes_for(pd.Series(values, dtype=object), name=name)
        allowed = np.zeros(enc.n_levels, dtype=bool)
        allowed[codes] = True
        if enc.has_other_ and allowed[enc.other_code]:
            raise ValueError(f"Condition on {name!r}: a list may only hold frequent levels; rare levels "
                             "(grouped at fit) can be conditioned on one at a time.")
        if not allowed.all():   # a list of every level constrains nothing: the column stays free
            parsed.allowed[di] = allowed
        return
    floats = np.array([np.nan if _is_missing(v) else
                       (_datetime_ns(encoder, name, v) if kind == "datetime" else _as_float(name, v)) for v in values])
    codes = enc.modes_for(floats)
    cont = (codes == enc.CONTINUOUS) & enc.has_continuous
    # values in the continuous mode: each is a step of the score's CDF when the column keeps its values exactly
    exact = cont & (np.isin(floats, enc.values_) if getattr(enc, "exact_", False) else False)
    if (codes < 0).any() or (cont & ~exact).any():
        raise ValueError(f"Condition on {name!r}: a list of values is supported for values the column takes "
                         f"exactly (its frequent values, or every value of a column with few distinct values), "
                         f"and {_shown_list(encoder, name, floats[(codes < 0) | (cont & ~exact)])} are not; use "
                         "one value or an interval (low, high).")
    steps = enc.z_steps(floats[cont]) if cont.any() else []
    if di is not None:
        allowed = np.zeros(enc.n_levels, dtype=bool)
        allowed[codes[~cont]] = True
        if cont.any():
            allowed[enc.CONTINUOUS] = True
            parsed.mode_log_weights[di] = _continuous_mode_weights(enc, steps)
        parsed.allowed[di] = allowed
    if cont.any():
        parsed.z_bounds[ci] = steps
        if kind != "datetime":
            parsed.value_sets[name] = np.unique(floats[~np.isnan(floats)])


def _shown_list(encoder, name, values):
    shown = [_shown(encoder, name, v) for v in values[:5]]
    return "[" + ", ".join(shown) + (", …]" if len(values) > 5 else "]")


def _check_hashable(name, value):
    try:
        hash(value)
    except TypeError:
        raise TypeError(f"Condition on {name!r}: value {value!r} is not hashable.") from None


def _parse_exact(parsed, encoder, name, value):
    _check_hashable(name, value)
    kind = encoder.kinds_[name]
    enc = encoder.encoders_[name]
    if _is_missing(value):
        if not enc.has_missing_:
            raise ValueError(f"Condition on {name!r}: the column had no missing values during fit.")
        parsed.exact[name] = None
        return
    if kind == "categorical":
        enc.codes_for(pd.Series([value], dtype=object), name=name)   # raises on unseen
    else:
        ts = _utc_timestamp(encoder, name, value) if kind == "datetime" else None
        v = float(ts.value) if ts is not None else _as_float(name, value)
        if not enc.min_ <= v <= enc.max_:
            raise ValueError(f"Condition on {name!r}: {value!r} is outside the training range "
                             f"[{_shown(encoder, name, enc.min_)}, {_shown(encoder, name, enc.max_)}].")
        if kind != "datetime" and not _on_grid(v, getattr(enc, "integral", False), getattr(enc, "step", None)):
            grid = "whole numbers" if enc.integral else f"multiples of {enc.step:g}"
            raise ValueError(f"Condition on {name!r}: {value!r} cannot occur; the column holds only {grid}.")
        if ts is not None:   # written back exactly (int64), in the column's own time zone or naive, as fitted
            value = _timestamp(encoder, name, ts)
    parsed.exact[name] = value


def _on_grid(v, integral, step):
    """Is ``v`` on the column's grid, up to float rounding (a float32 4.2 is on the grid of 0.1)?"""
    grid = _to_grid(v, integral, step)
    return bool(np.isclose(grid, v, rtol=1e-6, atol=1e-9 * (step or 1.0)))


def _as_float(name, value):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"Condition on {name!r}: {value!r} is not a number.") from None
    if not np.isfinite(v):
        raise ValueError(f"Condition on {name!r}: {value!r} is not finite.")
    return v


def constrained_columns(encoder, parsed):
    """Columns a set or an interval condition constrains (not to one value): ``(n_columns,)`` bool.

    A sampler masks their levels and bounds their scores as it generates, so
    every row satisfies the condition; the other columns then follow the
    condition only as far as the generation carries it. Generating those
    columns again *given* the constrained cells as drawn makes them follow it
    exactly (see ``BaseGenerativeSampler._sample_encoded``).
    """
    parts = encoder.layout_.column_parts
    return np.array([(ci is not None and ci in parsed.z_bounds) or (di is not None and di in parsed.allowed)
                     for ci, di in parts], dtype=bool)


def exact_levels_as_sets(encoder, parsed):
    """A copy of ``parsed`` where each exact level of a categorical column is a one-level set.

    The value stays in ``exact`` of the original (which
    :func:`enforce_conditions` writes back); in the copy the column is no
    longer given but constrained, for a sampler that draws constrained
    levels better than it generates from given ones
    (:class:`~synthaug.GANSampler`). A missing value and a rare level
    grouped at fit stay exact.
    """
    out = ParsedConditions(**{f: dict(getattr(parsed, f)) for f in parsed.__dataclass_fields__})
    parts = encoder.layout_.column_parts
    for name, value in parsed.exact.items():
        ci, di = parts[encoder.columns_.index(name)]
        if encoder.kinds_[name] != "categorical" or ci is not None or value is None:
            continue
        enc = encoder.encoders_[name]
        code = int(enc.codes_for(pd.Series([value], dtype=object), name=name)[0])
        if code == enc.other_code:
            continue
        allowed = np.zeros(enc.n_levels, dtype=bool)
        allowed[code] = True
        out.allowed[di] = allowed
        del out.exact[name]
    return out


def condition_tensors(encoder, layout_tensors, parsed, n_rows, *, given_frame=None, device):
    """Tensors for a sampler: ``given`` (n, width), ``x_given`` (n, width), ``cond`` (n, n_columns), ``Constraints``.

    ``given_frame`` (optional, n rows) holds per-row exact values for some
    columns (e.g. the class label of each requested row); ``parsed.exact``
    applies to all rows.
    """
    layout = encoder.layout_
    cols = {}
    if parsed.exact:
        cols.update({k: pd.Series([v] * n_rows, dtype=object) for k, v in parsed.exact.items()})
    if given_frame is not None:
        cols.update({k: given_frame[k].reset_index(drop=True) for k in given_frame.columns})
    cont = np.zeros((n_rows, layout.n_continuous), dtype=np.float32)
    disc = np.zeros((n_rows, layout.n_discrete), dtype=np.int64)
    col_given = np.zeros(layout.n_columns, dtype=bool)
    for name, series in cols.items():
        j = encoder.columns_.index(name)
        codes, z = encoder.encode_column(name, series)
        ci, di = layout.column_parts[j]
        if di is not None:
            disc[:, di] = codes
        if ci is not None:
            cont[:, ci] = z
        col_given[j] = True
    col_mask = torch.as_tensor(col_given, device=device)
    cond = col_mask.float().expand(n_rows, -1)
    if col_given.any():
        x_given = layout_tensors.to_model(torch.as_tensor(cont, device=device), torch.as_tensor(disc, device=device))
        given = col_mask[layout_tensors.dim_to_column].expand(n_rows, -1)
    else:  # nothing given: the sampler skips the inpainting work
        given = x_given = None
    constraints = None
    if parsed.allowed or parsed.z_bounds:
        allowed = torch.ones(layout.width, dtype=torch.bool)
        for di, mask in parsed.allowed.items():
            off = int(layout.offsets[di])
            allowed[off: off + len(mask)] = torch.as_tensor(mask)
        low = high = None
        if parsed.z_bounds:
            # (n_continuous, K): each score's intervals, the first (-inf, inf) for a free score, the unused
            # ones empty (inf, inf)
            k = max(len(v) for v in parsed.z_bounds.values())
            low = torch.full((layout.n_continuous, k), torch.inf)
            high = torch.full((layout.n_continuous, k), torch.inf)
            low[:, 0] = -torch.inf
            for ci, intervals in parsed.z_bounds.items():
                for j, (lo, hi) in enumerate(intervals):
                    low[ci, j], high[ci, j] = lo, hi
            low, high = low.to(device), high.to(device)
        log_weights = None
        if parsed.mode_log_weights:
            log_weights = torch.zeros(layout.width)
            for di, w in parsed.mode_log_weights.items():
                off = int(layout.offsets[di])
                log_weights[off: off + len(w)] = torch.as_tensor(w, dtype=torch.float32)
            log_weights = log_weights.to(device)
        constraints = Constraints(allowed.to(device), low, high, log_weights)
    return given, x_given, cond, constraints


def enforce_conditions(frame, parsed):
    """Write exact values and clip intervals on the decoded frame (in place).

    The model already generates inside the constraints; this removes the
    last rounding error (an integer grid, a decoded value on an interval's
    edge) and restores the exact requested value (e.g. a rare level).
    """
    for name, value in parsed.exact.items():
        col = frame[name]
        filled = pd.Series([value] * len(frame), index=frame.index, dtype=object)
        frame[name] = filled.astype(col.dtype) if value is not None else _missing_like(col)
    for name, allowed in parsed.value_sets.items():
        # each decoded value onto the nearest listed value (they are decoded exactly; a safety net)
        v = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        k = np.clip(np.searchsorted(allowed, v), 1, max(len(allowed) - 1, 1))
        below, above = allowed[np.minimum(k - 1, len(allowed) - 1)], allowed[np.minimum(k, len(allowed) - 1)]
        nearest = np.where(np.abs(v - below) <= np.abs(above - v), below, above)
        frame[name] = pd.Series(np.where(np.isnan(v), v, nearest), index=frame.index).astype(frame[name].dtype)
    for name, (lo, hi) in parsed.intervals.items():
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            lo, hi = pd.Timestamp(lo), pd.Timestamp(hi)
            tz = getattr(col.dtype, "tz", None)
            if tz is not None:
                lo = lo.tz_localize(tz) if lo.tzinfo is None else lo
                hi = hi.tz_localize(tz) if hi.tzinfo is None else hi
            frame[name] = col.clip(lo, hi)
        else:
            if pd.api.types.is_integer_dtype(col.dtype):
                lo, hi = np.ceil(lo), np.floor(hi)
            frame[name] = col.clip(lo, hi).astype(col.dtype)
    return frame


def _missing_like(col):
    out = pd.Series([None] * len(col), index=col.index, dtype=object)
    try:
        return out.astype(col.dtype)
    except (TypeError, ValueError):
        return out.astype(np.float64)
