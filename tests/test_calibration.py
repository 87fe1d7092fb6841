"""ScoreCalibration: monotone maps of generated normal scores onto N(0, 1)."""

import pickle

import numpy as np
import pandas as pd
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from synthaug import DiffusionSampler
from synthaug.calibration import ScoreCalibration


def test_a_shrunk_and_shifted_score_is_mapped_onto_the_standard_normal():
    rng = np.random.default_rng(0)
    generated = np.c_[0.7 * rng.standard_normal(20_000) + 0.3, rng.standard_normal(20_000)]
    cal = ScoreCalibration().fit(generated)
    fresh = np.c_[0.7 * rng.standard_normal(20_000) + 0.3, rng.standard_normal(20_000)]
    out = cal.apply(torch.as_tensor(fresh, dtype=torch.float32)).numpy()
    for j in range(2):
        assert stats.kstest(out[:, j], "norm").statistic < 0.02
        assert abs((out[:, j] > 2.5).mean() - stats.norm.sf(2.5)) < 0.002    # the tails come back
    moved = np.abs(out[:, 1] - fresh[:, 1])                                   # a calibrated score barely moves
    assert np.median(moved) < 0.03 and moved.max() < 0.25


@settings(max_examples=30, deadline=None)
@given(scale=st.floats(0.3, 3.0), shift=st.floats(-1.0, 1.0), seed=st.integers(0, 10_000))
def test_the_map_is_increasing_everywhere(scale, shift, seed):
    rng = np.random.default_rng(seed)
    cal = ScoreCalibration().fit(scale * rng.standard_normal((3_000, 1)) + shift)
    z = torch.linspace(-8, 8, 2_001).unsqueeze(1)
    out = cal.apply(z).squeeze(1)
    assert torch.isfinite(out).all() and (out.diff() > 0).all()


def test_only_rows_in_the_continuous_mode_are_measured_and_few_rows_keep_the_identity():
    rng = np.random.default_rng(1)
    scores = np.c_[rng.standard_normal(5_000), rng.standard_normal(5_000)]
    scores[:2_500, 0] = 9.0                         # rows in a spike mode: their score means nothing
    in_mode = np.ones_like(scores, dtype=bool)
    in_mode[:2_500, 0] = False
    in_mode[100:, 1] = False                        # 100 rows: below min_rows
    cal = ScoreCalibration().fit(scores, in_mode)
    z = torch.linspace(-2, 2, 9).unsqueeze(1).repeat(1, 2)
    out = cal.apply(z)
    torch.testing.assert_close(out[:, 0], z[:, 0], atol=0.15, rtol=0)
    torch.testing.assert_close(out[:, 1], z[:, 1])


def test_kept_entries_are_returned_unchanged_and_the_input_is_not_modified():
    rng = np.random.default_rng(2)
    cal = ScoreCalibration().fit(0.5 * rng.standard_normal((4_000, 2)))
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    before = z.clone()
    keep = torch.zeros(50, 2, dtype=torch.bool)
    keep[::2, 1] = True
    out = cal.apply(z, keep)
    assert torch.equal(z, before)
    assert torch.equal(out[keep], z[keep]) and not torch.equal(out[~keep], z[~keep])


def test_pickling_drops_the_device_cache():
    cal = ScoreCalibration().fit(np.random.default_rng(3).standard_normal((1_000, 1)))
    cal.apply(torch.zeros(3, 1))
    clone = pickle.loads(pickle.dumps(cal))
    assert "_cache" not in clone.__dict__
    torch.testing.assert_close(clone.apply(torch.ones(3, 1)), cal.apply(torch.ones(3, 1)))


def test_a_fitted_sampler_calibrates_its_scores_but_keeps_given_cells_and_intervals():
    rng = np.random.default_rng(4)
    n = 400
    x = rng.standard_normal(n)
    df = pd.DataFrame({"x": x, "y": x + 0.3 * rng.standard_normal(n), "c": rng.choice(["a", "b"], n)})
    model = DiffusionSampler(max_steps=30, width=16, depth=1, random_state=0, verbose=False).fit(df)
    cal = model.score_calibration_
    assert isinstance(cal, ScoreCalibration) and cal.source_.shape == (2, cal.n_knots)
    out = model.sample(300, conditions={"x": (-0.5, 0.5), "c": "a"})
    assert out["x"].between(-0.5, 0.5).all() and (out["c"] == "a").all()
    holes = df.head(40).copy()
    holes.loc[::2, "y"] = np.nan
    filled = model.impute(holes)
    pd.testing.assert_series_equal(filled["x"], holes["x"])
    assert filled["y"].notna().all()


def test_scores_piled_at_one_value_give_a_finite_increasing_map():
    # an undertrained model may put most scores on the clipping bound
    scores = np.r_[np.full(3_000, 5.2), np.full(3_000, -5.2), np.linspace(-1, 1, 500)][:, None]
    cal = ScoreCalibration().fit(scores)
    z = torch.as_tensor(np.r_[scores[:, 0], np.linspace(-9, 9, 101)], dtype=torch.float32).unsqueeze(1)
    out = cal.apply(z)
    assert torch.isfinite(out).all()
    grid = cal.apply(torch.linspace(-9, 9, 1_001).unsqueeze(1)).squeeze(1)
    assert (grid.diff() >= 0).all()
