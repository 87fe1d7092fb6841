"""Assemble an :class:`~synthaug.evaluation.EvaluationReport` into one HTML page.

The page is self-contained: CSS inline, plots as base64 PNG, no scripts and
no network access, so it can be mailed, archived or opened offline.
"""

import base64
import datetime
import html
import importlib.metadata
import math

import numpy as np
import pandas as pd

from . import plots
from ._descriptions import ALL_SCORE_NAMES, group
from ._schema import column_kinds

__all__ = ["render_report", "render_comparison"]

_CSS = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;color:#222;margin:0;
 background:#f6f7f9;font-size:14px;line-height:1.45}
main{max-width:1320px;margin:0 auto;padding:18px 28px 60px}
header{background:#1d3557;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:24px} header p{margin:0;color:#d7e1ee;font-size:13px}
nav{background:#fff;border-bottom:1px solid #dde1e6;padding:8px 28px;font-size:13px}
nav a{margin-right:16px;color:#1d3557;text-decoration:none}
h2{border-bottom:2px solid #1d3557;padding-bottom:4px;margin-top:34px;font-size:19px}
h3{font-size:15px;margin:18px 0 6px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:4px 20px 18px;
 margin-top:18px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border-bottom:1px solid #e4e7eb;padding:5px 9px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.grp{color:#666;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
code{background:#eef1f5;padding:0 3px;border-radius:3px;font-size:12.5px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(400px,1fr));gap:10px}
.grid2{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:14px}
.grid img,.grid2 img,.fig img{width:100%;height:auto;border:1px solid #eceef1;border-radius:4px}
.fig{max-width:640px}
.row{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.row>div{flex:1 1 380px}
.note{color:#555;font-size:13px}
.card{border-left:4px solid #2f6db3;background:#f8fafc;padding:6px 12px;margin:10px 0}
.card b{display:block;margin-bottom:2px}
.warn{border-left-color:#c0392b}
"""

#: What each privacy figure shows, and what it does not prove.
_PRIVACY_NOTES = {
    "dcr_closer_to_train_share": (
        "Whether synthetic rows sit closer to the rows the model was trained on than to "
        "real rows it never saw (equal-size samples, so 0.5 is what a model that learnt "
        "only the population would get). Well above 0.5: the generator reproduces its "
        "training rows (overfitting), a privacy risk.",
        "A value near 0.5 is no guarantee: a few memorised rare records barely move the "
        "share, and being near in this encoding is not the same as being re-identifiable.",
    ),
    "membership_inference_auc": (
        "How well an attacker holding real records can tell which of them were in the "
        "training data, by how close the synthetic rows come to each record (relative to "
        "how close other real records come). 0.5 = no better than a coin flip.",
        "One attack among many: a stronger attacker (shadow models, knowledge of the "
        "generator) may do better, and an AUC near 0.5 on average can hide a few exposed "
        "outliers. Only differential privacy bounds every attack at once.",
    ),
    "exact_copy_share": (
        "Verbatim copies of training rows (every column equal, missing equals missing).",
        "Zero copies does not mean no leak: a row with one value changed, or a rare "
        "combination of a few columns, can still single a person out. On very discrete "
        "tables some copies happen by chance; the holdout's own share is the reference.",
    ),
    "dcr_baseline_protection": (
        "How close synthetic rows come to training rows, compared with random rows "
        "spread uniformly over the same ranges (sdmetrics, median distances).",
        "Realistic data is expected to be much closer than random noise (a fresh real "
        "sample also scores low), so a low value is not by itself a leak and a high "
        "value may only mean low fidelity.",
    ),
    "dcr_overfitting_protection": (
        "The closer-to-train question with sdmetrics' distance (range-scaled absolute "
        "differences, 0/1 for categories) on equal-size samples: 1.0 when at most half "
        "of the synthetic rows are closer to training rows.",
        "It saturates at 1.0 and so cannot tell 0.5 from 0.3; same limits as the share "
        "above.",
    ),
    "new_row_synthesis": (
        "Share of sampled synthetic rows that match no training row (categories equal, "
        "numbers within 1 %).",
        "Computed on a sample, so it has a few points of sampling error; partial copies "
        "and copies off by more than 1 % are not counted.",
    ),
    "disclosure_protection": (
        "How well an attacker who knows the other columns of a real person could guess "
        "the sensitive columns by looking up matching synthetic rows (CAP attack, numbers "
        "cut into 10 bins), relative to a blind guess.",
        "One specific attack; membership inference or linkage on fewer columns is not "
        "tested. When many columns are known, exact matches are rare and protection "
        "looks high.",
    ),
}


def _img(fig, alt):
    data = base64.b64encode(plots.figure_to_png(fig)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _fmt(value):
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    return f"{value:.3f}"


def _version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _table(frame, *, numeric=()):
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for c in frame.columns:
            v = row[c]
            if c in numeric or isinstance(v, (float, np.floating)):
                cells.append(f'<td class="num">{_fmt(v if not pd.isna(v) else None)}</td>')
            else:
                cells.append(f"<td>{html.escape('' if pd.isna(v) else str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_report(report):
    """Return the full HTML page for ``report`` as a string."""
    parts = [_header(report), _summary(report)]
    data = report._data
    kinds = column_kinds(report.metadata) if report.metadata else {}
    if "real" in data and "synthetic" in data and kinds:
        parts.append(_columns(report, kinds))
    if "association_real" in report.details:
        parts.append(_pairs(report))
    if "detection_auc" in report.scores:
        parts.append(_detection(report))
    if "ml_efficacy" in report.details:
        parts.append(_utility(report))
    if any(group(n) == "privacy" for n in report.scores):
        parts.append(_privacy(report))
    if "data_validity" in report.details:
        parts.append(_validity(report))
    if "images" in data:
        parts.append(_images(report))
    if "images" not in data:
        parts.append(_method(report))
    title = "synthaug evaluation report"
    nav = "".join(
        f'<a href="#{anchor}">{label}</a>'
        for anchor, label in (("summary", "Summary"), ("columns", "Columns"),
                              ("pairs", "Column pairs"), ("detection", "Detection"),
                              ("utility", "ML efficacy"), ("privacy", "Privacy"),
                              ("validity", "Validity"), ("images", "Images"), ("method", "Method"))
        if f'id="{anchor}"' in "".join(parts)
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{title}</title><style>{_CSS}</style></head><body>"
        f"{parts[0]}<nav>{nav}</nav><main>{''.join(parts[1:])}</main></body></html>\n"
    )


def _png(rgb, alt):
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    plt.imsave(buffer, rgb, format="png")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}" style="image-rendering:pixelated">'


def _images(report, per_class=10):
    from ..plotting import image_grid

    d = report._data["images"]
    rows = []
    labels = pd.unique(np.concatenate([d["y_real"], d["y_synthetic"]]))
    try:
        labels = sorted(labels)
    except TypeError:   # labels of mixed types keep their order of appearance
        pass
    for label in labels:
        cells = []
        for images, labels, kind in ((d["real"], d["y_real"], "real"), (d["synthetic"], d["y_synthetic"],
                                                                         "synthetic")):
            chosen = np.asarray(images)[labels == label][:per_class]
            cells.append(_png(image_grid(chosen, ncols=per_class, scale=4), f"{kind} images of class {label}")
                         if len(chosen) else "<span class=\"note\">none</span>")
        rows.append(f"<tr><td><b>{html.escape(str(label))}</b></td><td>{cells[0]}</td><td>{cells[1]}</td></tr>")
    return ('<section id="images"><h2>Images per class</h2><p class="note">Up to '
            f"{per_class} real training images and {per_class} synthetic images generated for each class.</p>"
            "<table><thead><tr><th>class</th><th>real</th><th>synthetic</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></section>")


def _header(report):
    n = report.info.get("n_rows", {})
    unit = "images" if "images" in report._data else "rows"
    sizes = ", ".join(f"{k} {v:,} {unit}" for k, v in n.items() if v is not None)
    cols = report.info.get("n_columns")
    sub = f"{sizes}; {cols} columns" if sizes and cols else sizes
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        "<header><h1>Synthetic data evaluation</h1>"
        f"<p>{html.escape(sub)} · generated {stamp} · synthaug {_version('synthaug')}, "
        f"sdmetrics {_version('sdmetrics')}</p></header>"
    )


def _summary(report):
    reference = {}
    if "holdout_reference" in report.details:
        ref = report.details["holdout_reference"]
        reference = dict(zip(ref["metric"], ref["value"]))
    rows = []
    for name in ALL_SCORE_NAMES:
        if name not in report.scores:
            continue
        rows.append(
            f'<tr><td class="grp">{group(name)}</td><td><code>{name}</code></td>'
            f'<td class="num"><b>{report.scores[name]:.3f}</b></td>'
            + (f'<td class="num">{_fmt(reference.get(name))}</td>' if reference else "")
            + f"<td>{html.escape(report.describe(name))}</td></tr>"
        )
    ref_note = (
        "<p class=\"note\"><b>Holdout reference</b>: the same figure with the real holdout "
        "in place of the synthetic table, i.e. what a perfect generator that never saw the "
        "training rows would get (sampling noise included).</p>"
        if reference else ""
    )
    skipped = ""
    if report.skipped:
        items = "".join(
            f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>"
            for k, v in report.skipped.items()
        )
        skipped = f"<h3>Not computed</h3><ul class=\"note\">{items}</ul>"
    return (
        '<section id="summary"><h2>Summary</h2>'
        "<table><thead><tr><th>group</th><th>metric</th><th>value</th>"
        + ("<th>holdout reference</th>" if reference else "") + "<th>meaning and direction</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{ref_note}{skipped}</section>"
    )


def _columns(report, kinds):
    real, synth = report._data["real"], report._data["synthetic"]
    shapes = report.details.get("column_shapes")
    score_of = {}
    if shapes is not None and "Score" in shapes:
        score_of = dict(zip(shapes["Column"], shapes["Score"]))
    figures = []
    for name, kind in kinds.items():
        fig = plots.column_figure(real, synth, name, kind, score=score_of.get(name))
        figures.append(_img(fig, f"{name}: real vs synthetic"))
    overview = ""
    if shapes is not None and len(shapes):
        overview = (
            '<div class="row"><div class="fig" style="max-width:520px">'
            f"{_img(plots.shape_scores_figure(shapes), 'shape score per column')}</div>"
            '<div><p class="note">Each column\'s distribution, real (filled blue) against '
            "synthetic (orange outline), as shares of rows. Numbers: 1 - KS statistic "
            "(the largest gap between the two cumulative distributions); categories: "
            "1 - total variation distance (half the summed absolute gaps in level "
            "shares). Spikes (single values holding 10 % or more of the real values and "
            "three times the next most common one, e.g. zeros) are left out of the "
            "histogram and listed in a box; missing values are counted in the subtitles "
            "(categorical: a bar of their own).</p></div></div>"
        )
    return (
        '<section id="columns"><h2>Column distributions</h2>'
        f"{overview}<div class=\"grid\">{''.join(figures)}</div></section>"
    )


def _pairs(report):
    real = report.details["association_real"]
    synth = report.details["association_synthetic"]
    if len(real.columns) < 2:   # one column: no pair to draw
        return ('<section id="pairs"><h2>Column pairs</h2><p class="note">The table has a single column, '
                "so there is no pair of columns to compare.</p></section>")
    diff = (real - synth).abs()
    figs = [
        _img(plots.matrix_figure(real, "Real: association", center=0.0), "real associations"),
        _img(plots.matrix_figure(synth, "Synthetic: association", center=0.0),
             "synthetic associations"),
        _img(plots.matrix_figure(diff, "|real − synthetic|", vmin=0.0, vmax=1.0, cmap="Reds"),
             "absolute difference of associations"),
    ]
    worst = ""
    official = report.details.get("column_pair_trends")
    shared = report.details.get("column_pair_trends_shared_bins")
    pairs = shared if shared is not None else official
    if pairs is not None and len(pairs):
        names = list(real.columns)
        score = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
        for _, row in pairs.iterrows():
            if row["Column 1"] in score.index and row["Column 2"] in score.index:
                score.loc[row["Column 1"], row["Column 2"]] = row["Score"]
                score.loc[row["Column 2"], row["Column 1"]] = row["Score"]
        title = "Pair trend score (1 = same trend)"
        figs.append(_img(plots.matrix_figure(score, title, vmin=0.5, vmax=1.0, cmap="RdYlGn"),
                         "column pair trend scores"))
        table = pairs[["Column 1", "Column 2", "Metric", "Score"]].copy()
        if shared is not None and official is not None:
            table = table.rename(columns={"Score": "score (shared bins)"})
            table = table.merge(
                official[["Column 1", "Column 2", "Score"]].rename(
                    columns={"Score": "sdmetrics score"}),
                on=["Column 1", "Column 2"], how="left")
            table = table.sort_values("score (shared bins)")
        else:
            table = table.sort_values("Score")
        worst = "<h3>Ten least similar pairs</h3>" + _table(table.head(10))
    return (
        '<section id="pairs"><h2>Column pairs</h2>'
        '<p class="note">Association of every pair of columns in each table: Spearman rank '
        "correlation for two numerical columns (signed, −1 to 1), bias-corrected Cramér's V "
        "for two categorical columns and the correlation ratio η for a categorical and a "
        "numerical column (adjusted for the number of categories; both 0 to 1); missing "
        "categories count as a level. The third map "
        "is the absolute difference (0 is best). The fourth shows sdmetrics' Column Pair "
        "Trends score per pair, all pairs included (its thresholds are set to 0): "
        "correlation similarity for numerical pairs, contingency similarity otherwise, "
        "with numbers cut into the real data's 10 bins in both tables "
        "(<code>column_pair_trends_shared_bins</code>). sdmetrics 0.32 itself bins each "
        "table separately, so a numerical column whose synthetic range differs from the "
        "real one, by a single outlier even, scores near 0 against every categorical "
        "column; the table below gives both scores. Grey cells could not be scored.</p>"
        f"<div class=\"grid2\">{''.join(figs)}</div>{worst}</section>"
    )


def _detection(report):
    auc = report.scores["detection_auc"]
    against = report.info.get("detection_against", "held-out")
    roc = report.details.get("detection_roc")
    fig = _img(plots.roc_figure(roc, auc), "detection ROC curve") if roc is not None else ""
    folds = report.details.get("detection_folds")
    fold_text = ""
    if folds is not None:
        fold_text = "Fold AUCs: " + ", ".join(f"{v:.3f}" for v in folds["auc"]) + ". "
    rows = report.info.get("detection_rows_per_class")
    rows_text = f"{rows:,} rows of each table" if rows else "equal numbers of rows"
    caveat = "" if against == "held-out" else (
        '<div class="card warn"><b>Compared with the training rows</b>No holdout was given, '
        "so a generator that copies its training rows would look perfect here (AUC 0.5). "
        "Pass <code>holdout=</code> for an honest test.</div>")
    return (
        '<section id="detection"><h2>Detection</h2><div class="row">'
        f'<div class="fig" style="max-width:420px">{fig}</div><div>'
        f"<p>A gradient-boosting classifier is trained to tell synthetic rows from real "
        f"{against} rows ({rows_text}, 5-fold cross-validation). Its ROC AUC is "
        f"<b>{auc:.3f}</b>: 0.5 means it cannot do better than a coin flip, 1.0 means every "
        f"synthetic row is recognisable. {fold_text}</p>"
        '<p class="note">This is the strictest fidelity test here: it looks at all columns '
        "jointly, including spikes, rounding and missing-value patterns that per-column "
        "scores average away. On real tables, most generators are detected with AUC well "
        "above 0.9.</p></div></div>"
        f"{caveat}</section>"
    )


def _utility(report):
    table = report.details["ml_efficacy"]
    metric = {"roc_auc": "ROC AUC", "roc_auc_ovr": "macro OvR ROC AUC", "r2": "R²"}.get(
        report.info.get("ml_metric"), "score")
    target = report.info.get("target")
    fig = _img(plots.ml_efficacy_figure(table, metric, target), "ML efficacy")
    gap = report.scores.get("ml_efficacy_gap")
    gap_text = "" if gap is None else f" The gap (real − synthetic) is <b>{gap:+.3f}</b>."
    return (
        '<section id="utility"><h2>ML efficacy</h2><div class="row">'
        f'<div class="fig" style="max-width:420px">{fig}</div><div>'
        f"<p>The same gradient-boosting model predicts <code>{html.escape(str(target))}</code> "
        f"from the other columns, once trained on the real training rows and once on the "
        f"synthetic rows; both are scored ({metric}) on the real holdout.{gap_text}</p>"
        '<p class="note">A gap near 0 means the synthetic table carries the signal a model '
        "needs for this target; it says nothing about other targets or about rare "
        "subgroups.</p></div></div></section>"
    )


def _privacy(report):
    cards = []
    for name, (shows, not_proof) in _PRIVACY_NOTES.items():
        if name not in report.scores:
            continue
        value = f"{report.scores[name]:.3f}"
        se = report.info.get(f"{name}_se")   # (the closer-to-train share's, over the synthetic rows)
        if se is not None and math.isfinite(se):
            value += f" ± {se:.3f} (standard error over the synthetic rows)"
        cards.append(
            f'<div class="card"><b><code>{name}</code> = {value}</b>'
            f"<span>What it shows: {html.escape(shows)}</span><br>"
            f'<span class="note">What it does not prove: {html.escape(not_proof)}</span></div>'
        )
    fig = ""
    if "dcr" in report.details and "dcr_closer_to_train_share" in report.scores:
        fig = _img(plots.dcr_figure(report.details["dcr"],
                                    report.scores["dcr_closer_to_train_share"]),
                   "distance to closest record")
        fig = f'<div class="fig">{fig}</div>'
    breakdown = ""
    if "privacy" in report.details and len(report.details["privacy"]):
        breakdown = "<h3>Breakdown</h3>" + _table(report.details["privacy"], numeric=("value",))
    return (
        '<section id="privacy"><h2>Privacy</h2>'
        '<div class="card warn"><b>None of these figures proves privacy.</b>They can reveal '
        "a generator that copies or overfits its training rows; they cannot certify that "
        "no one can be re-identified. Differentially private training "
        "(<code>epsilon=</code>) is the only guarantee.</div>"
        f"{fig}{''.join(cards)}{breakdown}</section>"
    )


def _validity(report):
    validity = report.details["data_validity"].copy()
    if "Score" in validity:
        validity["synthetic values outside"] = [
            "–" if pd.isna(v) else f"{100 * (1 - v):.2f} %" for v in validity["Score"]]
    low = validity[validity["Score"] < 1] if "Score" in validity else validity.iloc[:0]
    text = ("Every synthetic value is inside the real range or among the real levels."
            if low.empty else "Columns with values outside the real range or levels:")
    table = _table(validity)
    return (
        '<section id="validity"><h2>Validity (sdmetrics diagnostic)</h2>'
        f"<p>{text}</p>{_table(low) if not low.empty else ''}"
        f"<details><summary>All columns</summary>{table}</details></section>"
    )


def _method(report):
    meta_rows = "".join(
        f"<tr><td>{html.escape(c)}</td><td>{html.escape(m.get('sdtype', '?'))}</td></tr>"
        for c, m in (report.metadata or {}).get("columns", {}).items()
    )
    seconds = report.info.get("seconds", {})
    time_rows = "".join(
        f'<tr><td>{html.escape(k)}</td><td class="num">{v:.2f}</td></tr>'
        for k, v in seconds.items()
    )
    total = sum(seconds.values()) if seconds else None
    return (
        '<section id="method"><h2>Method</h2><div class="row">'
        "<div><h3>Column types used</h3><table><thead><tr><th>column</th><th>sdtype</th></tr>"
        f"</thead><tbody>{meta_rows}</tbody></table></div>"
        "<div><h3>Settings</h3><ul class=\"note\">"
        "<li>sdmetrics QualityReport with <code>real_correlation_threshold = 0</code> and "
        "<code>real_association_threshold = 0</code>: every column pair is scored.</li>"
        "<li>Random state: "
        f"<code>{html.escape(str(report.info.get('random_state')))}</code>; every subsample, "
        "fold split and model is seeded from it.</li>"
        "<li>sdmetrics privacy metrics run on seeded subsamples (sizes in the summary "
        "descriptions) because their cost grows with the product of the table sizes.</li>"
        "</ul><h3>Seconds per step</h3><table><tbody>"
        f"{time_rows}<tr><th>total</th><th class=\"num\">{total or 0:.2f}</th></tr>"
        "</tbody></table></div></div></section>"
    )


def render_comparison(reports, *, links=None, timings=None):
    """One HTML page comparing several models' reports side by side.

    Parameters
    ----------
    reports : dict of str → EvaluationReport
    links : dict of str → str, optional
        Each model's full report, linked from its column header.
    timings : dict of str → dict of str → float, optional
        Extra per-model figures (e.g. fit and sample seconds), shown first.
    """
    names = list(reports)
    links = links or {}
    timings = timings or {}
    head = "".join(
        f'<th><a href="{html.escape(links[n])}">{html.escape(n)}</a></th>' if n in links
        else f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    extra = list(dict.fromkeys(k for n in names for k in timings.get(n, {})))
    for key in extra:
        cells = "".join(f'<td class="num">{_fmt(timings.get(n, {}).get(key))}</td>' for n in names)
        rows.append(f'<tr><td class="grp">run</td><td><code>{html.escape(key)}</code></td>{cells}<td></td></tr>')
    first = reports[names[0]]
    for score in ALL_SCORE_NAMES:
        if not any(score in r.scores for r in reports.values()):
            continue
        cells = "".join(f'<td class="num">{_fmt(reports[n].scores.get(score))}</td>' for n in names)
        rows.append(f'<tr><td class="grp">{group(score)}</td><td><code>{score}</code></td>{cells}'
                    f"<td>{html.escape(first.describe(score))}</td></tr>")
    body = ('<section id="summary"><h2>Models side by side</h2>'
            f"<table><thead><tr><th>group</th><th>metric</th>{head}<th>meaning and direction</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            '<p class="note">Each model was fitted on the same training data and evaluated against the same '
            "holdout; follow a model's name for its full report ("
            + ("real and synthetic images per class" if "images" in first._data else
               "column plots, pairs, detection, ML efficacy, privacy") + ").</p></section>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>synthaug model comparison</title><style>{_CSS}</style></head><body>"
        f"{_header(first)}<main>{body}</main></body></html>\n"
    )
