"""The object ``evaluate`` returns: scores, details, and ways to look at them."""

import html as _html
import math
import pathlib

import pandas as pd

from ._descriptions import ALL_SCORE_NAMES, describe

__all__ = ["EvaluationReport", "compare_reports"]


class EvaluationReport:
    """Scores and details of one evaluation, made by :func:`synthaug.evaluation.evaluate`.

    Parameters
    ----------
    scores : dict of str to float
        Named figures; names from :data:`synthaug.evaluation.SCORE_NAMES`.
    details : dict of str to pandas.DataFrame, optional
        Breakdowns behind the scores.
    skipped : dict of str to str, optional
        Scores that were not computed, with the reason.
    info : dict, optional
        Sizes, settings, sample sizes and seconds spent per step.
    metadata : dict, optional
        The single-table metadata used.
    data : dict of str to pandas.DataFrame, optional
        The normalised ``"real"``, ``"synthetic"`` and ``"holdout"`` tables,
        kept for the plots of :meth:`to_html`.

    Attributes
    ----------
    scores : dict of str to float
        In the order of ``SCORE_NAMES``; a score that could not be computed is
        absent (see ``skipped``), never NaN.
    details : dict of str to pandas.DataFrame
        ``"column_shapes"`` (per column), ``"column_pair_trends"`` (per pair,
        as sdmetrics reports them), ``"column_pair_trends_shared_bins"`` (per
        pair, real bin edges in both tables), ``"data_validity"``,
        ``"data_structure"``,
        ``"association_real"`` / ``"association_synthetic"`` (square matrices,
        see :func:`synthaug.evaluation.metrics.association_matrix`),
        ``"detection_folds"`` and ``"detection_roc"``, ``"ml_efficacy"``,
        ``"dcr"`` (distance of each synthetic row to its nearest training and
        holdout row), ``"privacy"`` (sdmetrics breakdowns) and
        ``"holdout_reference"`` (the same figures for the holdout used as if
        it were synthetic: what a perfect generator would get), each when
        available.
    skipped : dict of str to str
    info : dict
    metadata : dict

    Examples
    --------
    >>> from synthaug.evaluation import EvaluationReport
    >>> report = EvaluationReport({"quality": 0.91, "detection_auc": 0.62})
    >>> report
    EvaluationReport(quality=0.910, detection_auc=0.620)
    >>> report.to_frame()[["metric", "value"]]
              metric  value
    0        quality   0.91
    1  detection_auc   0.62
    """

    def __init__(self, scores, details=None, *, skipped=None, info=None, metadata=None,
                 data=None):
        order = {name: i for i, name in enumerate(ALL_SCORE_NAMES)}
        self.skipped = dict(skipped or {})
        self.scores = {}
        for k, v in sorted(scores.items(), key=lambda kv: order.get(kv[0], len(order))):
            if v is None or not math.isfinite(float(v)):
                self.skipped.setdefault(k, "undefined for this data")
            else:
                self.scores[k] = float(v)
        self.details = dict(details or {})
        self.info = dict(info or {})
        self.metadata = metadata
        self._data = dict(data or {})

    def describe(self, name):
        """Plain-language meaning and direction of score ``name``.

        Examples
        --------
        >>> from synthaug.evaluation import EvaluationReport
        >>> EvaluationReport({}).describe("detection_auc")[:40]
        'ROC AUC of a gradient-boosting classifie'
        """
        return describe(name, self.info)

    def to_frame(self):
        """One row per score: ``metric``, ``value``, ``description``.

        Returns
        -------
        frame : pandas.DataFrame

        Examples
        --------
        >>> from synthaug.evaluation import EvaluationReport
        >>> frame = EvaluationReport({"exact_copy_share": 0.0}).to_frame()
        >>> frame.loc[0, "description"].endswith("0 is ideal.")
        True
        """
        rows = [(name, value, self.describe(name)) for name, value in self.scores.items()]
        return pd.DataFrame(rows, columns=["metric", "value", "description"])

    def to_html(self, path=None):
        """Write the report as one self-contained HTML page (no network needed).

        The page holds the score table with each score's meaning, per-column
        real-vs-synthetic plots, association heat maps, the detection ROC
        curve, ML efficacy and the privacy figures with what each does and
        does not show. Plots are PNG images embedded as base64.

        Parameters
        ----------
        path : str or path-like, optional
            File to write. When None, the HTML is returned as a string.

        Returns
        -------
        pathlib.Path or str
            The path written, or the HTML text when ``path`` is None.

        Examples
        --------
        >>> from synthaug.evaluation import EvaluationReport
        >>> page = EvaluationReport({"quality": 0.91}).to_html()
        >>> page.startswith("<!DOCTYPE html>"), "quality" in page
        (True, True)
        """
        from .html import render_report

        text = render_report(self)
        if path is None:
            return text
        path = pathlib.Path(path)
        path.write_text(text, encoding="utf-8")
        return path

    def __repr__(self):
        items = [f"{k}={v:.3f}" for k, v in self.scores.items()]
        inner = ", ".join(items)
        if len(inner) > 70:
            inner = "\n    " + ",\n    ".join(items) + ",\n"
        return f"EvaluationReport({inner})"

    def _repr_html_(self):
        rows = "".join(
            f"<tr><td><code>{_html.escape(name)}</code></td><td>{value:.3f}</td>"
            f"<td style='text-align:left'>{_html.escape(self.describe(name))}</td></tr>"
            for name, value in self.scores.items()
        )
        return (
            "<div><b>EvaluationReport</b> &mdash; <code>.to_html(path)</code> for plots"
            "<table><thead><tr><th>metric</th><th>value</th><th>meaning</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )


def compare_reports(reports, path=None, *, links=None, timings=None):
    """Write one HTML page with several models' scores side by side.

    Parameters
    ----------
    reports : dict of str → EvaluationReport
        One report per model, evaluated on the same real data.
    path : str or path-like, optional
        File to write; when None the HTML is returned.
    links : dict of str → str, optional
        Where each model's full report is (linked from its name).
    timings : dict of str → dict, optional
        Extra figures per model, e.g. ``{"gan": {"fit_seconds": 40.1}}``.

    Returns
    -------
    pathlib.Path or str

    Examples
    --------
    >>> from synthaug.evaluation import EvaluationReport, compare_reports
    >>> page = compare_reports({"a": EvaluationReport({"quality": 0.9}), "b": EvaluationReport({"quality": 0.8})})
    >>> "0.900" in page and "0.800" in page
    True
    """
    from .html import render_comparison

    if not reports:
        raise ValueError("compare_reports needs at least one report.")
    text = render_comparison(dict(reports), links=links, timings=timings)
    if path is None:
        return text
    path = pathlib.Path(path)
    path.write_text(text, encoding="utf-8")
    return path
