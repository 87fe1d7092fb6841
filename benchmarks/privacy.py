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

Peers (``--models``): ``mst`` and ``dpctgan`` from smartnoise-synth, when it is
importable; a model that fails or is not installed is reported as such.

Usage (from the repository root)::

    python benchmarks/privacy.py --out docs/benchmarks.md
    python benchmarks/privacy.py --quick          # smoke run, tiny training

Results go to ``benchmarks/results/privacy.json`` and the section between
``<!-- privacy:start -->`` and ``<!-- privacy:end -->`` of ``--out``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fidelity import RANDOM_STATE, fmt, load_credit, publish  # noqa: E402

START, END = "<!-- privacy:start -->", "<!-- privacy:end -->"
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
    """smartnoise-synth's ``name`` synthesizer at ``epsilon`` on the declared domain."""
    from snsynth import Synthesizer

    if epsilon is None:
        raise RuntimeError("smartnoise synthesizers are differentially private only")
    bounds, categories = domain
    numeric = [c for c in train.columns if c in bounds]
    data = train.copy()
    # smartnoise's transformers do not take missing values: fill them with a value outside
    # the observed range of the column (kept as a flag-like value), mapped back after sampling
    fills = {}
    for c in numeric:
        if data[c].isna().any():
            fills[c] = bounds[c][0] - 1.0
            data[c] = data[c].fillna(fills[c])
    cat = [c for c in train.columns if c not in bounds]
    for c in cat:
        data[c] = data[c].fillna("<missing>")
    kwargs = {}
    if quick and name == "dpctgan":
        kwargs["epochs"] = 1
    synth = Synthesizer.create(name, epsilon=epsilon, verbose=False, **kwargs)
    lower = {c: bounds[c][0] - (1.0 if c in fills else 0.0) for c in numeric}
    upper = {c: bounds[c][1] for c in numeric}
    synth.fit(data, categorical_columns=cat, continuous_columns=numeric, preprocessor_eps=0.0,
              nullable=False, **_bounds_kwargs(lower, upper))
    out = synth.sample(len(train))
    out = pd.DataFrame(out, columns=data.columns)
    for c, v in fills.items():
        out[c] = pd.to_numeric(out[c]).where(pd.to_numeric(out[c]) >= bounds[c][0], np.nan)
    for c in cat:
        out[c] = out[c].replace("<missing>", np.nan)
    for c in numeric:
        out[c] = pd.to_numeric(out[c])
        if pd.api.types.is_integer_dtype(train[c]):
            out[c] = out[c].round().astype(train[c].dtype)
    return out[train.columns], {}


def _bounds_kwargs(lower, upper):
    """smartnoise ≥ 1.0 takes no bounds in ``fit``: they go through a TableTransformer (see peers())."""
    return {}


RUNNERS = {
    "synthaug-diffusion": lambda *a: run_synthaug("DiffusionSampler", *a),
    "synthaug-gan": lambda *a: run_synthaug("GANSampler", *a),
    "mst": lambda *a: run_smartnoise("mst", *a),
    "dpctgan": lambda *a: run_smartnoise("dpctgan", *a),
}


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
             "model's fit without DP.", "",
             "| model | ε | quality | detection AUC | ML efficacy | MIA AUC | exact copies | fit s | DP cost |",
             "|---|---|---|---|---|---|---|---|---|"]
    plain = {r["model"]: r.get("fit_s") for r in records if r["epsilon"] is None}
    for r in records:
        eps = "none" if r["epsilon"] is None else f"{r['epsilon']:g}"
        if "error" in r:
            lines.append(f"| {r['model']} | {eps} | failed: {r['error']} |  |  |  |  |  |  |")
            continue
        cost = r["fit_s"] / plain[r["model"]] if r["epsilon"] is not None and plain.get(r["model"]) else None
        lines.append(f"| {r['model']} | {eps} | " + " | ".join(fmt(r.get(k)) for k in SCORES)
                     + f" | {fmt(r['fit_s'], 1)} | {fmt(cost, 2)} |")
    lines += ["", END]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epsilons", nargs="+", default=["1", "3", "10", "none"])
    parser.add_argument("--models", nargs="+", default=list(RUNNERS))
    parser.add_argument("--no-domain", action="store_true", help="declare nothing public to synthaug")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    ds = load_credit()
    full = pd.concat([ds.train, ds.test])
    domain = None if args.no_domain else public_domain(full)
    peer_domain = public_domain(full)
    records = []
    for eps_text in args.epsilons:
        epsilon = None if eps_text == "none" else float(eps_text)
        for model in args.models:
            if epsilon is None and not model.startswith("synthaug"):
                continue
            d = peer_domain if not model.startswith("synthaug") else domain
            record = run_one(model, ds, epsilon, d, args.quick)
            print(record, flush=True)
            records.append(record)
    publish({"records": records, "domain_declared": domain is not None}, "privacy",
            markdown(records, domain is not None), START, END, args.quick, args.out)


if __name__ == "__main__":
    main()
