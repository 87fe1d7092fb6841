"""Figures delegated to sdmetrics 0.32, wrapped to be seeded, quick and quiet.

* :func:`quality_scores` – ``sdmetrics.reports.QualityReport`` (Column Shapes,
  Column Pair Trends) with ``real_correlation_threshold = 0`` and
  ``real_association_threshold = 0`` so that **every** column pair is scored
  (sdmetrics' defaults, 0.5 and 0.3, silently drop weakly related pairs and
  can leave the overall score equal to Column Shapes alone);
* :func:`diagnostic_scores` – ``sdmetrics.reports.DiagnosticReport`` (Data
  Validity, Data Structure);
* :func:`dcr_baseline_protection`, :func:`dcr_overfitting_protection`,
  :func:`new_row_synthesis`, :func:`disclosure_protection` – sdmetrics'
  privacy metrics on seeded subsamples (their cost grows with the product of
  the table sizes: about a minute each at 3,000 rows on two cores).

The non-deprecated "unified" reports are used (single table wrapped as
``{"tables": {"table": metadata}}``); sdmetrics' warnings are silenced inside
these calls only.

sdmetrics 0.32 bins a numerical column separately in the real and in the
synthetic table before comparing its contingency table with a categorical
column, so a column whose synthetic minimum or maximum differs from the real
one (one outlier is enough) is compared bin-for-bin with shifted bins and
scores near 0 against every categorical column. :func:`quality_scores`
therefore also reports ``column_pair_trends_shared_bins``: the same property
with the real table's bin edges used for both tables (what sdmetrics intends,
see sdv-dev/SDMetrics#368). On the credit data, the real holdout scores 0.88
on ``column_pair_trends`` and 0.97 on ``column_pair_trends_shared_bins``.

Inputs are validated and normalised exactly as in
:mod:`synthaug.evaluation.metrics`.
"""

import contextlib
import warnings

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from ._schema import check_column_argument, prepare_frames, to_float

__all__ = [
    "dcr_baseline_protection",
    "dcr_overfitting_protection",
    "diagnostic_scores",
    "disclosure_protection",
    "new_row_synthesis",
    "quality_scores",
]

_TABLE = "table"

#: Default subsample sizes, chosen so that each metric takes a few seconds
#: on two cores (see docs/evaluation.md for the timings).
DCR_ROWS = 400
NEW_ROW_SYNTHESIS_ROWS = 100
DISCLOSURE_ROWS = 600


@contextlib.contextmanager
def _quiet():
    """Silence sdmetrics' deprecation/future warnings and its chatter, locally."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        warnings.filterwarnings("ignore", module=r"sdmetrics(\.|$)")
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        yield


def _subsample(frame, n, rng):
    if n is None or len(frame) <= n:
        return frame
    return frame.iloc[np.sort(rng.choice(len(frame), n, replace=False))].reset_index(drop=True)


def _seed(rng):
    return int(rng.randint(np.iinfo(np.int32).max))


def _strip_table(details):
    return details.drop(columns=["Table"], errors="ignore").reset_index(drop=True)


def _shared_bins_pair_trends(real, synthetic, metadata):
    """sdmetrics' Column Pair Trends with the real data's bin edges for both tables.

    Subclasses the property behind the report (a private sdmetrics module;
    sdmetrics is pinned below 0.33). Returns None if that module moved.
    """
    try:
        from sdmetrics.reports.single_table._properties import ColumnPairTrends
    except ImportError:  # pragma: no cover
        return None

    class SharedBins(ColumnPairTrends):
        def _generate_details(self, real_data, synthetic_data, metadata, progress_bar=None,
                              column_pairs=None):
            real = self._convert_datetime_columns_to_numeric(real_data.copy(), metadata)
            self._shared_edges = {}
            for name, meta in metadata["columns"].items():
                if meta.get("sdtype") in ("numerical", "datetime"):
                    observed = pd.to_numeric(real[name], errors="coerce").dropna()
                    if len(observed):
                        self._shared_edges[name] = np.histogram_bin_edges(observed)
            return super()._generate_details(real_data, synthetic_data, metadata,
                                             progress_bar, column_pairs)

        def _discretize_column(self, column_name, data, bin_edges=None):
            if bin_edges is None:
                bin_edges = getattr(self, "_shared_edges", {}).get(column_name)
            return super()._discretize_column(column_name, data, bin_edges)

    prop = SharedBins()
    prop.real_correlation_threshold = 0
    prop.real_association_threshold = 0
    score = prop.get_score(real, synthetic, metadata)
    return float(score), prop.details.reset_index(drop=True)


def _random_rows(real, n, rng):
    """Uniform random rows within the real ranges/levels, as sdmetrics' DCR baseline.

    Same recipe as ``DCRBaselineProtection._generate_random_data`` (integers
    for integer-valued columns, uniform floats, uniform datetimes, levels
    drawn uniformly, the real missing share), but every draw comes from
    ``rng``: sdmetrics 0.32 draws the missing-value mask from numpy's global
    generator, which made the score change from run to run.
    """
    out = {}
    for name in real.columns:
        col = real[name]
        observed = col.dropna()
        missing = rng.random(n) < col.isna().mean()
        if observed.empty:
            out[name] = pd.Series([np.nan] * n, dtype=col.dtype if col.dtype != object else object)
            continue
        if pd.api.types.is_datetime64_any_dtype(col):
            lo, hi = observed.min(), observed.max()
            values = lo + pd.to_timedelta(rng.uniform(0, (hi - lo).total_seconds(), n), unit="s")
            values = pd.Series(values).where(~missing, pd.NaT)
        elif pd.api.types.is_numeric_dtype(col):
            lo, hi = float(observed.min()), float(observed.max())
            if np.all(observed == np.round(observed)):
                values = rng.integers(int(lo), int(hi) + 1, size=n).astype("float64")
            else:
                values = rng.uniform(lo, hi, size=n)
            values = pd.Series(np.where(missing, np.nan, values))
        else:
            values = rng.choice(observed.unique(), size=n).astype(object)
            values[missing] = np.nan
            values = pd.Series(values)
        out[name] = values
    return pd.DataFrame(out)


def quality_scores(real, synthetic, *, metadata=None):
    """sdmetrics QualityReport, scoring every column pair.

    Parameters
    ----------
    real, synthetic : pandas.DataFrame
        Same columns; ``real`` is the data the generator was fitted on.
    metadata : dict, optional
        sdmetrics single-table metadata; inferred from ``real`` when None.

    Returns
    -------
    scores : dict
        ``quality`` (mean of the two properties), ``column_shapes`` (mean of
        KSComplement for numerical/datetime and TVComplement for categorical
        columns) and ``column_pair_trends`` (mean of CorrelationSimilarity for
        numerical pairs and ContingencySimilarity otherwise, **all pairs**,
        thresholds set to 0); ``column_pair_trends_shared_bins`` (the same
        with numerical columns binned on the real bin edges in both tables,
        see the module docstring). All in [0, 1], higher is better.
    details : dict of DataFrame
        ``"column_shapes"`` (one row per column) and ``"column_pair_trends"``
        (one row per pair) as sdmetrics reports them, and
        ``"column_pair_trends_shared_bins"``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from synthaug.evaluation.sdmetrics_scores import quality_scores
    >>> rng = np.random.default_rng(0)
    >>> real = pd.DataFrame({"x": rng.normal(size=200), "c": rng.choice(list("ab"), 200)})
    >>> scores, details = quality_scores(real, real)
    >>> scores["quality"], list(details["column_shapes"]["Column"])
    (1.0, ['x', 'c'])
    """
    from sdmetrics.reports import QualityReport

    (real_n, synth_n), _, metadata = prepare_frames(
        {"real": real, "synthetic": synthetic}, metadata
    )
    report = QualityReport()
    report.real_correlation_threshold = 0
    report.real_association_threshold = 0
    scores, details = _run_report(report, "quality", real_n, synth_n, metadata,
                                  ("Column Shapes", "Column Pair Trends"))
    with _quiet():
        shared = _shared_bins_pair_trends(real_n, synth_n, metadata)
    if shared is not None:
        shared, details["column_pair_trends_shared_bins"] = shared
    scores["column_pair_trends_shared_bins"] = np.nan if shared is None else shared
    return {k: v for k, v in scores.items() if np.isfinite(v)}, details


def _run_report(report, name, real_n, synth_n, metadata, properties):
    """Generate the sdmetrics single-table ``report`` quietly: ``(scores, details)``, ``scores[name]`` its
    overall score and each of ``properties`` under its name in snake case, as are its details."""
    with _quiet():
        report.generate(
            {_TABLE: real_n}, {_TABLE: synth_n}, {"tables": {_TABLE: metadata}}, verbose=False
        )
        props = report.get_properties().set_index("Property")["Score"]
        keys = {p: p.lower().replace(" ", "_") for p in properties}
        details = {keys[p]: _strip_table(report.get_details(p)) for p in properties}
    return {name: float(report.get_score()), **{keys[p]: float(props[p]) for p in properties}}, details


def diagnostic_scores(real, synthetic, *, metadata=None):
    """sdmetrics DiagnosticReport: basic validity of the synthetic table.

    Returns
    -------
    scores : dict
        ``diagnostic`` (mean), ``data_validity`` (BoundaryAdherence for
        numerics and datetimes, CategoryAdherence for categoricals: share of
        synthetic values inside the real range / real levels) and
        ``data_structure`` (same column names). In [0, 1]; anything below
        1.0 is a bug to look at.
    details : dict of DataFrame
        ``"data_validity"`` and ``"data_structure"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from synthaug.evaluation.sdmetrics_scores import diagnostic_scores
    >>> real = pd.DataFrame({"x": [1.1, 2.2, 3.3, 4.4], "c": list("abab")})
    >>> synth = pd.DataFrame({"x": [1.5, 9.0, 2.0, 3.0], "c": list("abzz")})
    >>> scores, _ = diagnostic_scores(real, synth)
    >>> scores["data_validity"]
    0.625
    """
    from sdmetrics.reports import DiagnosticReport

    (real_n, synth_n), _, metadata = prepare_frames(
        {"real": real, "synthetic": synthetic}, metadata
    )
    scores, details = _run_report(DiagnosticReport(), "diagnostic", real_n, synth_n, metadata,
                                  ("Data Validity", "Data Structure"))
    return {k: v for k, v in scores.items() if np.isfinite(v)}, details


def dcr_baseline_protection(train, synthetic, *, metadata=None, n_rows=DCR_ROWS,
                            random_state=0):
    """sdmetrics DCRBaselineProtection on seeded subsamples.

    Median distance from synthetic rows to their closest training row,
    divided by the same median for uniformly random rows (capped at 1).
    ``n_rows`` rows of each table are drawn (seeded) before the call, and
    the random baseline rows are drawn with the same recipe as sdmetrics but
    from a seeded generator (sdmetrics 0.32 draws part of them from numpy's
    global generator).

    Returns
    -------
    score : float or None
        In [0, 1], higher is better: 1.0 means synthetic rows are no closer to
        training rows than random noise is; near 0 means they sit on top of
        training rows. None when undefined (random rows at distance 0).
    details : dict

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from synthaug.evaluation.sdmetrics_scores import dcr_baseline_protection
    >>> rng = np.random.default_rng(0)
    >>> train = pd.DataFrame({"x": rng.normal(size=100), "c": rng.choice(list("ab"), 100)})
    >>> dcr_baseline_protection(train, train)[0]
    0.0
    """
    from sdmetrics.single_table import DCRBaselineProtection

    (train_n, synth_n), _, metadata = prepare_frames(
        {"train": train, "synthetic": synthetic}, metadata
    )
    rng = check_random_state(random_state)
    train_s, synth_s = _subsample(train_n, n_rows, rng), _subsample(synth_n, n_rows, rng)
    random_rows = _random_rows(train_s, len(synth_s), np.random.default_rng(_seed(rng)))

    class Seeded(DCRBaselineProtection):
        @classmethod
        def _generate_random_data(cls, real_data, num_samples=None):
            return random_rows

    with _quiet():
        out = Seeded.compute_breakdown(train_s, synth_s, metadata, None)
    medians = out["median_DCR_to_real_data"]
    details = {
        "median_dcr_synthetic": float(medians["synthetic_data"]),
        "median_dcr_random": float(medians["random_data_baseline"]),
        "n_rows": min(len(train_s), len(synth_s)),
    }
    score = float(out["score"])
    return (score if np.isfinite(score) else None), details


def dcr_overfitting_protection(train, holdout, synthetic, *, metadata=None, n_rows=DCR_ROWS,
                               random_state=0):
    """sdmetrics DCROverfittingProtection on seeded subsamples.

    Share of synthetic rows closer (sdmetrics' DCR distance) to a training row
    than to a holdout row, turned into a score ``min(2 * (1 - share), 1)``.
    ``n_rows`` rows of each table are drawn (seeded) before the call, so the
    training and holdout samples have the same size.

    Returns
    -------
    score : float
        In [0, 1], higher is better: 1.0 when at most half of the synthetic
        rows are closer to the training rows; 0.0 when all are.
    details : dict
        With ``closer_to_training`` (the share).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from synthaug.evaluation.sdmetrics_scores import dcr_overfitting_protection
    >>> rng = np.random.default_rng(0)
    >>> def table(n):
    ...     return pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(list("ab"), n)})
    >>> train, holdout = table(100), table(100)
    >>> dcr_overfitting_protection(train, holdout, train)[0]
    0.0
    """
    from sdmetrics.single_table import DCROverfittingProtection

    (train_n, hold_n, synth_n), _, metadata = prepare_frames(
        {"train": train, "holdout": holdout, "synthetic": synthetic}, metadata
    )
    rng = check_random_state(random_state)
    n = min(n_rows or np.inf, len(train_n), len(hold_n))
    train_s, hold_s = _subsample(train_n, n, rng), _subsample(hold_n, n, rng)
    synth_s = _subsample(synth_n, n_rows, rng)
    with _quiet():
        out = DCROverfittingProtection.compute_breakdown(train_s, synth_s, hold_s, metadata, None)
    shares = out["synthetic_data_percentages"]
    details = {"closer_to_training": float(shares["closer_to_training"]), "n_rows": int(n)}
    return float(out["score"]), details


def new_row_synthesis(train, synthetic, *, metadata=None, n_rows=NEW_ROW_SYNTHESIS_ROWS,
                      random_state=0):
    """sdmetrics NewRowSynthesis on a seeded sample of synthetic rows.

    Share of synthetic rows that match no training row, where numbers match
    within 1 % (relative) and categories and missing values match exactly.
    sdmetrics runs one pandas query per synthetic row, hence the sample of
    ``n_rows`` rows (standard error about ``sqrt(p (1 - p) / n_rows)``).

    Returns
    -------
    score : float
        In [0, 1], higher is better: 1.0 means every sampled synthetic row is
        new.
    details : dict

    Examples
    --------
    >>> import pandas as pd
    >>> from synthaug.evaluation.sdmetrics_scores import new_row_synthesis
    >>> train = pd.DataFrame({"x": [1.5, 2.5, 3.5], "c": ["a", "b", "c"]})
    >>> synth = pd.DataFrame({"x": [1.501, 2.5, 7.5, 3.5], "c": ["a", "a", "c", "c"]})
    >>> new_row_synthesis(train, synth)[0]
    0.5
    """
    from sdmetrics.single_table import NewRowSynthesis

    (train_n, synth_n), _, metadata = prepare_frames(
        {"train": train, "synthetic": synthetic}, metadata
    )
    rng = check_random_state(random_state)
    synth_s = _subsample(synth_n, n_rows, rng)
    with _quiet():
        out = NewRowSynthesis.compute_breakdown(train_n, synth_s, metadata)
    details = {"num_new_rows": int(out["num_new_rows"]),
               "num_matched_rows": int(out["num_matched_rows"]), "n_rows": len(synth_s)}
    return float(out["score"]), details


def disclosure_protection(train, synthetic, sensitive_columns, *, metadata=None,
                          n_rows=DISCLOSURE_ROWS, random_state=0):
    """sdmetrics DisclosureProtection (CAP attack) on seeded subsamples.

    An attacker who knows every other column of a real person's row looks up
    the synthetic rows that match them and guesses the sensitive columns
    from those. Numerical and datetime columns are cut into 10 bins. The
    score is the attacker's error rate divided by the error rate of a blind
    guess (capped at 1).

    Returns
    -------
    score : float or None
        In [0, 1], higher is better. None (with ``details["reason"]``) when
        the sensitive columns are constant or no synthetic row matches the
        known columns of any real row (the attack never applies).
    details : dict

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from synthaug.evaluation.sdmetrics_scores import disclosure_protection
    >>> rng = np.random.default_rng(0)
    >>> a = rng.choice(list("xyz"), 200)
    >>> train = pd.DataFrame({"a": a, "s": np.where(a == "x", "p", "q")})
    >>> disclosure_protection(train, train, ["s"])[0]   # s follows from a: no protection
    0.0
    """
    from sdmetrics.single_table import DisclosureProtection

    (train_n, synth_n), kinds, _ = prepare_frames(
        {"train": train, "synthetic": synthetic}, metadata
    )
    sensitive = check_column_argument(sensitive_columns, list(train_n.columns),
                                      "sensitive_columns")
    if sensitive is None:
        raise ValueError("sensitive_columns is required for disclosure_protection.")
    unusable = [c for c in sensitive if c not in kinds]
    if unusable:
        raise ValueError(f"sensitive_columns {unusable} have an sdtype that cannot be compared.")
    known = [c for c in kinds if c not in sensitive]
    if not known:
        raise ValueError("disclosure_protection needs at least one known column.")
    rng = check_random_state(random_state)
    train_s, synth_s = _subsample(train_n, n_rows, rng), _subsample(synth_n, n_rows, rng)
    continuous = [c for c in known + sensitive if kinds[c] != "categorical"]
    frames = []
    for frame in (train_s, synth_s):
        frame = frame[known + sensitive].copy()
        for c in continuous:
            frame[c] = to_float(frame, c, kinds[c])
        frames.append(frame)
    with _quiet():
        out = DisclosureProtection.compute_breakdown(
            frames[0], frames[1], known_column_names=known, sensitive_column_names=sensitive,
            continuous_column_names=continuous or None,
        )
    score = float(out["score"])
    reason = None
    if not np.isfinite(score):
        reason = ("the sensitive columns are constant" if out["baseline_protection"] == 0 else
                  "no synthetic row matches the known columns of any real row, so the "
                  "attack never applies (sdmetrics returns NaN)")
    details = {"reason": reason, "cap_protection": float(out["cap_protection"]),
               "baseline_protection": float(out["baseline_protection"]),
               "known_columns": known, "sensitive_columns": sensitive,
               "n_rows": min(len(train_s), len(synth_s))}
    return (score if np.isfinite(score) else None), details
