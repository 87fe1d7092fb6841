"""Conditional sampling benchmark: exactness and fidelity on rare classes.

For each condition, the default DiffusionSampler (or, with ``--model gan``,
GANSampler; fitted once on the credit training split) samples rows under the
condition. Reported per condition:
the share of rows that satisfy it (must be 100 %), and the sdmetrics Column
Shapes score of the other columns against the real training rows that satisfy
it, next to the same score for unconditional samples (what ignoring the
condition would give). For interval conditions, the conditioned column itself
inside the interval: the share of rows on the interval's edges and the
Kolmogorov–Smirnov distance to the real training values in the interval.

    python benchmarks/conditional.py [--model gan] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from sdmetrics.reports.single_table import QualityReport
from sklearn.model_selection import train_test_split

from synthaug import DiffusionSampler, GANSampler
from synthaug.datasets import load_credit

CONDITIONS = [
    {"Marital": "divorced"},
    {"Marital": "widow"},
    {"Home": "ignore"},
    {"Records": "yes", "Job": "partime"},
    {"Home": ["owner", "parents"], "Age": (30, 40)},
    {"Amount": (2000, 5000)},
]
# the conditioned column's own distribution inside an interval (one column each)
INTERVALS = [
    {"Age": (30, 40)},
    {"Income": (100, 200)},
    {"Price": (1000, 1500)},
    {"Amount": (500, 1500)},
    {"Seniority": (2, 5)},
]


def _satisfies(frame, conditions):
    ok = np.ones(len(frame), dtype=bool)
    for col, value in conditions.items():
        if isinstance(value, tuple):
            ok &= frame[col].between(*value).to_numpy()
        elif isinstance(value, list):
            ok &= frame[col].isin(value).to_numpy()
        else:
            ok &= (frame[col] == value).to_numpy()
    return ok


def _metadata(frame):
    return {"columns": {c: {"sdtype": "numerical" if pd.api.types.is_numeric_dtype(frame[c]) else "categorical"}
                        for c in frame.columns}}


def column_shapes(real, synth, columns):
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(real[columns], synth[columns], _metadata(real[columns]), verbose=False)
    props = report.get_properties().set_index("Property")["Score"]
    return float(props["Column Shapes"])


MODELS = {"diffusion": DiffusionSampler, "gan": GANSampler}


def run(seed=0, model="diffusion"):
    data = load_credit()
    train, _ = train_test_split(data, test_size=0.3, stratify=data["Status"], random_state=0)
    start = time.perf_counter()
    model = MODELS[model](random_state=seed, verbose=False).fit(train)
    fit_s = time.perf_counter() - start
    uncond = model.sample(5000)
    rows = []
    for cond in CONDITIONS:
        real = train[_satisfies(train, cond)]
        synth = model.sample(1000, conditions=cond)
        others = [c for c in train.columns if c not in cond]
        rows.append({
            "condition": ", ".join(f"{k}={v}" for k, v in cond.items()),
            "real rows": len(real),
            "share of train": len(real) / len(train),
            "rows satisfying": _satisfies(synth, cond).mean(),
            "shapes (conditional)": column_shapes(real, synth, others),
            "shapes (unconditional)": column_shapes(real, uncond, others),
        })
    inside = []
    for cond in INTERVALS:
        (col, (lo, hi)), = cond.items()
        real = train[col][train[col].between(lo, hi)].dropna()
        synth = model.sample(3000, conditions=cond)[col].dropna()
        inside.append({"condition": f"{col}=({lo}, {hi})", "real rows": len(real),
                       "edges (synthetic)": synth.isin([lo, hi]).mean(), "edges (real)": real.isin([lo, hi]).mean(),
                       "KS distance": ks_2samp(synth, real).statistic,
                       "mean (synthetic)": synth.mean(), "mean (real)": real.mean()})
    return pd.DataFrame(rows), pd.DataFrame(inside), fit_s


def section_name(model):
    """The markers of a model's section in the markdown file."""
    return "conditional" if model == "diffusion" else f"conditional-{model}"


def to_markdown(table, inside, fit_s, model="diffusion"):
    option = "" if model == "diffusion" else f" --model {model}"
    lines = [
        f"<!-- {section_name(model)}:start -->",
        f"### Conditional sampling (credit, default {MODELS[model].__name__})",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, fit {fit_s:.0f} s. "
        f"Command: `python benchmarks/conditional.py{option} --out docs/benchmarks.md`.",
        "Column Shapes of the non-conditioned columns against the real training rows that satisfy the condition; "
        "\"unconditional\" scores plain samples against the same rows (what ignoring the condition gives).",
        "",
        "| condition | real rows | share of train | rows satisfying | shapes (conditional) | shapes (unconditional) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in table.itertuples(index=False):
        lines.append(f"| {r[0]} | {r[1]} | {r[2]:.2%} | {r[3]:.0%} | {r[4]:.3f} | {r[5]:.3f} |")
    lines += [
        "",
        "The conditioned column inside an interval (3,000 rows per condition): share of rows on the interval's "
        "two edges, and the Kolmogorov–Smirnov distance between the synthetic values and the real training values "
        "in the interval (0 = same distribution).",
        "",
        "| condition | real rows | edges (synthetic) | edges (real) | KS distance | mean (synthetic) | mean (real) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in inside.itertuples(index=False):
        lines.append(f"| {r[0]} | {r[1]} | {r[2]:.1%} | {r[3]:.1%} | {r[4]:.3f} | {r[5]:.1f} | {r[6]:.1f} |")
    lines.append(f"<!-- {section_name(model)}:end -->")
    return "\n".join(lines)


def write_section(path, text, name):
    path = Path(path)
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start in old and end in old:
        new = old[: old.index(start)] + text + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + text + "\n"
    path.write_text(new)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="markdown file to update (section between conditional markers)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", choices=list(MODELS), default="diffusion")
    args = parser.parse_args()
    table, inside, fit_s = run(args.seed, args.model)
    text = to_markdown(table, inside, fit_s, args.model)
    print(text)
    if args.out:
        write_section(args.out, text, section_name(args.model))


if __name__ == "__main__":
    main()
