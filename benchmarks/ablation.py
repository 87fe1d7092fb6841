"""Ablation runs: one sampler with chosen parameters, scored by a quick fixed protocol.

The parameter choices quoted in docs/diffusion.md, docs/gan.md and the
estimators' docstrings (sampling steps, training length, critic steps, PacGAN
packing, …) were measured with this script: fit on a 70/30 stratified split
(seed 0), sample ``len(train)`` rows (seed 1), then

* sdmetrics QualityReport with pair thresholds 0 (quality, shapes, trends) — every column
  pair scored, as ``fidelity.py`` does. Until 2026-12-03 (commit after a6e6d36) the
  thresholds were set where sdmetrics 0.32 does not read them, so only pairs past its default
  thresholds were scored (on credit, the one pair Amount–Price): the quality and trends
  figures of earlier ablations compare runs of that protocol with each other, not with
  ``fidelity.py``'s;
* detection: 5-fold ROC AUC of HistGradientBoosting separating the synthetic
  rows from the real *test* rows;
* ML efficacy: HistGradientBoosting trained on real train / on synthetic, ROC
  AUC on the real test split;
* DCR: share of synthetic rows closer to a training row than to a test row
  (``synthaug.evaluation.metrics.dcr_closer_to_train_share``; 0.5 = no
  memorisation);
* exact copies of training rows; fit and sample seconds; for the GAN the level
  and mode coverage of its released rows (``coverage_``).

Examples (from this folder)::

    python ablation.py credit gan '{"pac": 10}' '{"pac": 1}'
    python ablation.py breast_cancer diffusion '{"max_steps": 1000}' --sample '{"sampling_steps": 10}'
    python ablation.py credit diffusion '{"epsilon": 3}' '{"epsilon": 3, "lr": 1e-3}' --public-domain
    python ablation.py wide_categorical gan --sample '{"gibbs_sweeps": 2}' '{"gibbs_sweeps": 1}' --time-rows 100000

Each JSON argument is one fit; ``--sample`` parameters are set after fitting
(sampling-only settings, compared on the same fitted model).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd


def load(name):
    from sklearn.model_selection import train_test_split

    if name == "credit":
        from synthaug.datasets import load_credit

        df, target = load_credit(), "Status"
    elif name == "wide_categorical":
        df, target = wide_categorical(), "c0"
    elif name in ("iris", "wine"):   # small tables (150 and 178 rows), the class as its names
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{name}")(as_frame=True)
        df, target = bunch.frame, "target"
        df[target] = np.asarray(bunch.target_names)[df[target].to_numpy()]
    else:
        from sklearn.datasets import load_breast_cancer

        bunch = load_breast_cancer(as_frame=True)
        df, target = bunch.frame, "target"
        if name == "breast_cancer_labels":   # the class as its names, as in fidelity.py: a categorical column
            df[target] = np.asarray(bunch.target_names)[df[target].to_numpy()]
    train, test = train_test_split(df, test_size=0.3, stratify=df[target], random_state=0)
    return train, test, target


def wide_categorical(n=5000, n_categorical=30, n_numeric=10, seed=0):
    """A generated table of many categorical columns (2–7 levels) and a few numeric ones.

    Every column depends on three shared latent factors (a categorical
    column is the argmax of noisy linear scores of them), so the columns are
    related as survey answers are; nothing of it is tuned to a model.
    """
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 3))
    columns = {}
    for j in range(n_categorical):
        k = 2 + j % 6
        scores = 1.5 * latent @ rng.normal(size=(3, k)) + rng.normal(size=(n, k))
        columns[f"c{j}"] = np.array([f"l{v}" for v in range(k)])[scores.argmax(1)]
    for j in range(n_numeric):
        columns[f"x{j}"] = latent @ rng.normal(size=3) + rng.normal(size=n)
    return pd.DataFrame(columns)


def _metadata(df):
    return {"columns": {c: {"sdtype": "numerical" if pd.api.types.is_numeric_dtype(df[c])
                            and not pd.api.types.is_bool_dtype(df[c]) else "categorical"} for c in df}}


def _as_categories(df, ref):
    out = df.copy()
    for c in out:
        if not pd.api.types.is_numeric_dtype(ref[c]):
            out[c] = pd.Categorical(out[c].astype(str), categories=pd.Categorical(ref[c].astype(str)).categories)
    return out


def score(train, test, synth, target):
    from sdmetrics.reports.single_table import QualityReport
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    report = QualityReport()
    # every pair scored: the report's own thresholds (set on its property, as this script did until
    # 2026-12-03, they were ignored and only pairs past sdmetrics' default thresholds were scored)
    report.real_correlation_threshold = 0
    report.real_association_threshold = 0
    report.generate(train, synth, _metadata(train), verbose=False)
    props = report.get_properties().set_index("Property")["Score"]
    n = min(len(test), len(synth))
    both = _as_categories(pd.concat([test.sample(n, random_state=0), synth.sample(n, random_state=0)],
                                    ignore_index=True), test)
    clf = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    detection = cross_val_score(clf, both, np.r_[np.zeros(n), np.ones(n)], scoring="roc_auc",
                                cv=StratifiedKFold(5, shuffle=True, random_state=0)).mean()
    positive = sorted(train[target].unique())[1]

    def efficacy(rows):
        rows = rows[rows[target].notna()]   # a DP model may generate a few rows with the class missing
        X = _as_categories(rows.drop(columns=target), train.drop(columns=target))
        model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0).fit(X, rows[target])
        proba = model.predict_proba(_as_categories(test.drop(columns=target), train.drop(columns=target)))
        return roc_auc_score(test[target] == positive, proba[:, list(model.classes_).index(positive)])

    from synthaug.evaluation.metrics import dcr_closer_to_train_share

    dcr = dcr_closer_to_train_share(train, test, synth)
    key = lambda df: pd.util.hash_pandas_object(df.astype(str), index=False)  # noqa: E731
    return {"quality": report.get_score(), "shapes": props.iloc[0], "trends": props.iloc[1],
            "detection": detection, "eff_real": efficacy(train), "eff_syn": efficacy(synth), "dcr": dcr,
            "copies": key(synth).isin(set(key(train))).mean()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=["credit", "breast_cancer", "breast_cancer_labels", "iris", "wine",
                                            "wide_categorical"],
                        help="breast_cancer: the 0/1 class (a numeric column to the encoder); "
                             "breast_cancer_labels: the class names (categorical), as in fidelity.py; "
                             "iris, wine: scikit-learn's small tables, the class as its names; "
                             "wide_categorical: a generated table of 30 categorical and 10 numeric columns")
    parser.add_argument("model", choices=["diffusion", "gan"])
    parser.add_argument("fits", nargs="*", default=["{}"], help="JSON parameters of each fit")
    parser.add_argument("--sample", nargs="*", default=["{}"], help="JSON sampling-only parameters")
    parser.add_argument("--time-rows", type=int, default=0,
                        help="also time sampling this many rows (after one warm-up call), as sample_rows_s")
    parser.add_argument("--public-domain", action="store_true",
                        help="with epsilon: declare bounds and categories as benchmarks/privacy.py does")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import synthaug

    cls = {"diffusion": synthaug.DiffusionSampler, "gan": synthaug.GANSampler}[args.model]
    train, test, target = load(args.dataset)
    for fit_params in map(json.loads, args.fits):
        if args.public_domain and fit_params.get("epsilon"):
            from privacy import public_domain

            fit_params["bounds"], fit_params["categories"] = public_domain(pd.concat([train, test]))
        start = time.perf_counter()
        model = cls(**{"random_state": 0, "verbose": False, **fit_params}).fit(train)
        fit_s = time.perf_counter() - start
        fitted = model.get_params()
        for sample_params in map(json.loads, args.sample):
            model.set_params(**{**fitted, **sample_params})   # on top of the fitted settings, not the last variant
            start = time.perf_counter()
            synth = model.sample(len(train), random_state=1)
            sample_s = time.perf_counter() - start
            rec = {k: round(float(v), 4) for k, v in score(train, test, synth, target).items()}
            rec.update(fit_s=round(fit_s, 1), sample_s=round(sample_s, 2), steps=model.n_iter_)
            if args.time_rows:
                model.sample(args.time_rows, random_state=2)   # warm-up: the first call builds the sampling tables
                start = time.perf_counter()
                model.sample(args.time_rows, random_state=2)
                rec["sample_rows_s"] = round(time.perf_counter() - start, 2)
            if getattr(model, "coverage_", None):   # the GAN's level and mode coverage of released rows
                rec["coverage"] = tuple(round(model.coverage_[k], 3) for k in ("level_coverage", "mode_coverage"))
            shown = {k: v for k, v in fit_params.items() if k not in ("bounds", "categories")}
            print(args.dataset, args.model, shown, sample_params, rec, flush=True)


if __name__ == "__main__":
    main()
