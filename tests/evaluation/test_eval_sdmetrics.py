"""sdmetrics-based figures: thresholds, the shared-bins fix, seeding."""

import numpy as np
import pandas as pd
import pytest
from _tables import make_table, shuffled_columns

from synthaug.evaluation.sdmetrics_scores import (
    dcr_baseline_protection,
    dcr_overfitting_protection,
    diagnostic_scores,
    disclosure_protection,
    new_row_synthesis,
    quality_scores,
)


def test_quality_of_itself_is_one(train):
    scores, details = quality_scores(train, train)
    assert scores["quality"] == pytest.approx(1.0)
    assert scores["column_pair_trends_shared_bins"] == pytest.approx(1.0)
    assert list(details["column_shapes"]["Column"]) == list(train.columns)


def test_all_pairs_are_scored(train, fresh):
    _, details = quality_scores(train, fresh)
    n = train.shape[1]
    pairs = details["column_pair_trends"]
    assert len(pairs) == n * (n - 1) // 2
    # With sdmetrics' default thresholds most of these would not count.
    assert pairs["Meets Threshold?"].all()


def test_shuffled_columns_lose_pair_trends(train, fresh):
    good, _ = quality_scores(train, fresh)
    broken, _ = quality_scores(train, shuffled_columns(fresh))
    assert broken["column_shapes"] == pytest.approx(good["column_shapes"], abs=0.01)
    # 6 of the 28 pairs are related: the means move by a few points.
    assert broken["column_pair_trends"] < good["column_pair_trends"] - 0.03
    assert broken["column_pair_trends_shared_bins"] < good["column_pair_trends_shared_bins"] - 0.03


def test_shared_bins_ignore_a_single_outlier(train):
    # sdmetrics 0.32 bins each table on its own range: one synthetic outlier in x
    # shifts every bin of x and ruins its contingency with every categorical column.
    synth = train.copy()
    synth.loc[0, "x"] = 40.0
    scores, details = quality_scores(train, synth)
    official = details["column_pair_trends"].set_index(["Column 1", "Column 2"])["Score"]
    shared = details["column_pair_trends_shared_bins"].set_index(["Column 1", "Column 2"])
    assert official[("x", "color")] < 0.5
    assert shared.loc[("x", "color"), "Score"] > 0.99
    assert scores["column_pair_trends_shared_bins"] > 0.98  # x's correlations move a bit
    assert scores["column_pair_trends"] < scores["column_pair_trends_shared_bins"] - 0.05


def test_diagnostic_flags_out_of_range_values():
    real = pd.DataFrame({"x": [1.1, 2.2, 3.3, 4.4], "c": list("abab")})
    synth = pd.DataFrame({"x": [1.5, 9.0, 2.0, 3.0], "c": list("abzz")})
    scores, details = diagnostic_scores(real, synth)
    assert scores["data_validity"] == pytest.approx(0.625)
    assert scores["data_structure"] == 1.0
    assert set(details["data_validity"]["Column"]) == {"x", "c"}


def test_dcr_baseline_is_seeded_and_low_for_copies(train, fresh):
    first = dcr_baseline_protection(train, fresh, n_rows=150, random_state=1)
    again = dcr_baseline_protection(train, fresh, n_rows=150, random_state=1)
    assert first == again  # sdmetrics alone draws from numpy's global generator
    small = train.iloc[:150]
    copies, _ = dcr_baseline_protection(small, small, n_rows=None, random_state=1)
    assert copies == 0.0 < first[0]


def test_dcr_overfitting(train, holdout, fresh):
    small = train.iloc[:150]
    copies, details = dcr_overfitting_protection(small, holdout.iloc[:150], small, n_rows=None)
    assert copies == 0.0 and details["closer_to_training"] == 1.0
    fine, _ = dcr_overfitting_protection(train, holdout, fresh, n_rows=150)
    assert fine > 0.8


def test_new_row_synthesis(train, fresh):
    assert new_row_synthesis(train, train, n_rows=30)[0] == 0.0
    assert new_row_synthesis(train, fresh, n_rows=30)[0] == 1.0


def test_disclosure_protection(train, fresh):
    leaky, details = disclosure_protection(train, train, ["y"], n_rows=150)
    assert details["known_columns"] == [c for c in train.columns if c != "y"]
    safe, _ = disclosure_protection(train, fresh, ["y"], n_rows=150)
    assert leaky < 0.1
    assert safe is None or safe > leaky
    with pytest.raises(ValueError, match="sensitive_columns"):
        disclosure_protection(train, fresh, ["nope"])


def test_disclosure_with_datetimes_and_nan():
    real = make_table(150, 0)[["since", "color", "member"]]  # datetime binned, NaN levels
    score, details = disclosure_protection(real, real, ["color"], n_rows=None)
    assert np.isfinite(score) and 0.0 <= score <= 1.0
    assert details["known_columns"] == ["since", "member"]
