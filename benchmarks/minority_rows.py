"""How a resampler's synthetic minority rows differ from the real ones, on one training fold.

The up-sampling benchmark (``upsampling.py``) scores classifiers trained on
the resampled rows; this script looks at the rows themselves. On the first
training fold of the same 5-fold split (same imputation), the resampler's
``fit_resample`` runs once; then, for the smallest class:

* each categorical column's level shares in the real minority rows, the
  synthetic ones and the other classes' rows (the levels whose real shares
  differ most between the classes, the ones a classifier reads);
* the mean and spread of a logistic regression's minority log-odds (the
  benchmark's one-hot, scaled pipeline, fitted on the fold's real rows) over
  the real minority rows and over the synthetic ones. Synthetic rows "more
  plainly of their class" than the real ones (a higher mean) move a
  classifier trained on them away from the real minority;
* the classes that logistic regression assigns to the real minority rows
  (rows it was fitted on) and to the synthetic ones: synthetic rows it
  assigns to another class look like that class, not like the minority.

Run from this folder::

    python minority_rows.py                                  # credit, GANSampler
    python minority_rows.py --dataset credit --resampler synthaug-diffusion
    python minority_rows.py --params '{"guidance_scale": 0.0}'
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
import pandas as pd

from upsampling import DATASETS, SEED, categorical_columns, classifiers, impute, make_resampler


def first_fold(name):
    """``(X_train, y_train)`` of the first training fold of ``upsampling.py``'s split, imputed as there."""
    from sklearn.model_selection import StratifiedKFold

    X, y = DATASETS[name]()
    train, test = next(StratifiedKFold(5, shuffle=True, random_state=SEED).split(X, y))
    X_train, _ = impute(X.iloc[train].reset_index(drop=True), X.iloc[test].reset_index(drop=True))
    return X_train, y.iloc[train].reset_index(drop=True)


def level_shares(real, synthetic, others, columns, top=3):
    """Per column, the ``top`` levels whose real minority share differs most from the other classes'."""
    rows = []
    for c in columns:
        shares = pd.concat([real[c].value_counts(normalize=True), synthetic[c].value_counts(normalize=True),
                            others[c].value_counts(normalize=True)], axis=1, keys=["real", "synthetic", "others"])
        shares = shares.fillna(0.0)
        telling = (shares["real"] - shares["others"]).abs().sort_values(ascending=False).index[:top]
        rows += [{"column": c, "level": level, **shares.loc[level].round(3).to_dict()} for level in telling]
    return pd.DataFrame(rows)


def log_odds(model, minority, frames):
    """Mean and standard deviation of the fitted logistic regression ``model``'s minority log-odds over each of
    ``frames``."""
    column = list(model.classes_).index(minority)
    out = {}
    for name, frame in frames.items():
        p = np.clip(model.predict_proba(frame)[:, column], 1e-12, 1 - 1e-12)
        score = np.log(p) - np.log1p(-p)
        out[name] = float(score.mean()), float(score.std())
    return out


def assigned_classes(model, frames):
    """Share of each of ``frames``' rows that the fitted logistic regression ``model`` assigns to each class."""
    return {name: pd.Series(model.predict(frame)).value_counts(normalize=True).reindex(model.classes_, fill_value=0.0)
            for name, frame in frames.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="credit", choices=list(DATASETS))
    parser.add_argument("--resampler", default="synthaug-gan")
    parser.add_argument("--params", type=json.loads, default=None, help="JSON parameters of the resampler")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    X_train, y_train = first_fold(args.dataset)
    minority = y_train.value_counts().idxmin()
    resampler = make_resampler(args.resampler, X_train, y_train, False, args.params)
    X_res, y_res = resampler.fit_resample(X_train, y_train)
    new_labels = np.asarray(y_res)[len(X_train):]
    synthetic = X_res.iloc[len(X_train):][new_labels == minority]
    real = X_train[y_train.to_numpy() == minority]
    others = X_train[y_train.to_numpy() != minority]
    print(f"{args.dataset}, {args.resampler} {args.params or {}}: first training fold, minority {minority!r} "
          f"({len(real)} real rows, {len(synthetic)} synthetic)")
    cats = categorical_columns(X_train)
    if cats:
        print(level_shares(real, synthetic, others, cats).to_string(index=False))
    model = classifiers(X_train)["logreg"]().fit(X_train, y_train)   # fitted on the fold's real rows
    frames = {"real minority": real, "synthetic minority": synthetic}
    for name, (mean, std) in log_odds(model, minority, frames).items():
        print(f"logistic regression's minority log-odds, {name}: mean {mean:.3f}, std {std:.3f}")
    for name, shares in assigned_classes(model, frames).items():
        print(f"classes logistic regression assigns to the {name} rows: "
              + ", ".join(f"{label} {share:.3f}" for label, share in shares.items()))


if __name__ == "__main__":
    main()
