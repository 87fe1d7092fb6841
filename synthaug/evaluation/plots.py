"""Matplotlib figures for the evaluation report (real in blue, synthetic in orange).

Every function returns a :class:`matplotlib.figure.Figure` built without
``pyplot`` (no global state, no display needed; PNG output uses the Agg
renderer), so the figures can be saved from any thread or server.
:func:`figure_to_png` turns one into PNG bytes.
"""

import io

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from ._encoding import with_missing_level
from ._schema import to_float

__all__ = [
    "column_figure",
    "dcr_figure",
    "figure_to_png",
    "matrix_figure",
    "ml_efficacy_figure",
    "roc_figure",
    "shape_scores_figure",
]

REAL = "#2f6db3"
SYNTHETIC = "#e8871e"
HOLDOUT = "#6b9e3f"
_FONT = 8.5
#: Discrete numerics with at most this many values are drawn as bars, one per value.
_MAX_DISCRETE_VALUES = 25
#: A spike holds at least this share of the observed real values (and 3x the next value).
_SPIKE_SHARE = 0.10
_MAX_LEVELS = 12


def _figure(width, height):
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _style(ax):
    ax.tick_params(labelsize=_FONT - 0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color="#e6e6e6", linewidth=0.6)
    ax.set_axisbelow(True)


def figure_to_png(fig, *, dpi=100):
    """Render a figure to PNG bytes with the Agg renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def _pct(x):
    return f"{100 * x:.1f} %" if x >= 0.001 or x == 0 else f"{100 * x:.2f} %"


def _title(fig, ax, name, kind, score, real_missing, synth_missing):
    score_text = "" if score is None or not np.isfinite(score) else f" · shape score {score:.3f}"
    fig.suptitle(f"{_short(name, 40)}  ({kind}{score_text})", fontsize=_FONT + 1.5,
                 x=0.02, ha="left", fontweight="bold")
    ax.set_title(f"missing: real {_pct(real_missing)} · synthetic {_pct(synth_missing)}",
                 fontsize=_FONT - 0.5, color="#555555", loc="left")
    ax.legend(handles=_legend_handles(), fontsize=_FONT - 1, frameon=False, ncol=2,
              loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.1,
              handlelength=1.4, columnspacing=1.0)


def _number(v):
    if float(v).is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:.3g}"


def column_figure(real, synthetic, name, kind, *, score=None, width=4.6, height=3.1):
    """Real vs synthetic distribution of one column.

    * categorical: share of rows per level, top levels by combined
      frequency, the rest lumped as "other", missing values as a bar of their
      own;
    * numerical with at most 25 distinct real values: share per value;
    * other numerical: histogram over the real 0.5-99.5 % range (shares of
      the observed values; values outside are counted in the edge bins).
      Up to three values that each hold 10 % or more of the observed real
      values and three times the next most common value ("spikes", e.g.
      zeros) are taken out of the histogram and their shares written in a
      box, so the continuous part stays readable. Integer-valued columns get
      bins aligned on the integers;
    * datetime: histogram over time.

    The title gives the kind, sdmetrics' shape score and the missing share
    of each table.

    Parameters
    ----------
    real, synthetic : pandas.DataFrame
        Normalised tables (see ``evaluate``); only column ``name`` is used.
    name : str
    kind : {"numerical", "categorical", "datetime"}
    score : float, optional
        Column shape score to show in the title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _figure(width, height)
    ax = fig.add_subplot()
    _style(ax)
    r_missing = float(real[name].isna().mean())
    s_missing = float(synthetic[name].isna().mean())
    if kind == "categorical":
        _categorical(ax, real[name], synthetic[name])
    else:
        r = to_float(real, name, kind)
        s = to_float(synthetic, name, kind)
        r, s = r[~np.isnan(r)], s[~np.isnan(s)]
        if r.size == 0 and s.size == 0:
            ax.text(0.5, 0.5, "no observed values", ha="center", va="center",
                    transform=ax.transAxes, fontsize=_FONT)
        elif kind == "numerical" and np.unique(r).size <= _MAX_DISCRETE_VALUES:
            _discrete(ax, r, s)
        else:
            _continuous(ax, r, s, kind)
    _title(fig, ax, name, kind, score, r_missing, s_missing)
    return fig


def _legend_handles():
    from matplotlib.patches import Patch

    return [Patch(color=REAL, alpha=0.55, label="real"),
            Patch(facecolor="none", edgecolor=SYNTHETIC, linewidth=1.8, label="synthetic")]


def _shares(values, levels):
    counts = pd.Series(values).value_counts()
    total = max(len(values), 1)
    return np.array([counts.get(level, 0) / total for level in levels])


def _paired_bars(ax, labels, real_share, synth_share, *, horizontal):
    pos = np.arange(len(labels))
    width = 0.4
    if horizontal:
        ax.barh(pos - width / 2, real_share, height=width, color=REAL, alpha=0.55)
        ax.barh(pos + width / 2, synth_share, height=width, facecolor="none",
                edgecolor=SYNTHETIC, linewidth=1.6)
        ax.set_yticks(pos, labels)
        ax.invert_yaxis()
        ax.set_xlabel("share of rows", fontsize=_FONT)
        ax.grid(axis="x", color="#e6e6e6", linewidth=0.6)
        ax.grid(axis="y", visible=False)
    else:
        ax.bar(pos - width / 2, real_share, width=width, color=REAL, alpha=0.55)
        ax.bar(pos + width / 2, synth_share, width=width, facecolor="none",
               edgecolor=SYNTHETIC, linewidth=1.6)
        ax.set_xticks(pos, labels, rotation=45 if len(labels) > 8 else 0,
                      ha="right" if len(labels) > 8 else "center")
        ax.set_ylabel("share of observed", fontsize=_FONT)


def _categorical(ax, real, synthetic):
    missing = "(missing)"
    r = pd.Series(with_missing_level(real, missing))
    s = pd.Series(with_missing_level(synthetic, missing))
    counts = pd.concat([r, s], ignore_index=True).value_counts()
    observed = [lvl for lvl in counts.index if lvl != missing]
    top = observed[:_MAX_LEVELS]
    rest = observed[_MAX_LEVELS:]
    labels = [_short(lvl) for lvl in top]
    real_share = list(_shares(r, top))
    synth_share = list(_shares(s, top))
    if rest:
        labels.append(f"other ({len(rest)} levels)")
        real_share.append(float(r.isin(rest).mean()))
        synth_share.append(float(s.isin(rest).mean()))
    if missing in counts.index:
        labels.append(missing)
        real_share.append(float((r == missing).mean()))
        synth_share.append(float((s == missing).mean()))
    _paired_bars(ax, labels, real_share, synth_share, horizontal=True)


def _short(value, limit=18):
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _discrete(ax, r, s):
    values = np.union1d(np.unique(r), np.unique(s))
    if values.size > _MAX_DISCRETE_VALUES:
        # Synthetic values off the real support: keep the real values, lump the rest.
        values = np.unique(r)
    labels = [_number(v) for v in values]
    real_share = _shares(r, values)
    synth_share = _shares(s, values)
    off = 1.0 - synth_share.sum() if s.size else 0.0
    _paired_bars(ax, labels, real_share, synth_share, horizontal=False)
    if off > 0.0005:
        ax.text(0.0, -0.02, f"synthetic values off the real support: {_pct(off)}",
                transform=ax.transAxes, fontsize=_FONT - 1, color=SYNTHETIC, va="top")


def _spikes(r):
    """Values that hold >= 10 % of the real values and >= 3x the next most common one."""
    if r.size == 0:
        return []
    values, counts = np.unique(r, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    shares = counts[order] / r.size
    shares = np.append(shares, 0.0)
    for k in (3, 2, 1):
        if k < len(shares) and shares[k - 1] >= _SPIKE_SHARE and shares[k - 1] >= 3 * shares[k]:
            return [values[i] for i in order[:k]]
    return []


def _bin_edges(base, lo, hi, integer):
    if integer:
        # One bin per integer, or per run of integers: never a bin edge on a value,
        # which would make integer data look comb-shaped.
        step = max(1.0, np.ceil((hi - lo + 1) / 40))
        return np.arange(np.floor(lo) - 0.5, np.ceil(hi) + step, step)
    return np.histogram_bin_edges(base.clip(lo, hi), bins=30, range=(lo, hi))


def _continuous(ax, r, s, kind):
    spikes = _spikes(r) if kind == "numerical" else []
    r_rest = r[~np.isin(r, spikes)]
    s_rest = s[~np.isin(s, spikes)]
    base = r_rest if r_rest.size else (r if r.size else s)
    lo, hi = np.quantile(base, [0.005, 0.995]) if base.size else (0.0, 1.0)
    if hi <= lo:
        lo, hi = base.min() - 0.5, base.max() + 0.5
    integer = kind == "numerical" and bool(np.all(base == np.round(base)))
    edges = _bin_edges(base, lo, hi, integer)
    lo, hi = edges[0], edges[-1]
    for values, total, style in (
        (r_rest, r.size, dict(color=REAL, alpha=0.55, histtype="stepfilled")),
        (s_rest, s.size, dict(color=SYNTHETIC, histtype="step", linewidth=1.6)),
    ):
        if values.size and total:
            weights = np.full(values.size, 1.0 / total)
            x = np.clip(values, lo, hi)
            if kind == "datetime":
                x = _to_mdates(x)
            ax.hist(x, bins=_to_mdates(edges) if kind == "datetime" else edges,
                    weights=weights, **style)
    clipped = (np.mean((r < lo) | (r > hi)) if r.size else 0) + (
        np.mean((s < lo) | (s > hi)) if s.size else 0)
    notes = []
    if spikes:
        notes.append("spikes left out (see box)")
        lines = [
            f"= {_number(v)}: real {_pct(np.mean(r == v))}, "
            f"synth {_pct(np.mean(s == v) if s.size else 0)}"
            for v in spikes
        ]
        ax.text(0.98, 0.97, "spikes (share of observed)\n" + "\n".join(lines),
                transform=ax.transAxes, fontsize=_FONT - 1, va="top", ha="right",
                bbox=dict(boxstyle="round,pad=0.3", facecolor="white", edgecolor="#bbbbbb",
                          alpha=0.9))
        ax.set_ylim(0, ax.get_ylim()[1] * (1.1 + 0.16 * len(spikes)))
    if clipped > 0:
        notes.append("tails past the real 0.5–99.5 % range in the edge bins")
    ax.set_xlabel("; ".join(notes), fontsize=_FONT - 1, color="#555555")
    ax.set_ylabel("share of observed", fontsize=_FONT)
    if kind == "datetime":
        import matplotlib.dates as mdates

        locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _to_mdates(seconds):
    # Matplotlib dates are days since 1970-01-01.
    return np.asarray(seconds, dtype=float) / 86400.0


def shape_scores_figure(column_shapes, *, width=4.6):
    """Horizontal bars of the per-column shape scores, worst first."""
    table = column_shapes.dropna(subset=["Score"]).sort_values("Score")
    fig = _figure(width, max(1.6, 0.24 * len(table) + 0.8))
    ax = fig.add_subplot()
    _style(ax)
    colors = [REAL if m == "KSComplement" else "#7a5aa6" for m in table["Metric"]]
    ax.barh(np.arange(len(table)), table["Score"], color=colors, alpha=0.8)
    ax.set_yticks(np.arange(len(table)), [_short(c, 22) for c in table["Column"]])
    ax.set_xlim(min(0.5, float(table["Score"].min()) - 0.05) if len(table) else 0, 1.0)
    ax.set_xlabel("shape score (blue: 1 - KS, purple: 1 - TV distance)", fontsize=_FONT)
    ax.grid(axis="x", color="#e6e6e6", linewidth=0.6)
    ax.grid(axis="y", visible=False)
    for i, v in enumerate(table["Score"]):
        ax.text(v, i, f" {v:.3f}", va="center", fontsize=_FONT - 1.5)
    return fig


def matrix_figure(matrix, title, *, vmin=-1.0, vmax=1.0, cmap="RdBu_r", center=None,
                  annotate=None, width=None):
    """Heat map of a square matrix of column pairs.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Square, same labels on both axes; NaN cells are grey.
    title : str
    vmin, vmax, cmap : colour scale.
    center : float, optional
        Value mapped to the middle colour (a diverging scale).
    annotate : bool, optional
        Write the values in the cells; default when there are at most 16
        columns.
    """
    n = len(matrix)
    size = width or min(max(3.6, 0.36 * n + 1.8), 12.0)
    label_size = max(4.0, min(_FONT - 1, 190.0 / max(n, 1)))
    fig = _figure(size, size * 0.9)
    ax = fig.add_subplot()
    values = matrix.to_numpy(dtype=float)
    norm = TwoSlopeNorm(vcenter=center, vmin=vmin, vmax=vmax) if center is not None else None
    import matplotlib

    cm = matplotlib.colormaps[cmap].with_extremes(bad="#d9d9d9")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cm, norm=norm,
                      vmin=None if norm else vmin, vmax=None if norm else vmax)
    labels = [_short(c, 14) for c in matrix.columns]
    ax.set_xticks(np.arange(n), labels, rotation=60, ha="right", rotation_mode="anchor",
                  fontsize=label_size)
    ax.set_yticks(np.arange(n), labels, fontsize=label_size)
    ax.set_title(title, fontsize=_FONT + 1, loc="left", fontweight="bold")
    if annotate is None:
        annotate = n <= 16
    if annotate:
        span = vmax - vmin
        for i in range(n):
            for j in range(n):
                v = values[i, j]
                if np.isfinite(v):
                    if center is not None:
                        strong = abs(v - center) > 0.55 * max(vmax - center, center - vmin)
                    else:
                        strong = (v - vmin) / span > 0.6
                    ax.text(j, i, f"{v:.2f}".replace("0.", ".").replace("-.", "−."),
                            ha="center", va="center", fontsize=max(5.0, 7.5 - 0.12 * n),
                            color="white" if strong else "#222222")
    fig.colorbar(image, ax=ax, shrink=0.75, pad=0.02).ax.tick_params(labelsize=_FONT - 1)
    return fig


def roc_figure(roc, auc, *, width=3.8):
    """ROC curve of the real-vs-synthetic detector (out-of-fold predictions)."""
    fig = _figure(width, width * 0.9)
    ax = fig.add_subplot()
    _style(ax)
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1,
            label="indistinguishable (0.5)")
    ax.plot(roc["fpr"], roc["tpr"], color=SYNTHETIC, linewidth=2,
            label=f"detector (AUC {auc:.3f})")
    ax.set_xlabel("real rows flagged as synthetic", fontsize=_FONT)
    ax.set_ylabel("synthetic rows flagged as synthetic", fontsize=_FONT)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(fontsize=_FONT - 1, frameon=False, loc="lower right")
    ax.set_title("Detection ROC curve", fontsize=_FONT + 1, loc="left", fontweight="bold")
    return fig


def ml_efficacy_figure(table, metric_label, target, *, width=3.8):
    """Bars: the model trained on real rows vs on synthetic rows, scored on the holdout."""
    fig = _figure(width, width * 0.8)
    ax = fig.add_subplot()
    _style(ax)
    values = table["value"].to_numpy(dtype=float)
    bars = ax.bar([0, 1], values, color=[REAL, SYNTHETIC], alpha=0.8, width=0.55)
    ax.set_xticks([0, 1], ["trained on real", "trained on synthetic"])
    lowest = float(np.nanmin(values)) if np.isfinite(values).any() else 0.5
    # an AUC axis starts at chance (0.5) unless a bar is below it; other metrics at 0 or below
    low = max(0.0, min(0.5, lowest - 0.05)) if metric_label.endswith("AUC") else min(0.0, lowest - 0.05)
    ax.set_ylim(low, 1.0 + 0.1 * (1.0 - low))        # headroom for the value written above a bar at 1
    ax.set_yticks([t for t in ax.get_yticks() if low <= t <= 1.0])
    for bar, v in zip(bars, values):
        if np.isfinite(v):
            ax.text(bar.get_x() + bar.get_width() / 2, v, f"{v:.3f}", ha="center",
                    va="bottom", fontsize=_FONT)
    ax.set_ylabel(f"{metric_label} on the holdout", fontsize=_FONT)
    ax.set_title(f"ML efficacy, target {target!r}", fontsize=_FONT + 1, loc="left",
                 fontweight="bold")
    return fig


def dcr_figure(dcr, share, *, width=5.0):
    """Distances of each synthetic row to its nearest training and holdout row."""
    fig = _figure(width, width * 0.7)
    ax = fig.add_subplot()
    _style(ax)
    d_train = dcr["dcr_train"].to_numpy()
    d_hold = dcr["dcr_holdout"].to_numpy()
    hi = float(np.quantile(np.r_[d_train, d_hold], 0.99)) or 1.0
    edges = np.linspace(0, hi, 40)
    ax.hist(np.clip(d_train, 0, hi), bins=edges, color=REAL, alpha=0.55,
            label="to nearest training row")
    ax.hist(np.clip(d_hold, 0, hi), bins=edges, histtype="step", color=HOLDOUT,
            linewidth=1.8, label="to nearest holdout row")
    ax.set_xlabel("distance (min-max scaled numerics, one-hot categoricals)", fontsize=_FONT)
    ax.set_ylabel("synthetic rows", fontsize=_FONT)
    ax.legend(fontsize=_FONT - 1, frameon=False, loc="upper center", ncol=2,
              bbox_to_anchor=(0.5, -0.2))
    fig.suptitle("Distance from each synthetic row to the closest real row",
                 fontsize=_FONT + 1.5, x=0.02, ha="left", fontweight="bold")
    ax.set_title(f"share closer to a training row: {share:.3f} (ideal 0.5)",
                 fontsize=_FONT - 0.5, color="#555555", loc="left")
    zero_train, zero_hold = np.mean(d_train < 1e-9), np.mean(d_hold < 1e-9)
    if zero_train or zero_hold:
        ax.text(0.98, 0.7, f"at distance 0: train {_pct(zero_train)}, "
                f"holdout {_pct(zero_hold)}", transform=ax.transAxes, ha="right",
                fontsize=_FONT - 1)
    return fig
