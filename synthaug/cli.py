"""The ``synthaug`` command line.

User mistakes (a missing file, an unknown column, a bad condition) print one
line to stderr and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

__all__ = ["main"]


class _UserError(Exception):
    """A mistake in the command's input: reported in one line."""


def _model_class(name):
    from . import DiffusionSampler, GANSampler

    models = {"diffusion": DiffusionSampler, "gan": GANSampler}
    if name not in models:
        raise _UserError(f"--model {name!r} is not available; choose from {sorted(models)}.")
    return models[name]


def _split_xy(frame, target):
    if target is None:
        return frame, None
    if target not in frame.columns:
        raise _UserError(f"--target {target!r} is not a column; columns are {list(frame.columns)}.")
    return frame.drop(columns=target), frame[target]


# ---------------------------------------------------------------- commands
def _steps(args):
    """``--steps`` checked: None (scaled to the data) or a positive number of training steps."""
    if args.steps is not None and args.steps < 1:
        raise _UserError(f"--steps must be at least 1 (training steps), got {args.steps}.")
    return args.steps


def _new_model(args, **params):
    """The ``--model`` estimator with the command's seed, progress and training length."""
    params.update(random_state=args.seed, verbose=not args.quiet)
    if _steps(args) is not None:
        params["max_steps"] = args.steps
    return _model_class(args.model)(**params)


def _read_data(args):
    """``(X, y, description)`` of DATA: a table (CSV/Parquet, ``--target`` names y) or images (.npz/.npy)."""
    from .io import is_image_path, read_images, read_table

    if is_image_path(args.data):
        if getattr(args, "target", None):
            raise _UserError("--target is for tables; an image .npz carries its labels as the array 'y'.")
        X, y = read_images(args.data)
        return X, y, f"{len(X)} images of shape {X.shape[1:]}"
    frame = read_table(args.data)
    X, y = _split_xy(frame, getattr(args, "target", None))
    return X, y, f"{len(frame)} rows × {frame.shape[1]} columns"


def cmd_fit(args):
    from .distributed import init_from_env, world
    from .io import save_model

    if Path(args.out).is_dir():
        raise _UserError(f"--out {args.out}: is a folder; name the model file to write.")
    init_from_env()   # under torchrun: one model, trained by every process (DDP)
    rank, size = world()
    X, y, what = _read_data(args)
    privacy = {k: v for k, v in (("epsilon", args.epsilon), ("delta", args.delta)) if v is not None}
    if args.categories:   # (the --target column's classes may be declared too; an image file's labels as y)
        import pandas as pd

        if not hasattr(X, "assign"):
            y = None if y is None else pd.Series(y, name="y")
            table = pd.DataFrame({"y": [] if y is None else y})
        else:
            table = X.assign(**{args.target: y}) if args.target else X
        privacy["categories"] = _parse_categories(args.categories, table)
    if args.bounds:
        privacy["bounds"] = _parse_bounds(args.bounds, X)
    model = _new_model(args, **privacy)
    start = time.perf_counter()
    model.fit(X, y)
    if rank:
        return   # only rank 0 writes the model
    save_model(model, args.out)
    on = f" on {size} processes" if size > 1 else ""
    print(f"fitted {args.model} on {what}{on} in {time.perf_counter() - start:.1f} s → {args.out}")
    if model.privacy_ is not None:
        p = model.privacy_
        print(f"differential privacy: ({p['epsilon']:.3g}, {p['delta']:.3g})-DP — "
              f"encoder ε {p['encoder_epsilon']:.3g}, "
              f"DP-SGD ε {p['training_epsilon']:.3g} (noise multiplier {p['noise_multiplier']:.3g}, "
              f"{p['steps']} steps at sampling rate {p['sample_rate']:.3g})")


def _declared_column(text, option, X):
    """``COL=VALUE`` → ``(COL, VALUE)``, the column checked against the table."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        form = "LEVEL,LEVEL,..." if option == "categories" else "LOW..HIGH"
        raise _UserError(f"--{option} {text!r}: write COLUMN={form}.")
    if not hasattr(X, "columns") or name not in X.columns:
        raise _UserError(f"--{option}: {name!r} is not a column of the table.")
    return name, value


def _parse_categories(items, X):
    """``COL=a,b,c`` options → the ``categories`` dict, each level as the column's own value where it holds one."""
    categories = {}
    for text in items:
        name, value = _declared_column(text, "categories", X)
        levels = [v.strip() for v in value.split(",") if v.strip()]
        if not levels:
            raise _UserError(f"--categories {text!r}: name at least one level.")
        own = {str(v): v for v in X[name].dropna().unique()}   # "True" → True in a boolean column
        categories[name] = [own.get(v, v) for v in levels]
    return categories


def _parse_bounds(items, X):
    """``COL=LOW..HIGH`` options → the ``bounds`` dict (numbers, or dates for a datetime column)."""
    import pandas as pd

    bounds = {}
    for text in items:
        name, value = _declared_column(text, "bounds", X)
        low, sep, high = value.partition("..")
        try:
            if not sep:
                raise ValueError
            if pd.api.types.is_datetime64_any_dtype(X[name].dtype):
                bounds[name] = (pd.Timestamp(low.strip()), pd.Timestamp(high.strip()))
            else:
                bounds[name] = (float(low), float(high))
        except ValueError:
            raise _UserError(f"--bounds {text!r}: write COLUMN=LOW..HIGH with two numbers (or dates).") from None
    return bounds


def _parse_strategy(text, y):
    """``auto``/``minority``/…, a float ratio, or ``CLASS=N,CLASS=N`` (labels matched as in the data)."""
    if text in ("auto", "minority", "not minority", "not majority", "all"):
        return text
    if "=" in text:
        by_text = {str(label): label for label in y.unique()}
        out = {}
        for part in text.split(","):
            name, _, count = part.partition("=")
            if name not in by_text:      # "bad=150, good=170": the space after a comma is not the label's
                name = name.strip()
            if name not in by_text:
                raise _UserError(f"--strategy: unknown class {name!r}; classes are {sorted(by_text)}.")
            try:
                out[by_text[name]] = int(count)
            except ValueError:
                raise _UserError(f"--strategy: {part!r} is not CLASS=N with an integer N.") from None
        return out
    try:
        return float(text)
    except ValueError:
        raise _UserError(f"--strategy {text!r}: expected auto, minority, 'not minority', 'not majority', all, "
                         "a float ratio or CLASS=N,CLASS=N.") from None


def _resample_images(args):
    from .io import read_images, write_images

    X, y = read_images(args.data)
    if y is None:
        raise _UserError(f"{args.data}: resampling needs the class labels as the array 'y' in the .npz.")
    import pandas as pd

    model = _new_model(args, sampling_strategy=_parse_strategy(args.strategy, pd.Series(y)))
    start = time.perf_counter()
    X_res, y_res = model.fit_resample(X, y)
    path = write_images(X_res, y_res, args.out)
    added = ", ".join(f"{k}: +{v}" for k, v in model.sampling_strategy_.items())
    print(f"resampled {len(X)} → {len(X_res)} images ({added}) with {args.model} in "
          f"{time.perf_counter() - start:.1f} s → {path}")


def cmd_resample(args):
    from .io import check_table_path, is_image_path, read_table, write_table

    if is_image_path(args.data):
        return _resample_images(args)
    if not args.target:
        raise _UserError("--target is required: the class column to balance.")
    check_table_path(args.out)
    frame = read_table(args.data)
    X, y = _split_xy(frame, args.target)
    model = _new_model(args, sampling_strategy=_parse_strategy(args.strategy, y))
    start = time.perf_counter()
    X_res, y_res = model.fit_resample(X, y)
    out = X_res.assign(**{args.target: y_res})[list(frame.columns)]   # the Series keeps the label dtype
    path = write_table(out, args.out)
    added = ", ".join(f"{k}: +{v}" for k, v in model.sampling_strategy_.items())
    print(f"resampled {len(frame)} → {len(out)} rows ({added}) with {args.model} in "
          f"{time.perf_counter() - start:.1f} s → {path}")


def _impute_images(args):
    from .io import read_images, write_images

    X, y = read_images(args.data)
    model = _new_model(args)
    start = time.perf_counter()
    complete = X[~np.isnan(X).reshape(len(X), -1).any(axis=1)] if np.issubdtype(X.dtype, np.floating) else X
    if len(complete) < 2:
        raise _UserError(f"{args.data}: fewer than 2 complete images to learn from.")
    # float pixels above 1 mean the 0..255 scale: the model learns those as uint8 images
    model.fit(np.rint(complete).astype(np.uint8) if np.nanmax(X) > 1 else complete)
    filled = model.impute(X, n_draws=args.draws or 1)   # images are always filled with draws
    paths = _write_draws(filled, args.out, lambda f, path: write_images(f, y, path))
    print(f"filled {int(np.isnan(X).sum())} missing pixels of {len(X)} images with {args.model} "
          f"({args.draws or 1} draw(s)) in {time.perf_counter() - start:.1f} s → {', '.join(map(str, paths))}")


def _write_draws(filled, out, write):
    """Write one completed table to ``out``, or several to ``OUT_1 … OUT_K``; the paths written."""
    out = Path(out)
    if len(filled) == 1:
        return [write(filled[0], out)]
    return [write(f, out.with_name(f"{out.stem}_{k + 1}{out.suffix}")) for k, f in enumerate(filled)]


def cmd_impute(args):
    from .io import check_table_path, is_image_path, read_table, write_table

    if args.draws is not None and args.draws < 1:
        raise _UserError(f"--draws must be >= 1, got {args.draws}.")
    if is_image_path(args.data):
        return _impute_images(args)
    check_table_path(args.out)
    frame = read_table(args.data)
    model = _new_model(args)
    start = time.perf_counter()
    model.fit(frame)
    filled = model.impute(frame, n_draws=args.draws, calibrate=not args.no_calibrate)
    paths = _write_draws([filled] if args.draws is None else filled, args.out, write_table)
    how = "the point estimate" if args.draws is None else f"{args.draws} draw(s)"
    print(f"filled {int(frame.isna().sum().sum())} missing cells of {len(frame)} rows with {args.model} "
          f"({how}) in {time.perf_counter() - start:.1f} s → {', '.join(map(str, paths))}")


def _conditions(model, texts):
    """``(conditions, class)`` from the ``--condition`` arguments; the class column of a model fitted
    with ``--target`` is conditioned through ``y`` (one class for every row)."""
    target = getattr(model, "target_schema_", None)
    target = None if target is None else target.name
    conditions, label = {}, None
    for text in texts:
        if "=" not in text:
            raise _UserError(f"--condition {text!r}: expected COL=VALUE, COL=A,B or COL=LOW..HIGH.")
        name, raw = text.split("=", 1)
        if name in conditions or (name == target and label is not None):
            raise _UserError(f"--condition on {name!r} is given twice; give one COL=VALUE, COL=A,B or "
                             "COL=LOW..HIGH per column.")
        if target is not None and name == target:
            label = _class_label(model, name, raw)
        else:
            conditions[name] = _parse_condition(model, name, raw)
    return conditions, label


def _class_label(model, name, raw):
    for level in model.classes_:
        if str(level) == raw:
            return level
    raise _UserError(f"--condition on the class column {name!r}: {raw!r} is not one of its classes "
                     f"{[str(c) for c in model.classes_]} (one class per call).")


def _parse_condition(model, name, raw):
    """The condition on ``name`` written ``VALUE``, ``A,B,C`` (a set) or ``LOW..HIGH`` (an interval)."""
    enc = model.encoder_
    if name not in enc.columns_ or name not in model.schema_.columns:
        raise _UserError(f"--condition: unknown column {name!r}; columns are {list(model.schema_.columns)}.")
    kind = enc.kinds_[name]
    if ".." in raw and kind != "categorical":
        lo, hi = raw.split("..", 1)
        return _cli_value(enc, name, lo), _cli_value(enc, name, hi)
    values = [_cli_value(enc, name, p) for p in raw.split(",")]
    return values if len(values) > 1 else values[0]


def _cli_value(enc, name, text):
    kind = enc.kinds_[name]
    if kind == "datetime":
        return text
    if kind == "numeric":
        try:
            return float(text)
        except ValueError:
            raise _UserError(f"--condition on {name!r}: {text!r} is not a number.") from None
    levels = list(enc.encoders_[name].all_levels_)
    for level in levels:
        if str(level) == text:
            return level
    raise _UserError(f"--condition on {name!r}: {text!r} was not seen during fit.")


def cmd_sample(args):
    from .io import is_image_path, load_model, write_images

    model = load_model(args.model)
    if args.n < 1:
        raise _UserError(f"-n must be at least 1 (the rows to write), got {args.n}.")
    if hasattr(model, "image_scaler_"):
        if args.condition:
            raise _UserError("--condition applies to table columns, not to an image model.")
        out = model.sample(args.n, random_state=args.seed)
        X, y = out if isinstance(out, tuple) else (out, None)
        write_images(X, y, args.out)
        print(f"wrote {len(X)} images → {args.out}")
        return
    if is_image_path(args.out) or str(args.out).lower().endswith(".png"):
        raise _UserError(f"{args.out}: a table model writes CSV or Parquet.")
    from .distributed import init_from_env

    init_from_env()   # under torchrun each process writes its own shards of a folder
    conditions, label = _conditions(model, args.condition or [])
    start = time.perf_counter()
    paths = model.sample_to(args.out, args.n, batch_size=args.batch_size, conditions=conditions or None,
                            y=label, random_state=args.seed)
    from .distributed import world

    rank, size = world()
    where = args.out if len(paths) == 1 and size == 1 else f"{len(paths)} shards in {args.out}"
    if size == 1:
        print(f"wrote {args.n} rows in {time.perf_counter() - start:.1f} s → {where}")
    else:   # each process its own shards, a share of the rows
        print(f"process {rank} of {size} wrote {where} in {time.perf_counter() - start:.1f} s")


def cmd_evaluate(args):
    from .evaluation import evaluate
    from .io import read_table

    if args.html and Path(args.html).is_dir():
        raise _UserError(f"--html {args.html}: is a folder; name an .html file.")
    real, synth = read_table(args.real), read_table(args.synth)
    holdout = read_table(args.holdout) if args.holdout else None
    report = evaluate(real, synth, holdout=holdout, target=args.target, sensitive_columns=args.sensitive)
    _print_scores(report.scores)
    for name, reason in report.skipped.items():
        print(f"  {name}: not computed — {reason}")
    if args.html:
        Path(args.html).parent.mkdir(parents=True, exist_ok=True)
        report.to_html(args.html)
        print(f"report → {args.html}")


def _demo_models(args):
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    classes = {name: _model_class(name) for name in names}
    if not classes:
        raise _UserError("--models: name at least one model (diffusion, gan).")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return classes, out_dir


def _demo_report(name, report, fit_s, sample_s, out_dir, pages):
    """Write one model's report page and remember it for the side-by-side page."""
    reports, links, timings = pages
    reports[name] = report
    links[name] = f"report_{name}.html"
    report.to_html(out_dir / links[name])
    timings[name] = {"fit_seconds": fit_s, "sample_seconds": sample_s}
    _print_scores(report.scores)


def _demo_pages(pages, out_dir):
    from .evaluation import compare_reports

    reports, links, timings = pages
    html = compare_reports(reports, out_dir / "report.html", links=links, timings=timings)
    print(f"report → {html}")


def _demo_digits(args):
    """The image demo: class-conditional models on 8×8 digits, images per class in the report."""
    from sklearn.model_selection import train_test_split

    from .datasets import load_digits
    from .evaluation import evaluate_images
    from .io import write_images

    classes, out_dir = _demo_models(args)
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=540, stratify=y, random_state=0)
    print(f"digits: {len(X)} images of 8×8; training on {len(X_train)}, holding out {len(X_test)}")
    pages = ({}, {}, {})
    for name, cls in classes.items():
        model = cls(random_state=args.seed, verbose=not args.quiet)
        if _steps(args) is not None:
            model.set_params(max_steps=args.steps)
        start = time.perf_counter()
        model.fit(X_train, y_train)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        X_new, y_new = model.sample(len(y_train), y=y_train)
        sample_s = time.perf_counter() - start
        path = write_images(X_new, y_new, out_dir / f"synthetic_digits_{name}.npz")
        write_images(X_new[np.argsort(y_new, kind="stable")][:: max(1, len(y_new) // 100)][:100], None,
                     out_dir / f"synthetic_digits_{name}.png")
        print(f"[{name}] fit {fit_s:.1f} s, sampled {len(y_new)} images in {sample_s:.2f} s → {path}")
        _demo_report(name, evaluate_images(X_train, X_new, y_real=y_train, y_synthetic=y_new, holdout=X_test,
                                           y_holdout=y_test, random_state=0), fit_s, sample_s, out_dir, pages)
    _demo_pages(pages, out_dir)


def cmd_demo(args):
    from sklearn.model_selection import train_test_split

    from .datasets import load_credit
    from .evaluation import evaluate
    from .io import write_table

    if args.data == "digits":
        return _demo_digits(args)
    classes, out_dir = _demo_models(args)
    data = load_credit()
    train, holdout = train_test_split(data, test_size=0.3, stratify=data["Status"], random_state=0)
    print(f"credit data: {len(data)} rows × {data.shape[1]} columns; training on {len(train)}, "
          f"holding out {len(holdout)}")
    pages = ({}, {}, {})
    for i, (name, cls) in enumerate(classes.items()):
        model = cls(random_state=args.seed, verbose=not args.quiet)
        if _steps(args) is not None:
            model.set_params(max_steps=args.steps)
        start = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        synth = model.sample(len(train))
        sample_s = time.perf_counter() - start
        # the first model's sample is the demo's synthetic table; every model also gets its own file
        csv_path = write_table(synth, out_dir / f"synthetic_credit_{name}.csv")
        if i == 0:
            write_table(synth, out_dir / "synthetic_credit.csv")
        print(f"[{name}] fit {fit_s:.1f} s, sampled {len(synth)} rows in {sample_s:.2f} s → {csv_path}")
        _demo_report(name, evaluate(train, synth, holdout=holdout, target="Status"), fit_s, sample_s, out_dir, pages)
    _demo_pages(pages, out_dir)


def _print_scores(scores):
    width = max(map(len, scores), default=0)
    for name, value in scores.items():
        print(f"  {name:<{width}}  {value:.4f}" if isinstance(value, float) else f"  {name:<{width}}  {value}")


# ------------------------------------------------------------------ parser
def _training_options(parser):
    """The options of every command that trains a model."""
    parser.add_argument("--model", default="diffusion", help="diffusion or gan")
    parser.add_argument("--steps", type=int, help="training steps (default: scaled to the data)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser():
    p = argparse.ArgumentParser(prog="synthaug", description="Synthetic tables with diffusion models and GANs.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="fit, sample and evaluate on the bundled credit data (or digits images)")
    d.add_argument("--data", default="credit", choices=["credit", "digits"],
                   help="credit (the table, default) or digits (8×8 images, class-conditional)")
    d.add_argument("--out-dir", default="synthaug_demo", help="folder for the CSV and the HTML report")
    d.add_argument("--steps", type=int, help="training steps (default: scaled to the data)")
    d.add_argument("--models", default="diffusion,gan",
                   help="comma-separated models to fit and compare (default: diffusion,gan)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=cmd_demo)

    f = sub.add_parser("fit", help="fit a model on a CSV/Parquet table and save it")
    f.add_argument("data")
    f.add_argument("--out", required=True, help="model file to write")
    f.add_argument("--target", help="class column: fit a class-conditional model")
    f.add_argument("--epsilon", type=float, help="differential privacy budget ε (default: no DP)")
    f.add_argument("--delta", type=float, help="δ of the DP guarantee (default: 1 / n^1.1)")
    f.add_argument("--categories", action="append", metavar="COL=A,B,...",
                   help="with --epsilon: a column's levels (or the --target's classes; an image file's "
                        "labels as y=...), public knowledge (repeat per column)")
    f.add_argument("--bounds", action="append", metavar="COL=LOW..HIGH",
                   help="with --epsilon: a numeric column's range, public knowledge (repeat per column)")
    _training_options(f)
    f.set_defaults(func=cmd_fit)

    r = sub.add_parser("resample", help="up-sample minority classes of a table (imbalanced-learn style)")
    r.add_argument("data")
    r.add_argument("--target", help="class column (tables; an image .npz carries 'y')")
    r.add_argument("--out", required=True, help="CSV or Parquet file to write (original rows first)")
    r.add_argument("--strategy", default="auto",
                   help="auto, minority, 'not minority', 'not majority', all, a float ratio, or CLASS=N,CLASS=N")
    _training_options(r)
    r.set_defaults(func=cmd_resample)

    m = sub.add_parser("impute", help="fill the missing cells of a table from a model fitted on it")
    m.add_argument("data")
    m.add_argument("--out", required=True, help="CSV or Parquet file (with --draws K >= 2: OUT_1 … OUT_K)")
    m.add_argument("--draws", type=int, default=None,
                   help="multiple imputation: K completed tables, each a draw from the model (without it, one "
                        "table of point estimates: mean / most probable level of the draws, blended; "
                        "images: one draw)")
    m.add_argument("--no-calibrate", action="store_true",
                   help="with --draws K >= 2: keep the model's raw draws instead of widening each numeric column's "
                        "draws to the spread measured on held-out cells (which fits a second model)")
    _training_options(m)
    m.set_defaults(func=cmd_impute)

    s = sub.add_parser("sample", help="sample rows from a saved model")
    s.add_argument("model")
    s.add_argument("-n", type=int, required=True, help="number of rows")
    s.add_argument("--out", required=True,
                   help="CSV or Parquet file, or a folder for Parquet shards (images: .npz, .npy or .png)")
    s.add_argument("--batch-size", type=int, default=100_000, help="rows per shard / row group (constant memory)")
    s.add_argument("--condition", action="append", metavar="COL=VALUE",
                   help="COL=VALUE, COL=A,B (a set) or COL=LOW..HIGH (an interval); repeatable")
    s.add_argument("--seed", type=int, default=None)
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser("evaluate", help="score a synthetic table against the real one")
    e.add_argument("real")
    e.add_argument("synth")
    e.add_argument("--holdout")
    e.add_argument("--target")
    e.add_argument("--html", help="write the HTML report here")
    e.add_argument("--sensitive", action="append", metavar="COL",
                   help="a sensitive column for sdmetrics' DisclosureProtection (repeatable)")
    e.set_defaults(func=cmd_evaluate)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        args.func(args)
    except (_UserError, ValueError, TypeError, OSError, ImportError, KeyError) as exc:
        # OSError: a file or folder that cannot be read or written (a folder given as a file, no permission)
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"synthaug {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
