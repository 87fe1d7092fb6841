"""ScoreCalibration (monotone maps of generated normal scores onto N(0, 1)) and LevelCalibration (logit offsets)."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from synthaug import DiffusionSampler, GANSampler
from synthaug.calibration import LevelCalibration, ScoreCalibration, level_frequencies, level_frequency_noise
from synthaug.encoding import TableEncoder
from synthaug.encoding.layout import Layout


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


# ---------------------------------------------------------------- levels
TWO_BLOCKS = Layout(n_continuous=1, cardinalities=(2, 3), column_parts=((0, 0), (None, 1)))


def _codes(shares, n, rng):
    """Codes (n, len(shares)) with block ``b`` drawn at frequencies ``shares[b]``."""
    return np.stack([rng.choice(len(p), size=n, p=p) for p in shares], axis=1)


def test_updates_move_the_offsets_towards_the_target_and_leave_other_blocks_alone():
    rng = np.random.default_rng(0)
    cal = LevelCalibration(TWO_BLOCKS, {1: np.array([0.2, 0.3, 0.5])})
    assert cal.offsets_.shape == (5,) and not cal.offsets_.any()
    cal.update(_codes([[0.5, 0.5], [0.6, 0.3, 0.1]], 20_000, rng))
    off = cal.offsets_
    assert not off[:2].any()                                  # block 0 has no target
    assert off[2] < 0 < off[4] and abs(off[3]) < 0.05         # too many 0s, too few 2s, 1s right
    # the step is half the log ratio of the frequencies
    np.testing.assert_allclose(off[2:], 0.5 * np.log(np.array([0.2, 0.3, 0.5]) / [0.6, 0.3, 0.1]), atol=0.03)


def test_fixed_point_iteration_on_a_softmax_model_reaches_the_target():
    # a "model" drawing each level from softmax(logits + offsets): the offsets converge to log(f / p)
    rng = np.random.default_rng(1)
    logits, target = np.log([0.7, 0.2, 0.1]), np.array([0.3, 0.3, 0.4])
    layout = Layout(n_continuous=0, cardinalities=(3,), column_parts=((None, 0),))
    cal = LevelCalibration(layout, {0: target}, step_size=1.0)
    for _ in range(4):
        z = logits + cal.offsets_
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        cal.update(rng.choice(3, size=(50_000, 1), p=p))
    z = logits + cal.offsets_
    np.testing.assert_allclose(np.exp(z) / np.exp(z).sum(), target, atol=0.01)


def test_rare_levels_keep_their_offset_and_absent_ones_are_bounded():
    layout = Layout(n_continuous=0, cardinalities=(3,), column_parts=((None, 0),))
    cal = LevelCalibration(layout, {0: np.array([0.999, 0.001, 0.0])}, min_count=10, max_offset=2.0)
    codes = np.r_[np.zeros(900), np.full(100, 2)].astype(np.int64)[:, None]   # level 2 is made, never seen
    for _ in range(20):
        cal.update(codes)
    off = cal.offsets_
    assert off[1] == 0.0                                   # 1 row expected, 0 made: too rare to measure
    assert off[2] == -2.0 and off[0] <= 2.0                # pushed down to the bound, no further


def test_offsets_tensor_is_zero_on_continuous_dims_and_pickling_drops_its_cache():
    cal = LevelCalibration(TWO_BLOCKS, {0: np.array([0.5, 0.5])})
    cal.update(np.array([[0, 0]] * 30 + [[1, 2]] * 10))
    t = cal.logit_offsets("cpu")
    assert t.shape == (6,) and t[0] == 0 and t[1] < 0 < t[2]
    clone = pickle.loads(pickle.dumps(cal))
    assert "_cache" not in clone.__dict__
    torch.testing.assert_close(clone.logit_offsets("cpu"), t)
    cal.update(np.array([[0, 0]] * 30 + [[1, 2]] * 10))          # an update refreshes the tensor
    assert cal.logit_offsets("cpu")[1] < t[1]


def test_level_frequencies_from_codes_or_from_a_private_encoders_release():
    df = pd.DataFrame({"c": ["a"] * 30 + ["b"] * 10, "x": np.r_[np.zeros(20), np.linspace(1, 2, 20)]})
    enc = TableEncoder().fit(df)
    freqs = level_frequencies(enc, enc.transform(df).discrete)
    assert set(freqs) == set(range(enc.layout_.n_discrete))           # every block, numeric modes too
    ci, di = enc.layout_.column_parts[0]
    np.testing.assert_allclose(freqs[di], [0.75, 0.25])
    private = TableEncoder(epsilon=1.0, delta=1e-3, bounds={"x": (0, 2)}, categories={"c": ["a", "b"]})
    private.fit(df, random_state=0)
    released = level_frequencies(private)                               # categorical columns only
    assert list(released) == [private.layout_.column_parts[0][1]]
    np.testing.assert_allclose(released[0].sum(), 1.0)


def _level_error(model, frame, column, n=4_000):
    sampled = model.sample(n, random_state=1)[column].value_counts(normalize=True)
    return float((sampled - frame[column].value_counts(normalize=True)).abs().max())


@pytest.mark.parametrize("seed", [0, 1])
def test_a_fitted_diffusion_sampler_brings_its_level_frequencies_to_the_training_ones(seed):
    rng = np.random.default_rng(5)
    n = 600
    c = rng.choice(["a", "b", "c", "d"], n, p=[0.55, 0.25, 0.15, 0.05])
    df = pd.DataFrame({"c": c, "x": rng.standard_normal(n) + (c == "a")})
    # without the Gaussian residual the logits of a briefly trained denoiser start far from the frequencies
    model = DiffusionSampler(max_steps=40, width=16, depth=1, gaussian_residual=False, random_state=seed,
                             verbose=False).fit(df)
    cal = model.level_calibration_
    assert isinstance(cal, LevelCalibration) and cal.offsets_.any()
    calibrated = _level_error(model, df, "c")
    model.level_calibration_ = None
    raw = _level_error(model, df, "c")
    assert calibrated < 0.03 < raw
    # with it they start at the frequencies, and calibration leaves them there
    model = DiffusionSampler(max_steps=40, width=16, depth=1, random_state=seed, verbose=False).fit(df)
    assert _level_error(model, df, "c") < 0.03
    # the offsets never break a condition
    model.level_calibration_ = cal
    assert (model.sample(200, conditions={"c": ["c", "d"]})["c"].isin(["c", "d"])).all()


def test_the_gan_level_offsets_act_only_on_its_gibbs_sweep():
    """The GAN's generator is matched by its anchor mixture; offsets exist only for the sweep's predictor."""
    df = pd.DataFrame({"c": list("aab") * 40, "x": np.arange(120.0)})
    model = GANSampler(max_steps=5, random_state=0, verbose=False).fit(df)
    block = model.encoder_.layout_.column_parts[0][1]
    assert set(model.level_calibration_.targets) == {block}
    assert np.isfinite(model.level_calibration_.offsets_).all()
    plain = GANSampler(max_steps=5, gibbs_sweeps=0, random_state=0, verbose=False).fit(df)
    assert plain.level_calibration_ is None and plain.predictor_ is None


def test_a_noisy_target_corrects_the_model_only_as_far_as_it_is_more_accurate():
    layout = Layout(n_continuous=0, cardinalities=(2,), column_parts=((None, 0),))
    codes = np.r_[np.zeros(6_000), np.ones(4_000)].astype(np.int64)[:, None]      # the model makes 60 / 40
    target = np.array([0.5, 0.5])
    exact = LevelCalibration(layout, {0: target}).update(codes)
    assert exact.weights_ == {0: 1.0}
    # noise far below the 10-point gap: nearly the full target
    sharp = LevelCalibration(layout, {0: target}, noise={0: 0.01}).update(codes)
    assert sharp.weights_[0] > 0.95 and sharp.targets[0][0] < 0.51
    # noise far above it: the model's own frequencies stay
    vague = LevelCalibration(layout, {0: target}, noise={0: 0.3}).update(codes)
    assert vague.weights_[0] == 0.0 and not vague.offsets_.any()
    np.testing.assert_allclose(vague.targets[0], [0.6, 0.4])


def test_a_gap_within_the_samples_noise_moves_nothing():
    layout = Layout(n_continuous=0, cardinalities=(2,), column_parts=((None, 0),))
    target = np.array([0.5, 0.5])
    close = np.r_[np.zeros(5_020), np.ones(4_980)].astype(np.int64)[:, None]     # 50.2 / 49.8: sampling noise
    cal = LevelCalibration(layout, {0: target}).update(close)
    assert not cal.offsets_.any()
    # the next round measures a noisy move too: no slope is fitted to it, and nothing moves
    cal.update(np.r_[np.zeros(4_960), np.ones(5_040)].astype(np.int64)[:, None])
    assert cal.gain_ is None and not cal.offsets_.any()
    far = np.r_[np.zeros(6_000), np.ones(4_000)].astype(np.int64)[:, None]
    moved = LevelCalibration(layout, {0: target}).update(far).offsets_
    np.testing.assert_allclose(moved, 0.5 * (np.log(5_000.5) - np.log([6_000.5, 4_000.5])), rtol=5e-3)   # ~ full


def test_a_private_encoder_states_the_noise_of_its_released_frequencies():
    df = pd.DataFrame({"c": ["a"] * 300 + ["b"] * 100})
    exact = TableEncoder().fit(df)
    assert level_frequency_noise(exact) == {0: 0.0}
    private = TableEncoder(epsilon=0.5, delta=1e-3, categories={"c": ["a", "b"]}).fit(df, random_state=0)
    (noise,) = level_frequency_noise(private).values()
    np.testing.assert_allclose(noise, np.sqrt(2) / 0.5 / 400, rtol=0.1)   # ε of the one column, ~400 rows
