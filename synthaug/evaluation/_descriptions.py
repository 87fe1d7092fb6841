"""Names, order and plain-language meaning of every score ``evaluate`` can report."""

#: Every score name, in display order, with its group and meaning.
#: The texts may contain ``{target}``, ``{metric}``, ``{against}``, ``{sensitive}``
#: and sample sizes, filled in from the report's ``info``.
SCORES = {
    "quality": (
        "fidelity",
        "sdmetrics QualityReport overall score: mean of column_shapes and "
        "column_pair_trends. 0-1, higher is better.",
    ),
    "column_shapes": (
        "fidelity",
        "How alike each column's distribution is, averaged over columns: "
        "1 - Kolmogorov-Smirnov statistic (numerical, datetime) or "
        "1 - total variation distance (categorical). 0-1, higher is better.",
    ),
    "column_pair_trends": (
        "fidelity",
        "How alike the relation of every pair of columns is, averaged over ALL pairs "
        "(sdmetrics thresholds set to 0): correlation similarity for two numerical "
        "columns, contingency-table similarity otherwise. 0-1, higher is better.",
    ),
    "column_pair_trends_shared_bins": (
        "fidelity",
        "column_pair_trends with each numerical column binned on the REAL bin edges in "
        "both tables (sdmetrics 0.32 bins each table separately, which makes a column "
        "whose synthetic range differs score near 0 against every categorical column). "
        "0-1, higher is better.",
    ),
    "detection_auc": (
        "fidelity",
        "ROC AUC of a gradient-boosting classifier telling synthetic rows from real "
        "{against} rows (5-fold CV, classes balanced). 0.5 = indistinguishable (best), "
        "1.0 = every synthetic row is recognisable. Lower is better, down to 0.5.",
    ),
    "diagnostic": (
        "validity",
        "sdmetrics DiagnosticReport overall score: mean of data_validity and "
        "data_structure. 0-1, should be 1.",
    ),
    "data_validity": (
        "validity",
        "Share of synthetic values inside the real range (numerical, datetime) or "
        "among the real levels (categorical), averaged over columns. 0-1, should be 1.",
    ),
    "data_structure": (
        "validity",
        "Whether the synthetic table has the same column names as the real one. "
        "0-1, should be 1.",
    ),
    "ml_efficacy_real": (
        "utility",
        "{metric} on the holdout of a gradient-boosting model trained on the real "
        "training rows to predict {target}: the reference. Higher is better.",
    ),
    "ml_efficacy_synthetic": (
        "utility",
        "{metric} on the holdout of the same model trained on the synthetic rows. "
        "Higher is better; the aim is ml_efficacy_real.",
    ),
    "ml_efficacy_gap": (
        "utility",
        "ml_efficacy_real - ml_efficacy_synthetic. 0 = parity; lower is better "
        "(negative: training on synthetic rows did better).",
    ),
    "dcr_closer_to_train_share": (
        "privacy",
        "Share of synthetic rows whose nearest real row is a training row rather than a "
        "holdout row ({dcr_rows} of each, min-max scaled numerics, one-hot categoricals; "
        "the exact mean over every such subsample of the larger set). "
        "0.5 is ideal; above 0.5 is worse; 1.0 = memorised.",
    ),
    "membership_inference_auc": (
        "privacy",
        "ROC AUC of a distance-based membership-inference attack: training rows vs holdout "
        "rows, scored by their distance to the nearest synthetic row relative to the nearest "
        "other real row. 0.5 is ideal; above 0.5 is worse; 1.0 = every member singled out.",
    ),
    "exact_copy_share": (
        "privacy",
        "Share of synthetic rows identical to some training row in every column "
        "(missing equals missing). Lower is better; 0 is ideal.",
    ),
    "dcr_baseline_protection": (
        "privacy",
        "sdmetrics DCRBaselineProtection: median distance from synthetic rows to the "
        "closest training row, relative to uniformly random rows (capped at 1; "
        "{dcr_sdm_rows} rows sampled). 0-1, higher is better.",
    ),
    "dcr_overfitting_protection": (
        "privacy",
        "sdmetrics DCROverfittingProtection: 2 x share of synthetic rows closer to a "
        "holdout row than to a training row (capped at 1; {dcr_sdm_rows} rows sampled). "
        "0-1, higher is better.",
    ),
    "new_row_synthesis": (
        "privacy",
        "sdmetrics NewRowSynthesis: share of synthetic rows (sample of {nrs_rows}) that "
        "match no training row (numbers within 1 %). 0-1, higher is better.",
    ),
    "disclosure_protection": (
        "privacy",
        "sdmetrics DisclosureProtection (CAP attack): how badly an attacker who knows "
        "the other columns guesses {sensitive} from the synthetic rows, relative to a "
        "blind guess (capped at 1). 0-1, higher is better.",
    ),
}

#: The scores of evaluate_images: judges trained on the real training images.
IMAGE_SCORES = {
    "cas": (
        "utility",
        "Classification accuracy score: accuracy on the real holdout images of a logistic "
        "regression trained on the synthetic images with their requested labels. Higher "
        "is better; the aim is cas_real.",
    ),
    "cas_real": (
        "utility",
        "The same logistic regression trained on the real training images: the reference "
        "for cas. Higher is better.",
    ),
    "label_fidelity": (
        "fidelity",
        "Share of synthetic images that an MLP trained on the real images assigns to the "
        "class they were generated for. 0-1, higher is better.",
    ),
    "frechet": (
        "fidelity",
        "Fréchet distance between Gaussians fitted to the hidden-layer features (of that "
        "MLP) of the synthetic and the real training images. Lower is better; compare "
        "with frechet_real.",
    ),
    "frechet_real": (
        "fidelity",
        "The same distance from the real holdout images to the real training images: what "
        "a perfect generator would get (sampling noise). Lower is better.",
    ),
    "frechet_ratio": (
        "fidelity",
        "frechet / frechet_real: 1 is as close as fresh real images. Lower is better.",
    ),
}

SCORE_NAMES = tuple(SCORES)
IMAGE_SCORE_NAMES = tuple(IMAGE_SCORES)
#: Every name a report may hold, in display order.
ALL_SCORE_NAMES = SCORE_NAMES + IMAGE_SCORE_NAMES
SCORES.update(IMAGE_SCORES)

_METRIC_NAMES = {
    "roc_auc": "ROC AUC",
    "roc_auc_ovr": "Macro one-vs-rest ROC AUC",
    "r2": "R²",
}

_DEFAULTS = {
    "target": "the target",
    "metric": "ROC AUC (binary), macro one-vs-rest ROC AUC (multiclass) or R² (numerical)",
    "against": "held-out",
    "sensitive": "the sensitive columns",
    "dcr_rows": "equal numbers",
    "dcr_sdm_rows": "some",
    "nrs_rows": "some",
}


def describe(name, info=None):
    """Plain-language description of score ``name``, filled in from ``info``."""
    if name not in SCORES:
        return ""
    info = info or {}
    fields = dict(_DEFAULTS)
    if info.get("target") is not None:
        fields["target"] = repr(info["target"])
    if info.get("ml_metric") in _METRIC_NAMES:
        fields["metric"] = _METRIC_NAMES[info["ml_metric"]]
    if info.get("detection_against"):
        fields["against"] = info["detection_against"]
    if info.get("sensitive_columns"):
        fields["sensitive"] = ", ".join(repr(c) for c in info["sensitive_columns"])
    for key in ("dcr_rows", "dcr_sdm_rows", "nrs_rows"):
        if info.get(key):
            fields[key] = f"{info[key]:,}"
    return SCORES[name][1].format(**fields)


def group(name):
    """Group of a score: fidelity, validity, utility, privacy (or "other")."""
    return SCORES[name][0] if name in SCORES else "other"
