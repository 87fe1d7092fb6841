"""Encoding speed benchmark: ``TableEncoder`` fit / transform / inverse_transform.

Builds a mixed frame (default 1,000,000 rows × 20 columns: floats with spikes
and NaN, integers, money amounts, categoricals including one with 10,000
levels, booleans, nullable integers, strings, datetimes naive and tz-aware),
times each phase separately (wall clock, best of ``--repeat``), measures the
peak resident memory of the process (``ru_maxrss``) and the peak Python
allocation of each phase (``tracemalloc``, ``--tracemalloc``: one extra,
untimed run per phase), checks that the round trip is exact, and prints a
markdown table.

Usage (from the repository root)::

    python benchmarks/encoding.py                       # 1M × 20, writes docs/encoding.md
    python benchmarks/encoding.py --rows 100000 --no-write
    python benchmarks/encoding.py --profile transform   # cProfile the named phase

The table is written into ``docs/encoding.md`` between
``<!-- encoding-bench:start -->`` and ``<!-- encoding-bench:end -->``; the
rest of the file is kept.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import platform
import pstats
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from synthaug.encoding import TableEncoder

REPO_ROOT = Path(__file__).resolve().parent.parent
DOC = REPO_ROOT / "docs" / "encoding.md"
START_MARKER = "<!-- encoding-bench:start -->"
END_MARKER = "<!-- encoding-bench:end -->"


def make_frame(n_rows, seed=0):
    """A mixed 20-column frame with the shapes real tables have."""
    rng = np.random.default_rng(seed)

    def with_nan(x, rate):
        x = np.asarray(x, dtype=np.float64).copy()
        x[rng.random(n_rows) < rate] = np.nan
        return x

    zero_inflated = np.where(rng.random(n_rows) < 0.6, 0.0, rng.gamma(2.0, 500.0, n_rows))
    spiky = rng.normal(50.0, 10.0, n_rows)
    spiky[rng.random(n_rows) < 0.1] = -1.0           # a sentinel code
    spiky[rng.random(n_rows) < 0.05] = 100.0         # a cap
    levels_10k = np.array([f"id{i:05d}" for i in range(10_000)], dtype=object)
    zipf = np.minimum(rng.zipf(1.3, n_rows), 10_000) - 1
    start = np.datetime64("2015-01-01T00:00:00", "s").astype(np.int64)
    seconds = start + rng.integers(0, 10 * 365 * 86_400, n_rows)
    days = np.datetime64("1950-01-01", "D").astype(np.int64) + rng.integers(0, 60 * 365, n_rows)
    frame = pd.DataFrame({
        "income": with_nan(rng.lognormal(10.0, 0.8, n_rows), 0.05),
        "zero_inflated": with_nan(zero_inflated, 0.02),
        "spiky": spiky,
        "ratio": rng.beta(2.0, 5.0, n_rows),
        "money": np.round(rng.gamma(2.0, 100.0, n_rows), 2),
        "age": rng.integers(18, 90, n_rows),
        "count": rng.poisson(3.0, n_rows).astype(np.int32),
        "big_int": rng.integers(0, 10_000_000, n_rows),
        "small_uint": rng.integers(0, 200, n_rows).astype(np.uint8),
        "nullable_int": pd.array(np.where(rng.random(n_rows) < 0.1, None, rng.integers(0, 12, n_rows)),
                                 dtype="Int64"),
        "city": pd.Categorical(rng.choice(["paris", "lyon", "lille", "nice", "brest"], n_rows,
                                          p=[0.4, 0.25, 0.2, 0.1, 0.05])),
        "customer_id": pd.Categorical.from_codes(zipf, categories=levels_10k),
        "segment": pd.Series(rng.choice(np.array(["a", "b", "c", None], dtype=object), n_rows,
                                        p=[0.5, 0.3, 0.15, 0.05])),
        "grade": pd.Categorical(rng.choice(["lo", "mid", "hi"], n_rows), categories=["lo", "mid", "hi"],
                                ordered=True),
        "label": pd.array(rng.choice(["yes", "no"], n_rows), dtype="string"),
        "flag": rng.random(n_rows) < 0.3,
        "maybe": pd.array(np.where(rng.random(n_rows) < 0.1, None, rng.random(n_rows) < 0.5),
                          dtype="boolean"),
        "signup": pd.to_datetime(seconds, unit="s"),
        "birth": pd.Series(pd.to_datetime(days, unit="D")).where(rng.random(n_rows) > 0.03),
        "event_utc": pd.to_datetime(seconds - rng.integers(0, 86_400, n_rows), unit="s", utc=True)
                       .tz_convert("Europe/Paris"),
    })
    return frame


def _rss_mb():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2 ** 20


def timed(fn, *, repeat, trace):
    """``(result, best seconds, peak traced MB or None)``.

    The timing runs untraced (tracemalloc slows allocation-heavy numpy code);
    with ``trace`` one more run measures the peak of new allocations.
    """
    best, result, peak = np.inf, None, None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    if trace:
        gc.collect()
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
        tracemalloc.stop()
    return result, best, peak


def run(n_rows, *, repeat=1, trace=False, profile=None):
    t0 = time.perf_counter()
    frame = make_frame(n_rows)
    build = time.perf_counter() - t0
    frame_mb = frame.memory_usage(deep=True).sum() / 2 ** 20
    rss_before = _rss_mb()
    enc = TableEncoder()
    phases = {
        "fit": lambda: enc.fit(frame, random_state=0),
        "transform": lambda: enc.transform(frame),
        "transform (dequantised)": lambda: enc.transform(frame, random_state=0),
    }
    rows, results = [], {}
    for name, fn in phases.items():
        if profile and name == profile:
            _profile(fn)
        results[name], secs, peak = timed(fn, repeat=repeat, trace=trace)
        rows.append((name, secs, peak))
    table = results["transform"]
    inv = lambda: enc.inverse_transform(table, random_state=0)  # noqa: E731
    if profile == "inverse_transform":
        _profile(inv)
    decoded, secs, peak = timed(inv, repeat=repeat, trace=trace)
    rows.append(("inverse_transform", secs, peak))
    info = dict(
        n_rows=n_rows, n_columns=frame.shape[1], frame_mb=frame_mb, build_seconds=build,
        rss_before_mb=rss_before, rss_peak_mb=_rss_mb(),
        encoded_shape=(table.continuous.shape[1], table.discrete.shape[1]),
        encoded_mb=(table.continuous.nbytes + table.discrete.nbytes) / 2 ** 20,
        width=enc.layout_.width, widest=max(enc.layout_.cardinalities),
        **check_round_trip(enc, frame, decoded),
    )
    return rows, info


def check_round_trip(enc, frame, decoded):
    """Which columns come back bit-exact, which within float tolerance, which are tail-sampled."""
    exact, close, sampled, worst = [], [], [], 0.0
    for name in frame.columns:
        a, b = frame[name], decoded[name]
        assert a.dtype == b.dtype, (name, a.dtype, b.dtype)
        enc_col = enc.encoders_[name]
        if getattr(enc_col, "has_other_", False):
            # levels beyond max_levels share one code and are decoded by sampling
            assert set(b.dropna()) <= set(a.dropna()), name
            head = a.isin(list(enc_col.levels_)).to_numpy()
            assert a[head].equals(b[head]), name
            sampled.append(name)
        elif a.equals(b):
            exact.append(name)
        else:
            # more distinct values than n_knots: the float32 normal score limits precision
            x, y = _as_float(a), _as_float(b)
            assert np.array_equal(np.isnan(x), np.isnan(y)), name
            err = float(np.nanmax(np.abs(x - y)) / (np.nanmax(x) - np.nanmin(x)))
            assert err < 1e-5, (name, err)
            worst = max(worst, err)
            close.append(name)
    return dict(exact=exact, close=close, sampled=sampled, worst_rel=worst)


def _as_float(s):
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        ns = s.dt.tz_convert("UTC").dt.tz_localize(None) if getattr(s.dtype, "tz", None) else s
        out = ns.astype("datetime64[ns]").to_numpy(dtype="int64", na_value=0).astype(np.float64)
        out[s.isna().to_numpy()] = np.nan
        return out
    return s.to_numpy(dtype=np.float64, na_value=np.nan)


def _profile(fn, top=25):
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(top)


def render(rows, info, *, trace):
    n = info["n_rows"]
    lines = [
        f"{n:,} rows × {info['n_columns']} columns ({info['frame_mb']:,.0f} MB in pandas), "
        f"{platform.python_implementation()} {platform.python_version()}, numpy {np.__version__}, "
        f"pandas {pd.__version__}, {os.cpu_count()} CPU core(s) ({platform.machine()}).",
        "",
        "| phase | seconds | rows / second |" + (" peak allocation (MB) |" if trace else ""),
        "|---|---:|---:|" + ("---:|" if trace else ""),
    ]
    for name, secs, peak in rows:
        line = f"| `{name}` | {secs:.2f} | {n / secs:,.0f} |"
        if trace:
            line += f" {peak:,.0f} |"
        lines.append(line)
    c, d = info["encoded_shape"]
    lines += [
        "",
        f"Encoded: {c} continuous + {d} discrete columns ({info['encoded_mb']:,.0f} MB); "
        f"model-space width {info['width']} (widest one-hot block: {info['widest']} codes, "
        "for the 10,000-level column).",
        f"Peak resident memory of the whole run: {info['rss_peak_mb']:,.0f} MB "
        f"({info['rss_before_mb']:,.0f} MB after importing synthaug and torch and building the frame).",
        f"Round trip `inverse_transform(transform(df))`: {len(info['exact'])} columns bit-exact"
        + (f"; {', '.join(f'`{c}`' for c in info['close'])} (more than `n_knots` distinct values, decoded "
           f"through a float32 score) within {info['worst_rel']:.1e} of the column's range"
           if info["close"] else "")
        + (f"; {', '.join(f'`{c}`' for c in info['sampled'])}: every frequent level exact, the rare tail "
           "(beyond `max_levels`) re-drawn from its training frequencies" if info["sampled"] else "")
        + ".",
    ]
    return "\n".join(lines)


def write_section(text, path=DOC):
    block = f"{START_MARKER}\n{text}\n{END_MARKER}"
    old = path.read_text() if path.exists() else ""
    if START_MARKER in old and END_MARKER in old:
        head, rest = old.split(START_MARKER, 1)
        _, tail = rest.split(END_MARKER, 1)
        new = head + block + tail
    else:
        new = old.rstrip() + ("\n\n" if old else "") + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs per phase")
    parser.add_argument("--tracemalloc", action="store_true", help="also report peak traced allocation per phase")
    parser.add_argument("--profile", choices=["fit", "transform", "inverse_transform"], default=None)
    parser.add_argument("--no-write", action="store_true", help=f"do not update {DOC.relative_to(REPO_ROOT)}")
    args = parser.parse_args(argv)
    rows, info = run(args.rows, repeat=args.repeat, trace=args.tracemalloc, profile=args.profile)
    text = render(rows, info, trace=args.tracemalloc)
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"\nwritten to {DOC.relative_to(REPO_ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
