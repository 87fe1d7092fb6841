"""Evaluation of synthetic tables: fidelity, utility and privacy, with an HTML report.

>>> from synthaug.evaluation import evaluate                       # doctest: +SKIP
>>> report = evaluate(train, synthetic, holdout=test, target="Status")  # doctest: +SKIP
>>> report.scores, report.to_frame(), report.to_html("report.html")     # doctest: +SKIP

Modules: :mod:`~synthaug.evaluation.metrics` (synthaug's own figures),
:mod:`~synthaug.evaluation.sdmetrics_scores` (sdmetrics-based figures),
:mod:`~synthaug.evaluation.report` (:class:`EvaluationReport`),
:mod:`~synthaug.evaluation.plots` (matplotlib figures) and
:mod:`~synthaug.evaluation.html` (the self-contained page).
"""

from ._descriptions import IMAGE_SCORE_NAMES, SCORE_NAMES
from ._evaluate import evaluate
from ._schema import infer_metadata
from .image_metrics import ImageJudge, evaluate_images
from .report import EvaluationReport, compare_reports

__all__ = ["SCORE_NAMES", "IMAGE_SCORE_NAMES", "EvaluationReport", "compare_reports", "evaluate", "evaluate_images",
           "ImageJudge", "infer_metadata"]
