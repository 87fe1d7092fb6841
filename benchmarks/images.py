"""Image benchmark: class-conditional samplers on 8×8 digits (the protocol of BENCHMARKS.md).

Digits are split 1,257 / 540 (stratified, seed 0). Each model is fitted on the
1,257 training images with their labels, then asked for 1,257 images with the
training labels (so the class balance matches). The judges are trained on
the real training images (:class:`synthaug.evaluation.ImageJudge`):

* classification accuracy score (CAS): logistic regression trained on the
  synthetic images and their requested labels, accuracy on the real test
  images — beside the same trained on the real images;
* label fidelity: share of synthetic images an MLP trained on real images
  assigns to the requested class;
* Fréchet distance in that MLP's hidden layer, synthetic vs real train,
  beside real test vs real train (the ratio must stay ≤ 3);
* fit seconds, and seconds to sample 1,000 images (timed alone, once the
  model is fitted).

Sample grids (one row per class, real row above the synthetic ones) are
written to ``docs/images/``.

Examples (from the repository root)::

    python benchmarks/images.py                       # both samplers, default settings
    python benchmarks/images.py --models diffusion --set '{"guidance_scale": 2}'
    python benchmarks/images.py --quick               # a smoke run (few steps)
    python benchmarks/images.py --models diffusion --set '{"max_steps": 1200}' \
        --sample '{"guidance_scale": 1}' '{}' '{"eta": 0}' '{"sampling_steps": 20}'   # sampling choices

With ``--sample``, each JSON is a set of sampling parameters applied to the
one fitted model (on top of its fitted settings) and scored on its own.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fidelity import fmt, publish  # noqa: E402

START, END = "<!-- images:start -->", "<!-- images:end -->"
RANDOM_STATE = 0
FIGURES = ("cas", "cas_real", "label_fidelity", "frechet", "frechet_real", "frechet_ratio")


def load_split():
    from sklearn.model_selection import train_test_split

    from synthaug.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=540, stratify=y, random_state=RANDOM_STATE)


def make_model(name, params, quick):
    from synthaug import DiffusionSampler, GANSampler

    cls = {"diffusion": DiffusionSampler, "gan": GANSampler}[name]
    settings = {"random_state": RANDOM_STATE, "verbose": False, **params}
    if quick:
        settings.setdefault("max_steps", 50)
    return cls(**settings)


def class_grid(real, y_real, synth, y_synth, path, per_class=10):
    """One block per class: a row of real images, then a row of synthetic ones."""
    from synthaug.plotting import image_grid

    rows = []
    for label in np.unique(y_real):
        rows.append(real[y_real == label][:per_class])
        rows.append(synth[y_synth == label][:per_class])
    rows = [np.concatenate([r, np.zeros((per_class - len(r), *r.shape[1:]), r.dtype)]) for r in rows]
    image_grid(np.concatenate(rows), path=path, ncols=per_class, scale=4)


def run(name, params, split, judge, quick, grids, sample_params=None):
    X_train, X_test, y_train, y_test = split
    model = make_model(name, params, quick)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    records, fitted = [], model.get_params()
    for extra in sample_params or [{}]:
        model.set_params(**{**fitted, **extra})   # each variant on top of the fitted settings, not the last one
        records.append({**score(model, name, split, judge, grids), "fit_s": fit_s, "params": params,
                        "sample_params": extra})
    return records


def score(model, name, split, judge, grids):
    X_train, X_test, y_train, y_test = split
    X_synth, y_synth = model.sample(len(y_train), y=y_train, random_state=1)
    start = time.perf_counter()
    model.sample(1000, random_state=2)
    sample_s = time.perf_counter() - start
    record = {"model": name, "sample_1000_s": sample_s, "steps": int(model.n_iter_),
              **judge.score(X_synth, y_synth, X_test=X_test, y_test=y_test)}
    if grids is not None:
        grids.mkdir(parents=True, exist_ok=True)
        class_grid(X_train, y_train, X_synth, y_synth, grids / f"digits_{name}.png")
    return record


def markdown(records):
    lines = [START, "", "## Images (digits 8×8)", "",
             "`python benchmarks/images.py` — fitted on 1,257 training digits with their labels, 1,257 images "
             "sampled for the training labels; judges trained on the real training images, tested on the 540 "
             "real test images. CAS = logistic regression trained on synthetic images (real: trained on the real "
             "training images); fidelity = MLP agrees with the requested class; Fréchet = distance in the MLP's "
             "hidden layer to the real training images (real: test vs train). Default settings.", "",
             "| model | CAS | CAS real | label fidelity | Fréchet | Fréchet real | ratio | fit s | 1,000 images s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['model']} | " + " | ".join(fmt(r.get(k)) for k in FIGURES)
                     + f" | {fmt(r['fit_s'], 1)} | {fmt(r['sample_1000_s'], 2)} |")
    lines += ["", "Real (top) and synthetic (below) images per class: "
              + ", ".join(f"[{r['model']}](images/digits_{r['model']}.png)" for r in records) + ".", "", END]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["diffusion", "gan"], choices=["diffusion", "gan"])
    parser.add_argument("--set", default="{}", help="JSON parameters for every model (experiments)")
    parser.add_argument("--sample", nargs="+", help="JSON sampling parameters, each scored on the fitted model")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    from synthaug.evaluation.image_metrics import ImageJudge

    split = load_split()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        judge = ImageJudge(split[0], split[2], random_state=RANDOM_STATE)
    params = json.loads(args.set)
    sample_params = [json.loads(p) for p in args.sample] if args.sample else None
    experiment = bool(params or sample_params)
    docs = Path(__file__).resolve().parents[1] / "docs"
    grids = None if (args.quick or experiment) else docs / "images"
    records = []
    for name in args.models:
        for record in run(name, params, split, judge, args.quick, grids, sample_params):
            print(json.dumps(record, default=float), flush=True)
            records.append(record)
    if not experiment:
        publish({"records": records}, "images", markdown(records), START, END, args.quick, args.out)


if __name__ == "__main__":
    main()
