"""Scale benchmark: fit cost, sampling throughput and peak memory from 10k to 1M rows.

The table is the bundled credit data (14 columns with the target) grown to
``n`` rows by resampling rows and jittering the continuous columns, so the
columns keep their kinds, spikes and missing values. Every measurement runs
in a fresh subprocess, whose peak resident memory (``ru_maxrss``) is
reported with the encoded table's size.

* **fit**: ``max_steps`` optimiser steps (default 300) after fitting the
  encoder on the whole table; reported as seconds per epoch — encoder fit and
  transform plus one pass of ``n / batch_size`` steps at the measured step
  time — and per 1,000 rows of an epoch;
* **sample**: rows per second drawing 200,000 rows with ``sample`` (default
  settings: 10 DDIM steps for the diffusion model);
* **stream**: ``sample_to`` of 10,000,000 rows into a folder of Parquet
  shards, with its peak memory;
* **peers** (at 100k rows, through ``--peer-python`` where SDV is installed):
  SDV's GaussianCopulaSynthesizer and CTGANSynthesizer fitted with 1 epoch
  (CTGAN) and sampled, to compare fit and sampling speed.

Examples (from the repository root)::

    python benchmarks/scale.py                                   # 10k, 100k, 1M; both samplers
    python benchmarks/scale.py --sizes 10000 100000 --no-stream  # quicker
    python benchmarks/scale.py --peer-python PEER_ENV/bin/python  # with SDV at 100k
"""

from __future__ import annotations

import argparse
import datetime
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fidelity import fmt, publish  # noqa: E402

START, END = "<!-- scale:start -->", "<!-- scale:end -->"
SAMPLE_ROWS = 200_000
STREAM_ROWS = 10_000_000


def grown_credit(n, seed=0):
    """The credit table resampled to ``n`` rows, continuous columns jittered by 1 % of their spread."""
    # read the bundled file directly: the peers' environment has no synthaug
    base = pd.read_csv(Path(__file__).resolve().parents[1] / "synthaug" / "datasets" / "data" / "credit_data.csv")
    rng = np.random.default_rng(seed)
    out = base.iloc[rng.integers(len(base), size=n)].reset_index(drop=True)
    for col in out.select_dtypes("number"):
        values = out[col]
        if values.nunique() > 50:   # continuous: jitter; few-valued codes stay as they are
            noise = rng.normal(0, 0.01 * values.std(), size=n)
            jittered = (values + noise).clip(values.min(), values.max())
            out[col] = jittered.round().astype(values.dtype) if pd.api.types.is_integer_dtype(values) else jittered
    return out


def wide_credit(n, seed=0):
    """30 mixed columns: two independent draws of the grown credit table side by side, a date and a
    10,000-level string column (the issue's 1M × 30 memory case)."""
    rng = np.random.default_rng(seed + 1)
    left = grown_credit(n, seed)
    right = grown_credit(n, seed + 1).add_suffix("_2")
    out = pd.concat([left, right], axis=1)
    out["opened"] = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 3_000, size=n), unit="D")
    out["branch"] = pd.Series(rng.integers(0, 10_000, size=n)).map("b{:05d}".format)
    return out


def _peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux


def measure(model_name, n, steps, wide=False):
    """One configuration, in this (fresh) process: a dict of figures."""
    import torch

    from synthaug import DiffusionSampler, GANSampler

    data = wide_credit(n) if wide else grown_credit(n)
    base_mib = _peak_mib()
    cls = {"diffusion": DiffusionSampler, "gan": GANSampler}[model_name]
    model = cls(max_steps=steps, random_state=0, verbose=False)
    start = time.perf_counter()
    model.fit(data)
    fit_s = time.perf_counter() - start
    train_s = model.history_["seconds"][-1]
    step_s = train_s / steps
    encode_s = fit_s - train_s
    epoch_s = encode_s + step_s * n / model.batch_size_
    fit_peak = _peak_mib()
    encoded = model.encoder_.transform(data.head(1000))
    row_bytes = encoded.continuous[:1].nbytes + encoded.discrete[:1].nbytes
    model_mib = sum(p.numel() * p.element_size() for m in model.__dict__.values() if isinstance(m, torch.nn.Module)
                    for p in m.parameters()) / 2**20
    start = time.perf_counter()
    model.sample(SAMPLE_ROWS, random_state=0)
    sample_s = time.perf_counter() - start
    return {"model": model_name, "rows": n, "columns": data.shape[1], "steps": steps,
            "batch_size": model.batch_size_, "fit_s": fit_s,
            "encode_s": encode_s, "step_s": step_s, "epoch_s": epoch_s, "epoch_s_per_1k_rows": epoch_s / n * 1e3,
            "sample_rows_per_s": SAMPLE_ROWS / sample_s, "input_mib": base_mib,
            "fit_peak_mib": fit_peak, "fit_extra_mib": fit_peak - base_mib,
            "encoded_mib": row_bytes * n / 2**20, "model_mib": model_mib}


def stream(model_name, n_rows):
    """``sample_to`` of ``n_rows`` rows (a model fitted on 10k rows, 100 steps) and its peak memory."""
    from synthaug import DiffusionSampler, GANSampler

    cls = {"diffusion": DiffusionSampler, "gan": GANSampler}[model_name]
    model = cls(max_steps=100, random_state=0, verbose=False).fit(grown_credit(10_000))
    before = _peak_mib()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        paths = model.sample_to(Path(folder) / "out", n_rows, batch_size=250_000, random_state=0)
        seconds = time.perf_counter() - start
        size = sum(p.stat().st_size for p in paths) / 2**20
    return {"model": model_name, "rows": n_rows, "seconds": seconds, "rows_per_s": n_rows / seconds,
            "shards": len(paths), "parquet_mib": size, "peak_mib": _peak_mib(), "peak_before_mib": before}


def peer(name, n):
    """An SDV synthesizer at ``n`` rows: fit and sampling speed, peak memory (run in the SDV environment)."""
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer

    data = grown_credit(n)
    if hasattr(Metadata, "detect_from_dataframe"):   # SDV 1.x
        metadata = Metadata.detect_from_dataframe(data=data, table_name="credit")
    else:                                            # SDV 2.x
        metadata = Metadata.detect_from_dataframes({"credit": data})
    synth = GaussianCopulaSynthesizer(metadata) if name == "gaussian_copula" else \
        CTGANSynthesizer(metadata, epochs=1)
    start = time.perf_counter()
    try:   # SDV 2.x takes {table: frame}
        synth.fit({"credit": data})
    except Exception:  # noqa: BLE001 - SDV 1.x takes the frame
        synth.fit(data)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    synth.sample(num_rows=SAMPLE_ROWS)
    sample_s = time.perf_counter() - start
    return {"model": name, "rows": n, "fit_s": fit_s, "epoch_s": fit_s, "epoch_s_per_1k_rows": fit_s / n * 1e3,
            "sample_rows_per_s": SAMPLE_ROWS / sample_s, "fit_peak_mib": _peak_mib()}


def run_child(python, args):
    """Run one measurement in a fresh interpreter; its last output line is the JSON record."""
    cmd = [python, str(Path(__file__).resolve()), "--child", json.dumps(args)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        return {"model": args.get("model_name", args.get("name")), "rows": args.get("n", args.get("n_rows")),
                "error": (done.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    record = json.loads(done.stdout.strip().splitlines()[-1])
    # when it ran and how fast the cores multiplied: --reuse mixes runs, and a shared machine's speed moves
    record["measured"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if args.get("kind") != "peer":
        record["gemm_gflops"] = gemm_rate()
    return record


def gemm_rate(rows=4096, width=128, repeats=200):
    """GFLOP/s of a 4,096 × 128 · 128 × 128 float32 product (a denoiser layer's shape) on this process's threads."""
    import torch

    a, w = torch.randn(rows, width), torch.randn(width, width)
    for _ in range(5):
        a @ w
    start = time.perf_counter()
    for _ in range(repeats):
        a @ w
    return 2 * rows * width * width * repeats / (time.perf_counter() - start) / 1e9


def plot(records, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for model in ("diffusion", "gan"):
        rows = sorted((r for r in records if r.get("model") == model and "epoch_s" in r
                       and r.get("columns", 14) == 14), key=lambda r: r["rows"])
        if not rows:
            continue
        x = [r["rows"] for r in rows]
        axes[0].plot(x, [r["epoch_s"] for r in rows], "o-", label=model)
        axes[1].plot(x, [r["epoch_s_per_1k_rows"] for r in rows], "o-", label=model)
        axes[2].plot(x, [r["fit_peak_mib"] for r in rows], "o-", label=f"{model} peak")
        axes[2].plot(x, [r["encoded_mib"] for r in rows], "x--", label=f"{model} encoded table")
    for r in records:
        if r.get("model") in ("gaussian_copula", "ctgan") and "epoch_s" in r:
            axes[0].plot([r["rows"]], [r["epoch_s"]], "s", label=f"SDV {r['model']}")
    titles = ("seconds per epoch", "seconds per epoch per 1,000 rows", "memory (MiB)")
    for ax, title in zip(axes, titles):
        ax.set_xscale("log")
        ax.set_xlabel("rows")
        ax.set_title(title)
        ax.legend(fontsize=8)
    axes[0].set_yscale("log")
    axes[2].set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def markdown(records, streams):
    lines = [START, "", "## Scale (credit grown to n rows, 2 CPU cores)", "",
             "`python benchmarks/scale.py` — each figure from a fresh process. Epoch = encoder fit and transform "
             "plus n / batch steps at the measured step time; sampling = 200,000 rows with `sample` at default "
             "settings; peak = the process's peak resident memory (input table included). SDV peers at 100k rows "
             "(CTGAN: 1 epoch). Measured: when the row's process ran (\"earlier\": a record kept by `--reuse` "
             "from before rows were dated); GEMM: GFLOP/s of a 4,096 × 128 · 128 × 128 product measured just "
             "after it (the shared cores' speed moves between runs).", "",
             "| model | rows × columns | s / epoch | s / epoch / 1k rows | sample rows/s | peak MiB | fit MiB beyond "
             "the input | encoded MiB | measured | GEMM GFLOP/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        size = f"{r['rows']:,} × {r.get('columns', 14)}"
        if "error" in r:
            lines.append(f"| {r['model']} | {size} | failed: {r['error']} |  |  |  |  |  |  |  |")
            continue
        lines.append(f"| {r['model']} | {size} | {fmt(r.get('epoch_s'), 1)} | "
                     f"{fmt(r.get('epoch_s_per_1k_rows'), 3)} | {r['sample_rows_per_s']:,.0f} | "
                     f"{fmt(r.get('fit_peak_mib'), 0)} | {fmt(r.get('fit_extra_mib'), 0)} | "
                     f"{fmt(r.get('encoded_mib'), 1)} | {r.get('measured', 'earlier')} | "
                     f"{fmt(r.get('gemm_gflops'), 0)} |")
    for s in streams:
        if "error" in s:
            lines += ["", f"Streaming with {s['model']} failed: {s['error']}"]
            continue
        lines += ["", f"Streaming: `sample_to` wrote {s['rows']:,} rows ({s['model']}) as {s['shards']} Parquet "
                      f"shards ({s['parquet_mib']:.0f} MiB) in {s['seconds']:.0f} s ({s['rows_per_s']:,.0f} rows/s) "
                      f"with peak memory {s['peak_mib']:.0f} MiB (measured {s.get('measured', 'earlier')})."]
    lines += ["", "![scaling curves](images/scale.png)", "", END]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--models", nargs="+", default=["diffusion", "gan"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--no-stream", action="store_true")
    parser.add_argument("--stream-rows", type=int, default=STREAM_ROWS)
    parser.add_argument("--peer-python", help="interpreter of an environment with SDV installed")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--wide", action="store_true",
                        help="also fit both samplers on 1M rows × 30 mixed columns (memory case)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the records of results/scale.json that did not fail; run only the others")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        job = json.loads(args.child)
        kind = job.pop("kind")
        result = {"fit": measure, "stream": stream, "peer": peer}[kind](**job)
        print(json.dumps(result, default=float))
        return
    previous = {"records": [], "streams": []}
    saved = Path(__file__).resolve().parent / "results" / "scale.json"
    if args.reuse and saved.exists():
        previous = json.loads(saved.read_text())

    def reused(pool, **match):
        for r in previous[pool]:
            if "error" not in r and all(r.get(k, 14 if k == "columns" else None) == v for k, v in match.items()):
                return r
        return None

    def one(python, pool, job, **match):
        record = reused(pool, **match) or run_child(python, job)
        print(json.dumps(record, default=float), flush=True)
        return record

    records, streams = [], []
    for n in args.sizes:
        for model in args.models:
            records.append(one(sys.executable, "records", {"kind": "fit", "model_name": model, "n": n,
                                                           "steps": args.steps}, model=model, rows=n, columns=14))
    if args.wide:
        for model in args.models:
            records.append(one(sys.executable, "records", {"kind": "fit", "model_name": model, "n": 1_000_000,
                                                           "steps": args.steps, "wide": True},
                               model=model, rows=1_000_000, columns=30))
    if args.peer_python:
        for name in ("gaussian_copula", "ctgan"):
            records.append(one(args.peer_python, "records", {"kind": "peer", "name": name, "n": 100_000},
                               model=name, rows=100_000))
    if not args.no_stream:
        for model in ("gan",):
            streams.append(one(sys.executable, "streams", {"kind": "stream", "model_name": model,
                                                           "n_rows": args.stream_rows}, model=model,
                               rows=args.stream_rows))
    docs = Path(__file__).resolve().parents[1] / "docs"
    if not args.quick:
        (docs / "images").mkdir(parents=True, exist_ok=True)
        plot(records, docs / "images" / "scale.png")
    publish({"records": records, "streams": streams}, "scale", markdown(records, streams), START, END, args.quick,
            args.out)


if __name__ == "__main__":
    main()
