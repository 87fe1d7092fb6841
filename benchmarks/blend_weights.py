"""Are the point estimate's blend weights fitted on honest cells? An ablation of the imputation blend.

``impute`` mixes, per numeric column, the model's posterior mean, a linear
imputer's prediction and the mean of the nearest rows, by weights fitted on
observed cells of the frame held out for it (docs/imputation.md). When the
frame is the training table and the fitted model estimates those cells
itself, they are in-sample for the network and the regression, not for the
neighbours (a row is never its own neighbour); since 1bee212 ``impute``
estimates them with a shorter copy of the model fitted without them.
The ablation mixes those three estimates; since db3ca08 ``impute`` also
blends forests (one round of MissForest, then a last one on its completion),
so its ``shipped`` column holds them too.

For each table and sampler, on the imputation benchmark's 20 % MCAR mask
(``imputation.py``'s tables, masks and scores), NRMSE of the masked numeric
cells with the fitted model's three estimates mixed by weights fitted

* ``in-sample``: on held-out cells the fitted model and its regression
  estimate themselves (``impute`` before 1bee212);
* ``shipped``: ``model.impute(masked)`` as it is (the shorter copy);
* ``honest``: on cells that a *second* model (same parameters and seed) and
  its regression never saw: 20 % of the observed cells of up to 256 rows are
  hidden before that model's fit, and its three estimates of them (its
  neighbours on the reserved table, the row itself excluded) fit the weights
  with :func:`synthaug.imputation.blend_weights`.

``--second-steps s`` trains that second model for a share ``s`` of the
first one's steps (``n_iter_``). Run from this folder::

    python blend_weights.py                                  # wine, diabetes, breast_cancer, credit
    python blend_weights.py --datasets wine --models diffusion
    python blend_weights.py --second-steps 0.25
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import imputation as bench

RESERVED_ROWS, RESERVED_SHARE = 256, 0.2
MODELS = {"diffusion": "DiffusionSampler", "gan": "GANSampler"}


def _floats(values):
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _estimates(model, frame, neighbours, rng, exclude=None):
    """The model's posterior mean (no blend), its regression's prediction and the neighbours' mean of ``frame``."""
    return (model._impute_point(frame, rng, blend=False), model.linear_imputer_.predict(frame),
            neighbours.predict(frame, exclude=exclude))


def _cells(estimates, truth, hide, columns):
    """``{column: (estimates (n, 3), truths (n,))}`` of the ``hide`` cells, as :func:`blend_weights` takes them."""
    return {col: (np.stack([_floats(e[col])[hide[:, j]] for e in estimates], axis=1), _floats(truth[col])[hide[:, j]])
            for j, col in enumerate(columns) if col is not None and hide[:, j].any()}


def _mix(weights, estimates, masked, hidden):
    """``masked`` with each weighted column's hidden cells set to the weighted mix of the three ``estimates``."""
    out = estimates[0].copy()
    for col, w in weights.items():
        holes = hidden[col].to_numpy()
        mixed = sum(wi * _floats(e[col]) for wi, e in zip(w, estimates))
        out.loc[holes, col] = mixed[holes]
    return out


def in_sample_weights(model, masked, rng):
    """Blend weights fitted on held-out cells of ``masked`` that the fitted ``model`` estimates itself."""
    from synthaug.imputation import blend_weights
    from synthaug.neighbours import NeighbourImputer

    linear = model.linear_imputer_
    columns = [c for c in linear.numeric if masked[c].isna().any()]
    observed = masked[columns].notna().to_numpy()
    candidates = np.flatnonzero(observed.any(axis=1))
    rows = np.sort(rng.choice(candidates, min(RESERVED_ROWS, len(candidates)), replace=False))
    hide = observed[rows] & (rng.random((len(rows), len(columns))) < RESERVED_SHARE)
    part = masked.iloc[rows].copy()
    for j, col in enumerate(columns):
        part[col] = part[col].mask(hide[:, j])
    neighbours = NeighbourImputer(linear.numeric, linear.categorical).fit(masked, rng)
    estimates = _estimates(model, part, neighbours, rng, exclude=rows)
    return blend_weights(_cells(estimates, masked.iloc[rows], hide, columns))


def honest_weights(cls, masked, rng, max_steps="auto"):
    """Blend weights fitted on cells reserved from a second fit of ``cls`` (see the module's description)."""
    from synthaug.imputation import blend_weights
    from synthaug.neighbours import NeighbourImputer

    columns = list(masked.columns)
    observed = masked.notna().to_numpy()
    rows = np.sort(rng.choice(len(masked), min(RESERVED_ROWS, len(masked)), replace=False))
    hide = observed[rows] & (rng.random((len(rows), len(columns))) < RESERVED_SHARE)
    reserved = masked.copy()
    for j, col in enumerate(columns):
        cells = np.zeros(len(masked), dtype=bool)
        cells[rows[hide[:, j]]] = True
        reserved[col] = reserved[col].mask(cells)
    second = cls(random_state=0, verbose=False, max_steps=max_steps).fit(reserved)
    linear = second.linear_imputer_
    neighbours = NeighbourImputer(linear.numeric, linear.categorical).fit(reserved, rng)
    estimates = _estimates(second, reserved.iloc[rows], neighbours, rng, exclude=rows)
    numeric = [col if col in linear.numeric else None for col in columns]
    return blend_weights(_cells(estimates, masked.iloc[rows], hide, numeric))


def run(name, model_name, second_steps=1.0):
    import synthaug
    from synthaug.neighbours import NeighbourImputer

    cls = getattr(synthaug, MODELS[model_name])
    truth = bench.DATASETS[name]()
    hidden = bench.mask(truth, "mcar20", np.random.default_rng(bench.SEED))
    masked = truth.mask(hidden)
    t0 = time.perf_counter()
    model = cls(random_state=0, verbose=False).fit(masked)
    shipped = bench.score(truth, model.impute(masked, random_state=1), hidden)
    in_sample = in_sample_weights(model, masked, np.random.default_rng(1))
    steps = "auto" if second_steps == 1.0 else max(1, int(round(second_steps * model.n_iter_)))
    honest = honest_weights(cls, masked, np.random.default_rng(2), max_steps=steps)
    linear = model.linear_imputer_
    neighbours = NeighbourImputer(linear.numeric, linear.categorical).fit(masked, np.random.default_rng(3))
    estimates = _estimates(model, masked, neighbours, np.random.default_rng(4))
    mixed = {label: bench.score(truth, _mix(w, estimates, masked, hidden), hidden)["nrmse"]
             for label, w in (("in-sample", in_sample), ("honest", honest))}
    alone = [bench.score(truth, _mix({c: np.eye(3)[k] for c in honest}, estimates, masked, hidden), hidden)["nrmse"]
             for k in range(3)]
    return {"table": name, "model": model_name, "in-sample": mixed["in-sample"], "shipped": shipped["nrmse"],
            "honest": mixed["honest"], "model alone": alone[0], "linear alone": alone[1],
            "neighbours alone": alone[2], "w in-sample": np.mean(list(in_sample.values()), axis=0),
            "w honest": np.mean(list(honest.values()), axis=0), "seconds": time.perf_counter() - t0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="*", default=["wine", "diabetes", "breast_cancer", "credit"],
                        choices=list(bench.DATASETS))
    parser.add_argument("--second-steps", type=float, default=1.0,
                        help="the second fit's steps as a share of the first one's")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(2)
    print("| table | sampler | NRMSE, in-sample weights | shipped (shorter copy) | honest weights | "
          "model / linear / neighbours alone | mean weights in-sample | mean weights honest | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.datasets:
        for model_name in args.models:
            r = run(name, model_name, args.second_steps)
            weights = ["/".join(f"{v:.2f}" for v in r[k]) for k in ("w in-sample", "w honest")]
            print(f"| {r['table']} | {r['model']} | {r['in-sample']:.3f} | {r['shipped']:.3f} | {r['honest']:.3f} | "
                  f"{r['model alone']:.3f} / {r['linear alone']:.3f} / {r['neighbours alone']:.3f} | "
                  f"{weights[0]} | {weights[1]} | {r['seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
