"""Privacy benchmark: differentially private synthaug next to smartnoise-synth, at the same ε.

On the credit table (70/30 split stratified on ``Status``), every model is fitted
on the training rows at each ε in ``--epsilons`` (``none`` = no DP), samples as
many rows, and is scored with ``synthaug.evaluate`` against the held-out rows:
sdmetrics Quality, detection AUC, ML efficacy (train-on-synthetic ROC AUC of a
gradient-boosting classifier on ``Status``, tested on the holdout), the
distance-based membership-inference AUC and the share of exact copies of
training rows. Fit seconds are measured in the same run, so the cost of DP is
the ratio of a model's fit at ε to its own fit without DP.

The domain — numeric bounds and category lists — is declared public for every
model alike, as DP synthesizers assume (smartnoise's MST works on a discretised
domain): ``public_domain`` rounds each column's range outward, standing in for a
data dictionary. ``--no-domain`` runs synthaug with nothing declared, so that
its encoder spends budget on bounds and level sets.

Peers (``--models``): ``mst`` and ``dpctgan`` from smartnoise-synth at their
defaults, run with ``--peer-python`` (smartnoise-synth 1.0 pins Opacus < 0.15, so it
lives in its own environment); a model that fails is reported as such. AIM is
left out by default (its 272 default rounds make it far slower than MST);
``--models aim`` runs it.

Usage (from the repository root)::

    python benchmarks/privacy.py --peer-python PEER_ENV/bin/python --out docs/benchmarks.md
    python benchmarks/privacy.py --quick          # smoke run, tiny training

A run of some ``--models`` / ``--epsilons`` replaces those rows and keeps the
others from ``benchmarks/results/privacy.json`` (each row shows its date).
Results go to ``benchmarks/results/privacy.json`` and the section between
``<!-- privacy:start -->`` and ``<!-- privacy:end -->`` of ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fidelity import RANDOM_STATE, fmt, load_credit, output_paths, publish  # noqa: E402

START, END = "<!-- privacy:start -->", "<!-- privacy:end -->"
PEER_PYTHON = sys.executable
SCORES = ["quality", "detection_auc", "ml_efficacy_synthetic", "membership_inference_auc", "exact_copy_share"]


def _nice(value, up):
    """Round ``value`` outward to 1, 2 or 5 times a power of ten (a data dictionary's round bound)."""
    if value == 0:
        return 0.0
    mag = 10 ** math.floor(math.log10(abs(value)))
    steps = np.array([1, 2, 5, 10]) * mag
    target = abs(value)
    grow = (up and value > 0) or (not up and value < 0)
    pick = steps[steps >= target][0] if grow else steps[steps <= target][-1]
    return float(math.copysign(pick, value))


def public_domain(frame: pd.DataFrame) -> tuple[dict, dict]:
    """``(bounds, categories)``: each numeric column's range rounded outward, each other column's levels."""
    bounds, categories = {}, {}
    for name, col in frame.items():
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            lo, hi = float(col.min()), float(col.max())
            bounds[name] = (min(0.0, _nice(lo, False)) if lo >= 0 else _nice(lo, False), _nice(hi, True))
        else:
            categories[name] = sorted(col.dropna().unique().tolist())
    return bounds, categories


# ----------------------------------------------------------------------- runners
# A runner fits on ``train`` and returns (synthetic frame, extra info dict).


def run_synthaug(cls_name, train, epsilon, domain, quick):
    import synthaug

    params = {"random_state": RANDOM_STATE, "verbose": False}
    if epsilon is not None:
        params["epsilon"] = epsilon
        if domain is not None:
            params["bounds"], params["categories"] = domain
    if quick:
        params["max_steps"] = 20
    model = getattr(synthaug, cls_name)(**params).fit(train)
    extra = {}
    if model.privacy_ is not None:
        p = model.privacy_
        extra = {"epsilon_spent": p["epsilon"], "delta": p["delta"], "noise_multiplier": p["noise_multiplier"],
                 "dp_steps": p["steps"], "sample_rate": p["sample_rate"]}
    return model.sample(len(train), random_state=RANDOM_STATE), extra


def run_smartnoise(name, train, epsilon, domain, quick):
    """smartnoise-synth's ``name`` at ``epsilon`` on the declared domain, in the peer interpreter.

    smartnoise-synth 1.0 pins Opacus < 0.15, which cannot live beside synthaug's
    Opacus 1.6: it runs in its own environment (``--peer-python``), reading and
    writing CSV files; dtypes are restored here.
    """
    import subprocess
    import tempfile

    if epsilon is None:
        raise RuntimeError("smartnoise synthesizers are differentially private only")
    from fidelity import align_dtypes

    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "train.csv", Path(tmp) / "synth.csv"
        train.to_csv(data, index=False)
        (Path(tmp) / "bounds.json").write_text(json.dumps(domain[0]))
        cmd = [PEER_PYTHON, __file__, "--peer", name, "--peer-data", str(data), "--peer-out", str(out),
               "--epsilons", str(epsilon)] + (["--quick"] if quick else [])
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "peer failed")
        synth = pd.read_csv(out)
    return align_dtypes(synth[train.columns], train), {}


def smartnoise_fit_sample(name, train, bounds, epsilon, quick, n_bins=10):
    """Runs inside the peer environment: fit smartnoise's ``name`` and sample ``len(train)`` rows.

    Numeric columns: MST works on a discrete domain, so they are cut into
    ``n_bins`` equal-width bins over the declared bounds and sampled uniformly
    inside their bin (post-processing); DPCTGAN min-max scales them. Missing
    numeric cells become a categorical ``<col>__isna`` flag column (smartnoise
    cannot generate NaN) and the cell the lower bound; missing categories a
    level of their own. Bounds and category sets are the declared domain: no
    preprocessor budget is spent (``preprocessor_eps=0``).
    """
    import random

    import torch
    from snsynth import Synthesizer
    from snsynth.transform import (BinTransformer, ChainTransformer, LabelTransformer, MinMaxTransformer,
                                   OneHotEncoder, TableTransformer)

    random.seed(RANDOM_STATE)
    np.random.seed(RANDOM_STATE)
    torch.manual_seed(RANDOM_STATE)
    numeric = [c for c in train.columns if c in bounds]
    work = train.copy()
    flags = [c for c in numeric if work[c].isna().any()]
    for c in flags:
        work[c + "__isna"] = np.where(work[c].isna(), "yes", "no")
        work[c] = work[c].fillna(bounds[c][0])
    categorical = [c for c in work.columns if c not in bounds]
    for c in categorical:
        work[c] = work[c].astype(object).where(work[c].notna(), None)
    for c in numeric:
        work[c] = work[c].astype(float)
    cube = name in ("mst", "aim")   # marginal-based: a discrete domain
    transformers = []
    for c in work.columns:
        if c in categorical:
            label = LabelTransformer(nullable=bool(work[c].isna().any()))
            transformers.append(label if cube else ChainTransformer([label, OneHotEncoder()]))
        else:
            lo, hi = bounds[c]
            transformers.append(BinTransformer(bins=n_bins, lower=lo, upper=hi) if cube
                                else MinMaxTransformer(lower=lo, upper=hi))
    table = TableTransformer(transformers)
    kwargs = {"verbose": False, "cuda": False} if name == "dpctgan" else {}
    if quick and name == "dpctgan":
        kwargs["epochs"] = 1
    synth = Synthesizer.create(name, epsilon=float(epsilon), **kwargs)
    synth.fit(work, transformer=table, preprocessor_eps=0.0, categorical_columns=categorical,
              continuous_columns=numeric)
    out = pd.DataFrame(synth.sample(len(train)), columns=list(work.columns))
    out = out.iloc[np.random.permutation(len(out))].reset_index(drop=True)
    for c in numeric:
        v = pd.to_numeric(out[c], errors="coerce").astype(float)
        lo, hi = bounds[c]
        if cube:
            width = (hi - lo) / n_bins
            v = v + np.random.uniform(-width / 2, width / 2, len(v))
        v = v.clip(lo, hi)
        if pd.api.types.is_integer_dtype(train[c]):
            v = v.round()
        if c in flags:
            v = v.where(out[c + "__isna"].astype(str) != "yes", np.nan)
        out[c] = v
    return out[list(train.columns)]


RUNNERS = {
    "synthaug-diffusion": lambda *a: run_synthaug("DiffusionSampler", *a),
    "synthaug-gan": lambda *a: run_synthaug("GANSampler", *a),
    "mst": lambda *a: run_smartnoise("mst", *a),
    "dpctgan": lambda *a: run_smartnoise("dpctgan", *a),
    "aim": lambda *a: run_smartnoise("aim", *a),
}
DEFAULT_MODELS = ["synthaug-diffusion", "synthaug-gan", "mst", "dpctgan"]


# ----------------------------------------------------------------------- protocol
def run_one(model, ds, epsilon, domain, quick):
    from synthaug import evaluate

    record = {"model": model, "epsilon": epsilon}
    start = time.perf_counter()
    try:
        synth, extra = RUNNERS[model](ds.train, epsilon, domain, quick)
    except Exception as exc:  # a peer that does not install or crashes is reported, not fatal
        record["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        traceback.print_exc()
        return record
    record["fit_s"] = time.perf_counter() - start
    record.update(extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = evaluate(ds.train, synth, ds.test, target=ds.target, random_state=RANDOM_STATE)
    record.update({k: report.scores.get(k) for k in SCORES})
    return record


def markdown(records, domain_declared):
    lines = [START, "", "## Privacy (credit)", "",
             "`python benchmarks/privacy.py` — fit on the 70 % split at each ε, sample as many rows, scored "
             "against the 30 % holdout. " + ("The domain (bounds, category lists) is declared public for every "
                                             "model." if domain_declared else "Nothing is declared public."),
             "ML efficacy is train-on-synthetic ROC AUC on `Status` (train-on-real: see the fidelity table); "
             "MIA = distance-based membership-inference AUC (0.5 ideal). DP cost = fit time at ε ÷ the same "
             "model's fit without DP (both from the same run). A run of some models or ε replaces only those "
             "rows; `run` is the date each row was measured.", "",
             "| model | ε | quality | detection AUC | ML efficacy | MIA AUC | exact copies | fit s | DP cost | run |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    plain = {r["model"]: r.get("fit_s") for r in records if r["epsilon"] is None}
    for r in records:
        eps = "none" if r["epsilon"] is None else f"{r['epsilon']:g}"
        date = r.get("date", "")
        if "error" in r:
            lines.append(f"| {r['model']} | {eps} | failed: {r['error']} |  |  |  |  |  |  | {date} |")
            continue
        cost = r["fit_s"] / plain[r["model"]] if r["epsilon"] is not None and plain.get(r["model"]) else None
        lines.append(f"| {r['model']} | {eps} | " + " | ".join(fmt(r.get(k)) for k in SCORES)
                     + f" | {fmt(r['fit_s'], 1)} | {fmt(cost, 2)} | {date} |")
    lines += ["", END]
    return "\n".join(lines)


def merged(records, path, domain_declared):
    """This run's records, then the earlier run's records of other (model, ε) pairs with the same domain setting."""
    if not path.exists():
        return records
    earlier = json.loads(path.read_text())
    if earlier.get("domain_declared") != domain_declared:
        return records
    ran = {(r["model"], r["epsilon"]) for r in records}
    kept = [{"date": "earlier run", **r} for r in earlier["records"] if (r["model"], r["epsilon"]) not in ran]
    order = {eps: i for i, eps in enumerate([1.0, 3.0, 10.0, None])}
    return sorted(records + kept, key=lambda r: (order.get(r["epsilon"], 99), DEFAULT_MODELS.index(r["model"])
                                                 if r["model"] in DEFAULT_MODELS else 99))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epsilons", nargs="+", default=["1", "3", "10", "none"])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS, choices=list(RUNNERS))
    parser.add_argument("--no-domain", action="store_true", help="declare nothing public to synthaug")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--peer-python", default=sys.executable,
                        help="interpreter of the environment where smartnoise-synth is installed")
    parser.add_argument("--peer", help=argparse.SUPPRESS)        # internal: run one peer fit
    parser.add_argument("--peer-data", help=argparse.SUPPRESS)
    parser.add_argument("--peer-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peer:
        train = pd.read_csv(args.peer_data)
        bounds = json.loads((Path(args.peer_data).parent / "bounds.json").read_text())
        synth = smartnoise_fit_sample(args.peer, train, bounds, float(args.epsilons[0]), args.quick)
        synth.to_csv(args.peer_out, index=False)
        return
    global PEER_PYTHON
    PEER_PYTHON = args.peer_python
    ds = load_credit()
    full = pd.concat([ds.train, ds.test])
    domain = None if args.no_domain else public_domain(full)
    peer_domain = public_domain(full)
    records, today = [], time.strftime("%Y-%m-%d")
    for eps_text in args.epsilons:
        epsilon = None if eps_text == "none" else float(eps_text)
        for model in args.models:
            if epsilon is None and not model.startswith("synthaug"):
                continue
            d = peer_domain if not model.startswith("synthaug") else domain
            record = run_one(model, ds, epsilon, d, args.quick)
            record["date"] = today
            print(record, flush=True)
            records.append(record)
    records = merged(records, output_paths(args.quick, args.out)[0] / "privacy.json", domain is not None)
    publish({"records": records, "domain_declared": domain is not None}, "privacy",
            markdown(records, domain is not None), START, END, args.quick, args.out)


if __name__ == "__main__":
    main()
