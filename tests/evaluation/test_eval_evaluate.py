"""``evaluate`` end to end: the figures move the right way for known cases."""

import math
import pickle

import numpy as np
import pandas as pd
import pytest
from _tables import make_table, noise_like, shuffled_columns

from synthaug.evaluation import SCORE_NAMES, evaluate


def test_copy_of_train_is_flagged(copy_report):
    s = copy_report.scores
    assert s["exact_copy_share"] == 1.0
    assert s["dcr_closer_to_train_share"] > 0.95  # train and holdout have the same size
    assert s["dcr_overfitting_protection"] == 0.0
    assert s["membership_inference_auc"] > 0.95
    assert s["dcr_baseline_protection"] == 0.0
    assert s["new_row_synthesis"] == 0.0
    assert s["quality"] == pytest.approx(1.0)
    # Compared with the *holdout*, a copy of the training rows is no better than data.
    assert s["detection_auc"] < 0.65


def test_fresh_sample_looks_real(good_report):
    s = good_report.scores
    assert abs(s["detection_auc"] - 0.5) < 0.1
    assert s["quality"] > 0.85
    assert s["column_shapes"] > 0.9
    assert s["data_validity"] > 0.95
    assert abs(s["dcr_closer_to_train_share"] - 0.5) < 0.1
    assert abs(s["membership_inference_auc"] - 0.5) < 0.1
    assert s["exact_copy_share"] == 0.0
    assert s["new_row_synthesis"] == 1.0
    assert abs(s["ml_efficacy_gap"]) < 0.1
    assert 0.0 <= s["disclosure_protection"] <= 1.0


def test_noise_is_detected(quick):
    train, holdout = make_table(150, 0), make_table(150, 1)
    report = evaluate(train, noise_like(train), holdout)
    assert report.scores["detection_auc"] > 0.97
    assert report.scores["column_shapes"] < 0.6
    assert report.scores["data_validity"] < 0.7


def test_independent_columns_lose_pair_trends(quick, good_report, train, holdout, fresh):
    report = evaluate(train, shuffled_columns(fresh), holdout)
    good = good_report.scores
    # Only 6 of the 28 pairs are related in these tables, so the mean moves a little...
    assert report.scores["column_pair_trends"] < good["column_pair_trends"] - 0.03
    # ...and the related pairs a lot.
    pairs = report.details["column_pair_trends"].set_index(["Column 1", "Column 2"])["Score"]
    good_pairs = good_report.details["column_pair_trends"].set_index(
        ["Column 1", "Column 2"])["Score"]
    assert pairs[("x", "z")] < good_pairs[("x", "z")] - 0.3
    assert report.scores["detection_auc"] > good["detection_auc"] + 0.1
    real_assoc = report.details["association_real"]
    synth_assoc = report.details["association_synthetic"]
    assert real_assoc.loc["x", "z"] > 0.9 and abs(synth_assoc.loc["x", "z"]) < 0.2


def test_missing_inputs_leave_scores_out(quick):
    report = evaluate(make_table(150, 0), make_table(150, 2))
    absent = {"ml_efficacy_real", "ml_efficacy_synthetic", "ml_efficacy_gap",
              "dcr_closer_to_train_share", "dcr_overfitting_protection",
              "membership_inference_auc", "disclosure_protection"}
    assert absent.isdisjoint(report.scores)
    assert absent <= set(report.skipped)
    assert report.info["detection_against"] == "training"
    assert {"quality", "detection_auc", "exact_copy_share", "dcr_baseline_protection",
            "new_row_synthesis"} <= set(report.scores)


def test_a_tiny_holdout_skips_the_attack_it_cannot_feed(quick):
    report = evaluate(make_table(150, 0), make_table(150, 2), holdout=make_table(3, 1))
    assert "membership_inference_auc" not in report.scores
    assert "4 holdout rows" in report.skipped["membership_inference_auc"]
    assert "dcr_closer_to_train_share" in report.scores


def test_values_a_column_cannot_read_are_named_not_dropped(quick):
    real, synth = make_table(150, 0), make_table(150, 2)
    num = next(c for c in real.columns if pd.api.types.is_float_dtype(real[c]))
    with pytest.raises(ValueError, match=f"Column '{num}' of synthetic is read as numerical .* 'abc'"):
        evaluate(real, synth.astype({num: object}).assign(**{num: ["abc"] + list(synth[num].iloc[1:])}))
    blank = synth.astype({num: object})
    blank.loc[0, num] = " "                                              # blank text is a missing cell
    evaluate(real, blank)


def test_a_flag_written_as_0_1_is_the_same_flag(quick):
    rng = np.random.default_rng(0)
    real, synth = (pd.DataFrame({"x": rng.normal(size=300), "flag": rng.random(300) < 0.4}) for _ in range(2))
    as_bool = evaluate(real, synth).scores
    for other in (synth.assign(flag=synth["flag"].astype(int)), synth.assign(flag=synth["flag"].map(str).str.lower())):
        scores = evaluate(real, other).scores
        assert scores["data_validity"] == as_bool["data_validity"] == 1.0
        assert scores["detection_auc"] == pytest.approx(as_bool["detection_auc"])


def test_every_ml_figure_left_out_says_why(quick):
    real, synth, hold = make_table(150, 0), make_table(150, 2), make_table(80, 1)
    num = next(c for c in real.columns if pd.api.types.is_float_dtype(real[c]))
    report = evaluate(real, synth.assign(**{num: np.nan}), holdout=hold, target=num)
    assert "ml_efficacy_real" in report.scores
    assert "no rows with the target" in report.skipped["ml_efficacy_synthetic"]
    report = evaluate(real, synth, holdout=hold.assign(**{num: 5.0}), target=num)
    assert "single class (or value)" in report.skipped["ml_efficacy_gap"]


def test_scores_are_named_finite_floats(good_report):
    assert list(good_report.scores) == [n for n in SCORE_NAMES if n in good_report.scores]
    assert all(isinstance(v, float) and math.isfinite(v) for v in good_report.scores.values())
    assert set(SCORE_NAMES) == set(good_report.scores)  # every input given: every score


def test_same_random_state_same_report(quick):
    real, synth, hold = make_table(80, 5), make_table(80, 6), make_table(80, 7)
    first = evaluate(real, synth, hold, target="y", random_state=4).scores
    again = evaluate(real, synth, hold, target="y", random_state=4).scores
    assert first == again


def test_report_pickles(good_report):
    clone = pickle.loads(pickle.dumps(good_report))
    assert clone.scores == good_report.scores
    np.testing.assert_array_equal(clone.details["dcr"].to_numpy(),
                                  good_report.details["dcr"].to_numpy())
