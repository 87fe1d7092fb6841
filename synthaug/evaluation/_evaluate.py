"""``evaluate``: run every applicable figure and collect them in a report."""

import numbers
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve
from sklearn.utils import check_random_state

from . import metrics, sdmetrics_scores
from ._schema import check_column_argument, prepare_frames
from .report import EvaluationReport

__all__ = ["evaluate"]


def evaluate(real, synthetic, holdout=None, target=None, *, metadata=None, random_state=0,
             sensitive_columns=None):
    """Score a synthetic table against the real one: fidelity, utility and privacy.

    Every figure that the inputs allow is computed; the others are simply
    absent from ``report.scores`` (``report.skipped`` says why).

    ========================  ======================================  ==================
    scores                    what                                    needs
    ========================  ======================================  ==================
    quality, column_shapes,   sdmetrics QualityReport, **all** pairs  always
    column_pair_trends        scored (thresholds set to 0)
    diagnostic,               sdmetrics DiagnosticReport              always
    data_validity,
    data_structure
    detection_auc             classifier two-sample test against      always (against
                              the holdout                             ``real`` without
                                                                      a holdout)
    ml_efficacy_real,         train on real / on synthetic, test on   ``holdout`` and
    ml_efficacy_synthetic,    the holdout                             ``target``
    ml_efficacy_gap
    exact_copy_share,         copies of training rows                 always
    dcr_baseline_protection,
    new_row_synthesis
    dcr_closer_to_train_share nearest real row: train or holdout?     ``holdout``
    dcr_overfitting_protection
    membership_inference_auc  distance-based membership attack        ``holdout``
    disclosure_protection     CAP attribute-disclosure attack         ``sensitive_columns``
    ========================  ======================================  ==================

    See :data:`synthaug.evaluation.SCORE_NAMES` and ``report.to_frame()`` for
    each score's definition and direction, and ``docs/evaluation.md``.

    Parameters
    ----------
    real : pandas.DataFrame
        The rows the generator was fitted on. Mixed dtypes (numeric, integer,
        bool, object/string, category, datetime) and missing values allowed.
    synthetic : pandas.DataFrame
        Generated rows with the same columns (any order).
    holdout : pandas.DataFrame, optional
        Real rows from the same population that the generator never saw.
        Needed for ML efficacy and the overfitting privacy figures, and the
        right reference for detection.
    target : str, optional
        Column to predict for ML efficacy (classification when categorical,
        R² when numerical).
    metadata : dict, optional
        sdmetrics single-table metadata ``{"columns": {name: {"sdtype": ...}}}``;
        inferred from ``real`` by :func:`synthaug.evaluation.infer_metadata`
        when None (integer columns with at most 10 distinct values count as
        categorical). Columns with other sdtypes (``"id"``, ``"pii"``...) are
        ignored by synthaug's own figures.
    random_state : int, RandomState instance or None, default=0
        Seeds every subsample, fold split and model, so the same inputs give
        the same report.
    sensitive_columns : list of str, optional
        Columns an attacker wants to learn; adds ``disclosure_protection``
        (the other columns are the attacker's knowledge).

    Returns
    -------
    report : EvaluationReport
        ``.scores`` (dict of floats), ``.details`` (DataFrames),
        ``.to_frame()``, ``.to_html(path)``.

    Raises
    ------
    TypeError
        If a table is not a DataFrame.
    ValueError
        If a table is empty, the columns differ (the message names them),
        ``target`` or a sensitive column is not a column, or the metadata does
        not match the data.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from synthaug.evaluation import evaluate
    >>> rng = np.random.default_rng(0)
    >>> def table(n):
    ...     x = rng.normal(size=n)
    ...     return pd.DataFrame({"x": x, "y": np.where(x + rng.normal(size=n) > 0, "a", "b")})
    >>> train, holdout, synthetic = table(300), table(200), table(300)
    >>> report = evaluate(train, synthetic, holdout, target="y")
    >>> list(report.scores)[:3]
    ['quality', 'column_shapes', 'column_pair_trends']
    >>> report.scores["quality"] > 0.8, abs(report.scores["detection_auc"] - 0.5) < 0.1
    (True, True)
    >>> list(report.to_frame().columns)
    ['metric', 'value', 'description']
    """
    frames = {"real": real, "synthetic": synthetic}
    if holdout is not None:
        frames["holdout"] = holdout
    normalized, kinds, metadata = prepare_frames(frames, metadata)
    columns = list(normalized[0].columns)
    target = check_column_argument(target, columns, "target")
    if target is not None and target not in kinds:
        raise ValueError(f"target {target!r} has an sdtype that cannot be predicted.")
    sensitive = check_column_argument(sensitive_columns, columns, "sensitive_columns")

    rng = check_random_state(random_state)
    run = _Runner(
        real=normalized[0], synthetic=normalized[1],
        holdout=normalized[2] if holdout is not None else None,
        metadata=metadata, target=target, sensitive=sensitive,
        # One seed per step, drawn in a fixed order: a step's draws do not depend
        # on which other steps run.
        seeds={k: int(rng.randint(np.iinfo(np.int32).max)) for k in _SEEDED_STEPS},
    )
    run.info.update({
        "n_rows": {name: len(f) for name, f in zip(frames, normalized)},
        "n_columns": len(columns),
        "target": target,
        "sensitive_columns": sensitive,
        "detection_against": "held-out" if run.holdout is not None else "training",
        "random_state": random_state if isinstance(random_state, (numbers.Integral, type(None)))
        else "given",
        "pair_trends_thresholds": {"real_correlation_threshold": 0,
                                   "real_association_threshold": 0},
    })
    for step in (_fidelity, _detection, _utility, _privacy, _holdout_reference):
        step(run)
    data = {name: f for name, f in zip(frames, normalized)}
    return EvaluationReport(run.scores, run.details, skipped=run.skipped, info=run.info,
                            metadata=metadata, data=data)


_SEEDED_STEPS = ("detection", "ml", "dcr", "dcr_baseline", "dcr_overfitting", "new_rows",
                 "disclosure", "mia")


def _fidelity(run):
    """sdmetrics Quality and Diagnostic reports, and the association matrices."""
    for step, func, names in (
        ("quality", sdmetrics_scores.quality_scores,
         ("quality", "column_shapes", "column_pair_trends", "column_pair_trends_shared_bins")),
        ("diagnostic", sdmetrics_scores.diagnostic_scores,
         ("diagnostic", "data_validity", "data_structure")),
    ):
        out = run.call(step, func, run.real, run.synthetic, metadata=run.metadata)
        if out is None:
            run.skipped.update({n: run.skipped[step] for n in names if n != step})
            continue
        run.scores.update(out[0])
        run.details.update(out[1])
    for name, frame in (("real", run.real), ("synthetic", run.synthetic)):
        run.details[f"association_{name}"] = metrics.association_matrix(
            frame, metadata=run.metadata)


def _detection(run):
    """Classifier two-sample test against the holdout (the training rows without one)."""
    reference = run.holdout if run.holdout is not None else run.real
    auc, det = run.own("detection_auc", metrics.detection_auc, reference, run.synthetic,
                       metadata=run.metadata, random_state=run.seeds["detection"],
                       return_details=True)
    if auc is None:
        run.skipped["detection_auc"] = "fewer than 2 rows in a table"
        return
    run.scores["detection_auc"] = auc
    fpr, tpr, _ = roc_curve(det["y_true"], det["y_score"])
    run.details["detection_roc"] = pd.DataFrame({"fpr": fpr, "tpr": tpr})
    run.details["detection_folds"] = pd.DataFrame(
        {"fold": np.arange(1, len(det["fold_auc"]) + 1), "auc": det["fold_auc"]})
    run.info["detection_rows_per_class"] = det["n_per_class"]


def _utility(run):
    """Train on real / on synthetic, test on the holdout."""
    names = ("ml_efficacy_real", "ml_efficacy_synthetic", "ml_efficacy_gap")
    if run.target is None or run.holdout is None:
        why = "needs target and holdout" if run.target is None else "needs a holdout"
        run.skipped.update({name: why for name in names})
        return
    ml = run.own("ml_efficacy", metrics.ml_efficacy, run.real, run.synthetic, run.holdout,
                 run.target, metadata=run.metadata, random_state=run.seeds["ml"])
    if ml is None:
        run.skipped.update({n: "the target cannot be scored: fewer than 2 rows with it in the training table or "
                               "the holdout, or a holdout target of a single class (or value)" for n in names})
        return
    run.info["ml_metric"] = ml["metric"]
    run.scores.update({k: ml[k] for k in names if ml.get(k) is not None})
    for k in names:
        if ml.get(k) is None:
            run.skipped[k] = "the synthetic table has no rows with the target"
    run.details["ml_efficacy"] = pd.DataFrame({
        "trained_on": ["real", "synthetic"],
        "metric": ml["metric"],
        "value": [ml.get("ml_efficacy_real"), ml.get("ml_efficacy_synthetic")],
    })


def _privacy(run):
    """Distances and copies (synthaug), then sdmetrics' privacy metrics on samples."""
    rows = []  # breakdown: (metric, quantity, value)
    meta = {"metadata": run.metadata}
    run.scores["exact_copy_share"] = run.own(
        "exact_copy_share", metrics.exact_copy_share, run.real, run.synthetic, **meta)
    if run.holdout is None:
        run.skipped["dcr_closer_to_train_share"] = "needs a holdout"
        run.skipped["dcr_overfitting_protection"] = "needs a holdout"
        run.skipped["membership_inference_auc"] = "needs a holdout"
    else:
        run.info["holdout_copy_share"] = metrics.exact_copy_share(run.real, run.holdout, **meta)
        rows.append(("exact_copy_share", "holdout rows copying a training row",
                     run.info["holdout_copy_share"]))
        share, dcr = run.own("dcr_closer_to_train_share", metrics.dcr_closer_to_train_share,
                             run.real, run.holdout, run.synthetic,
                             random_state=run.seeds["dcr"], return_details=True, **meta)
        run.scores["dcr_closer_to_train_share"] = share
        run.info["dcr_rows"] = dcr["n_compared"]
        run.info["dcr_one_subsample_share"] = dcr["subsample_share"]   # (the seeded subsample of the plot)
        run.info["dcr_closer_to_train_share_se"] = dcr["share_se"]
        rows.append(("dcr_closer_to_train_share", "standard error over the synthetic rows", dcr["share_se"]))
        if min(len(run.real), len(run.holdout) // 2) < 2:
            run.skipped["membership_inference_auc"] = "needs at least 4 holdout rows and 2 training rows"
        else:
            run.scores["membership_inference_auc"] = run.own(
                "membership_inference_auc", metrics.membership_inference_auc, run.real, run.holdout,
                run.synthetic, random_state=run.seeds["mia"], **meta)
        run.details["dcr"] = pd.DataFrame({"dcr_train": dcr["dcr_train"],
                                           "dcr_holdout": dcr["dcr_holdout"]})

    out = run.call("dcr_baseline_protection", sdmetrics_scores.dcr_baseline_protection,
                   run.real, run.synthetic, n_rows=sdmetrics_scores.DCR_ROWS,
                   random_state=run.seeds["dcr_baseline"], **meta)
    if out is not None:
        run.set("dcr_baseline_protection", out[0], "random rows at distance 0")
        run.info["dcr_sdm_rows"] = out[1]["n_rows"]
        rows.append(("dcr_baseline_protection", "median DCR synthetic -> train",
                     out[1]["median_dcr_synthetic"]))
        rows.append(("dcr_baseline_protection", "median DCR random -> train",
                     out[1]["median_dcr_random"]))
    if run.holdout is not None:
        out = run.call("dcr_overfitting_protection", sdmetrics_scores.dcr_overfitting_protection,
                       run.real, run.holdout, run.synthetic, n_rows=sdmetrics_scores.DCR_ROWS,
                       random_state=run.seeds["dcr_overfitting"], **meta)
        if out is not None:
            run.set("dcr_overfitting_protection", out[0])
            run.info["dcr_sdm_rows"] = out[1]["n_rows"]
            rows.append(("dcr_overfitting_protection", "share closer to training",
                         out[1]["closer_to_training"]))
    out = run.call("new_row_synthesis", sdmetrics_scores.new_row_synthesis, run.real,
                   run.synthetic, n_rows=sdmetrics_scores.NEW_ROW_SYNTHESIS_ROWS,
                   random_state=run.seeds["new_rows"], **meta)
    if out is not None:
        run.set("new_row_synthesis", out[0])
        run.info["nrs_rows"] = out[1]["n_rows"]
        rows.append(("new_row_synthesis",
                     f"sampled rows matching a training row (of {out[1]['n_rows']})",
                     out[1]["num_matched_rows"]))
    if run.sensitive is None:
        run.skipped["disclosure_protection"] = "needs sensitive_columns"
    else:
        out = run.call("disclosure_protection", sdmetrics_scores.disclosure_protection,
                       run.real, run.synthetic, run.sensitive,
                       n_rows=sdmetrics_scores.DISCLOSURE_ROWS,
                       random_state=run.seeds["disclosure"], **meta)
        if out is not None:
            run.set("disclosure_protection", out[0], out[1]["reason"])
            rows.append(("disclosure_protection", "CAP protection", out[1]["cap_protection"]))
            rows.append(("disclosure_protection", "baseline protection",
                         out[1]["baseline_protection"]))
    run.details["privacy"] = pd.DataFrame({
        "metric": [r[0] for r in rows],
        "quantity": [r[1] for r in rows],
        "value": pd.Series([r[2] for r in rows], dtype=object),  # counts stay integers
    })


def _holdout_reference(run):
    """The same figures with the holdout as the synthetic table: what a perfect generator gets."""
    if run.holdout is None:
        return
    rows = []
    for func in (sdmetrics_scores.quality_scores, sdmetrics_scores.diagnostic_scores):
        ref = run.call("holdout_reference", func, run.real, run.holdout, metadata=run.metadata)
        rows += [] if ref is None else list(ref[0].items())
    rows += [("detection_auc", 0.5), ("dcr_closer_to_train_share", 0.5), ("membership_inference_auc", 0.5),
             ("exact_copy_share", run.info["holdout_copy_share"])]
    run.details["holdout_reference"] = pd.DataFrame(rows, columns=["metric", "value"])


class _Runner:
    """Inputs and results of one ``evaluate`` call.

    Times each step; turns a failing third-party (sdmetrics) step into a
    warning and a ``skipped`` entry instead of losing every other figure.
    """

    def __init__(self, *, real, synthetic, holdout, metadata, target, sensitive, seeds):
        self.real, self.synthetic, self.holdout = real, synthetic, holdout
        self.metadata, self.target, self.sensitive, self.seeds = metadata, target, sensitive, seeds
        self.scores, self.details, self.skipped, self.seconds = {}, {}, {}, {}
        self.info = {"seconds": self.seconds}

    def own(self, name, func, *args, **kwargs):
        """Run one of synthaug's own metrics: errors propagate (they are bugs)."""
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            self._add_time(name, start)

    def _add_time(self, name, start):
        self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)

    def call(self, name, func, *args, **kwargs):
        """Run an sdmetrics-backed step; on failure warn, record why and return None."""
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # sdmetrics can fail on unusual data; keep the rest.
            reason = f"sdmetrics failed: {type(exc).__name__}: {exc}"
            warnings.warn(f"{name} could not be computed ({reason}).", RuntimeWarning,
                          stacklevel=3)
            self.skipped[name] = reason
            return None
        finally:
            self._add_time(name, start)

    def set(self, name, value, reason_if_none="undefined for this data"):
        if value is None:
            self.skipped[name] = reason_if_none
        else:
            self.scores[name] = float(value)
