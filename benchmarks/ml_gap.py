"""Where the ML-efficacy gap comes from: the synthetic rows' features, or their label given the features.

Train-on-synthetic ROC AUC below train-on-real can have two causes: the
synthetic feature rows X cover the space differently, or the synthetic label
follows X less sharply than the real one does. On the split of
``ablation.py`` (70/30, stratified, seed 0) this script fits one sampler per
seed, samples ``len(train)`` rows and reports (HistGradientBoosting
throughout, ROC AUC on the real test rows unless stated):

* ``real``: trained on the real training rows;
* ``synthetic``: trained on the synthetic rows (the ML efficacy of BENCHMARKS.md);
* ``synthetic X, real labels``: trained on the synthetic X with each label
  drawn from the real-trained classifier's probability for that row — the
  synthetic X with the real relation put back;
* ``real classifier on synthetic``: the real-trained classifier's AUC
  *against the synthetic labels* of the synthetic rows, to compare with its
  AUC on the real test rows — how well the synthetic label follows the real
  relation;
* ``model's p(y | X)``: the sampler's own conditional, read from
  ``impute`` — the share of 20 draws giving the positive class to each test
  row whose label is hidden.

Examples (from this folder)::

    python ml_gap.py credit diffusion --seeds 0 1 2
    python ml_gap.py credit diffusion --params '{"timestep_sampling": "uniform"}'
    python ml_gap.py credit gan --seeds 0
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd

from ablation import _as_categories, load


def _classifier(rows, target, reference):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X = _as_categories(rows.drop(columns=target), reference.drop(columns=target))
    return HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0).fit(X, rows[target])


def _positive_proba(model, rows, target, reference, positive):
    X = _as_categories(rows.drop(columns=target), reference.drop(columns=target))
    return model.predict_proba(X)[:, list(model.classes_).index(positive)]


def measure(model, train, test, target, seed, n_draws=20):
    """The five AUCs of the module's description for one fitted ``model``."""
    from sklearn.metrics import roc_auc_score

    positive = sorted(train[target].unique())[1]
    y_test = test[target] == positive
    real = _classifier(train, target, train)
    synth = model.sample(len(train), random_state=seed + 1)
    synth = synth[synth[target].notna()]
    on_synth = _positive_proba(real, synth, target, train, positive)
    relabelled = synth.copy()
    drawn = np.random.default_rng(seed).random(len(synth)) < on_synth
    negative = sorted(train[target].unique())[0]
    relabelled[target] = pd.Series(np.where(drawn, positive, negative), index=synth.index).astype(train[target].dtype)
    hidden = test.copy()
    hidden[target] = hidden[target].mask(np.ones(len(hidden), bool))
    draws = model.impute(hidden, n_draws=n_draws, random_state=seed)
    share = np.mean([(d[target] == positive).to_numpy() for d in draws], axis=0)
    auc = lambda clf: roc_auc_score(y_test, _positive_proba(clf, test, target, train, positive))  # noqa: E731
    return {"real": auc(real), "synthetic": auc(_classifier(synth, target, train)),
            "synthetic X, real labels": auc(_classifier(relabelled, target, train)),
            "real classifier on test": roc_auc_score(y_test, _positive_proba(real, test, target, train, positive)),
            "real classifier on synthetic": roc_auc_score(synth[target] == positive, on_synth),
            "model's p(y | X)": roc_auc_score(y_test, share)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=["credit", "breast_cancer"])
    parser.add_argument("model", choices=["diffusion", "gan"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--params", default="{}", help="JSON parameters of the sampler")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import synthaug

    cls = {"diffusion": synthaug.DiffusionSampler, "gan": synthaug.GANSampler}[args.model]
    train, test, target = load(args.dataset)
    rows = []
    for seed in args.seeds:
        start = time.perf_counter()
        model = cls(**{"random_state": seed, "verbose": False, **json.loads(args.params)}).fit(train)
        rec = {k: round(float(v), 4) for k, v in measure(model, train, test, target, seed).items()}
        print(args.dataset, args.model, f"seed {seed}", rec, f"{time.perf_counter() - start:.0f} s", flush=True)
        rows.append(rec)
    mean = pd.DataFrame(rows).mean().round(3)
    print(f"{args.params} mean over seeds {args.seeds}:", mean.to_dict())


if __name__ == "__main__":
    main()
