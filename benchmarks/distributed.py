"""Distributed benchmark: one model trained by 2 gloo processes (torchrun) vs by one process.

Both fits use the command line exactly as a user would, on the credit
training split (70 %, seed 0) with default settings; each model samples as
many rows as the training split and is scored with ``synthaug.evaluate``
against the 30 % holdout. The figure is the difference in quality (target:
within 0.01) and the fit times.

Example (from the repository root; ``torchrun`` comes with torch)::

    python benchmarks/distributed.py --models diffusion gan
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fidelity import fmt, publish  # noqa: E402

START, END = "<!-- distributed:start -->", "<!-- distributed:end -->"
SCORES = ("quality", "detection_auc", "ml_efficacy_synthetic")


def fit(processes, model, data, out):
    """Fit with the CLI in ``processes`` processes; returns the wall seconds."""
    base = ["-m", "synthaug", "fit", str(data), "--model", model, "--out", str(out), "--seed", "0", "--quiet"]
    if processes == 1:
        cmd = [sys.executable, *base]
    else:
        torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
        cmd = [torchrun, "--standalone", f"--nproc_per_node={processes}", *base]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["diffusion", "gan"])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    from sklearn.model_selection import train_test_split

    from synthaug import evaluate
    from synthaug.datasets import load_credit
    from synthaug.io import load_model

    data = load_credit()
    train, test = train_test_split(data, test_size=0.3, stratify=data["Status"], random_state=0)
    records = []
    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "train.csv"
        train.to_csv(csv, index=False)
        for model in args.models:
            for processes in (1, args.processes):
                path = Path(folder) / f"{model}_{processes}.pkl"
                seconds = fit(processes, model, csv, path)
                synth = load_model(path).sample(len(train), random_state=1)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    report = evaluate(train, synth, test, target="Status", random_state=0)
                record = {"model": model, "processes": processes, "fit_s": seconds,
                          **{k: report.scores.get(k) for k in SCORES}}
                print(json.dumps(record, default=float), flush=True)
                records.append(record)
    lines = [START, "", "## Distributed training (credit, gloo on CPU)", "",
             "`python benchmarks/distributed.py` — `synthaug fit` in one process and under "
             f"`torchrun --nproc_per_node {args.processes}` (DDP, gloo), default settings, scored against the "
             "holdout. Δ quality = multi-process − one process (target: within ±0.01).", "",
             "| model | processes | quality | Δ quality | detection AUC | ML efficacy | fit s |",
             "|---|---|---|---|---|---|---|"]
    single = {r["model"]: r["quality"] for r in records if r["processes"] == 1}
    for r in records:
        delta = r["quality"] - single[r["model"]] if r["processes"] > 1 else None
        lines.append(f"| {r['model']} | {r['processes']} | {fmt(r['quality'])} | {fmt(delta)} | "
                     f"{fmt(r['detection_auc'])} | {fmt(r['ml_efficacy_synthetic'])} | {fmt(r['fit_s'], 1)} |")
    lines += ["", END]
    publish({"records": records}, "distributed", "\n".join(lines), START, END, False, args.out)


if __name__ == "__main__":
    main()
