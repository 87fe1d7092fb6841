"""EvaluationReport: to_frame, to_html (self-contained), repr; and the plots."""

import base64
import re

import numpy as np
import pandas as pd
import pytest

from synthaug.evaluation import EvaluationReport, infer_metadata
from synthaug.evaluation._schema import column_kinds, normalize_frame
from synthaug.evaluation.plots import column_figure, figure_to_png


def test_to_frame(good_report):
    frame = good_report.to_frame()
    assert list(frame.columns) == ["metric", "value", "description"]
    assert list(frame["metric"]) == list(good_report.scores)
    assert frame["value"].tolist() == list(good_report.scores.values())
    assert frame["description"].str.len().min() > 40
    text = frame.set_index("metric")["description"]
    assert "'y'" in text["ml_efficacy_real"] and "ROC AUC" in text["ml_efficacy_real"]
    assert "0.5" in text["detection_auc"] and "held-out" in text["detection_auc"]
    assert "'color'" in text["disclosure_protection"]


def test_to_html_is_one_self_contained_file(good_report, tmp_path):
    path = good_report.to_html(tmp_path / "report.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for name in good_report.scores:
        assert name in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    n_columns = good_report.info["n_columns"]
    # columns + shape overview + 4 heat maps + ROC + ML + DCR
    assert len(images) >= n_columns + 8
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    # Nothing to fetch: no external source, stylesheet or script.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page and "<link" not in page
    for section in ("Column distributions", "Column pairs", "Detection", "ML efficacy",
                    "Privacy", "What it does not prove"):
        assert section in page
    # the closer-to-train share with its standard error over the synthetic rows
    se = good_report.info["dcr_closer_to_train_share_se"]
    assert 0 < se < 0.1
    assert f"{good_report.scores['dcr_closer_to_train_share']:.3f} ± {se:.3f}" in page


def test_report_without_data_renders_to_text():
    report = EvaluationReport({"quality": 0.91, "detection_auc": 0.62})
    page = report.to_html()  # no path: the text is returned
    assert page.startswith("<!DOCTYPE html>")
    assert "quality" in page and "detection_auc" in page


def test_repr(good_report):
    text = repr(good_report)
    assert text.startswith("EvaluationReport(") and "detection_auc=" in text
    assert "<table>" in good_report._repr_html_()
    assert repr(EvaluationReport({"quality": 0.5})) == "EvaluationReport(quality=0.500)"


def _normalized(frame):
    meta = infer_metadata(frame)
    kinds = column_kinds(meta)
    return normalize_frame(frame, list(frame.columns), kinds), kinds


@pytest.mark.parametrize("column", ["x", "z", "count", "debt", "color", "member", "since"])
def test_column_figures_render(train, fresh, column):
    real, kinds = _normalized(train)
    synth, _ = _normalized(fresh)
    fig = column_figure(real, synth, column, kinds[column], score=0.9)
    png = figure_to_png(fig)
    assert png[:4] == b"\x89PNG"
    assert column in fig._suptitle.get_text()
    assert "missing: real" in fig.axes[0].get_title(loc="left")


def test_column_figure_spikes_and_missing_share():
    rng = np.random.default_rng(0)
    values = np.where(rng.random(400) < 0.7, 0.0, rng.lognormal(5, 1, 400))
    values[:40] = np.nan
    real = pd.DataFrame({"debt": values})
    fig = column_figure(real, real, "debt", "numerical")
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "= 0: real" in texts
    assert "missing: real 10.0 %" in fig.axes[0].get_title(loc="left")


def test_column_figure_edge_cases():
    empty = pd.DataFrame({"v": [np.nan] * 5, "k": [3.0] * 5})
    for col in ("v", "k"):
        assert figure_to_png(column_figure(empty, empty, col, "numerical"))[:4] == b"\x89PNG"


def test_a_one_column_report_says_there_are_no_pairs(tmp_path):
    import numpy as np
    import pandas as pd

    from synthaug.evaluation import evaluate

    rng = np.random.default_rng(0)
    report = evaluate(pd.DataFrame({"x": rng.normal(size=200)}), pd.DataFrame({"x": rng.normal(size=200)}))
    report.to_html(tmp_path / "one.html")
    html = (tmp_path / "one.html").read_text()
    assert "single column, so there is no pair" in html and html.count("<img") >= 1
