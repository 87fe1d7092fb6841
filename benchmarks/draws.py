"""How much one fidelity figure moves between sample draws of the same fitted model.

``fidelity.py`` scores one sample per model; sdmetrics' pair trends bin each
table on its own range, so a draw that happens to miss a long-tailed column's
largest values loses on every pair with that column. This script fits one
sampler at its defaults on the fidelity split (70/30, stratified, seed 0),
draws ``len(train)`` rows ``--draws`` times with different seeds and scores
each draw with ``synthaug.evaluate`` exactly as ``fidelity.py`` does, then
prints each draw and the mean ± standard deviation of the main figures.

Usage (from the repository root)::

    python benchmarks/draws.py --dataset credit --model diffusion --draws 6
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np

from ablation import load

FIGURES = ("quality", "column_shapes", "column_pair_trends", "detection_auc", "ml_efficacy_synthetic",
           "ml_efficacy_real")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["credit", "breast_cancer"], default="credit")
    parser.add_argument("--model", choices=["diffusion", "gan"], default="diffusion")
    parser.add_argument("--draws", type=int, default=6)
    parser.add_argument("--params", default="{}", help="JSON parameters of the fit")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import synthaug

    cls = {"diffusion": synthaug.DiffusionSampler, "gan": synthaug.GANSampler}[args.model]
    train, test, target = load(args.dataset)
    train, test = train.reset_index(drop=True), test.reset_index(drop=True)
    model = cls(**{"random_state": 0, "verbose": False, **json.loads(args.params)}).fit(train)
    rows = []
    for k in range(args.draws):
        synth = model.sample(len(train), random_state=100 + k)
        scores = synthaug.evaluate(real=train, synthetic=synth, holdout=test, target=target).scores
        rows.append([float(scores[f]) for f in FIGURES])
        print(f"draw {k}:", {f: round(v, 4) for f, v in zip(FIGURES, rows[-1])}, flush=True)
    rows = np.array(rows)
    print(f"{args.dataset} {args.model} {args.params}, {args.draws} draws (mean ± sd):")
    for f, mean, sd in zip(FIGURES, rows.mean(0), rows.std(0, ddof=1)):
        print(f"  {f}: {mean:.3f} ± {sd:.3f}")


if __name__ == "__main__":
    main()
