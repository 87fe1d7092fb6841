"""impute(): missing cells generated given the observed ones, on both samplers."""

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthaug import DiffusionSampler, GANSampler
from synthaug.datasets import load_credit
from synthaug.blending import POOL_RIDGE, log_linear_pool, log_probabilities, mode_decision_offset, pool_weights
import synthaug.imputation as imputation_module
from synthaug.imputation import blend_weights
from synthaug.linear import LevelRegression, LinearImputer
from synthaug.forest import ForestImputer
from synthaug.neighbours import NeighbourImputer

from _tiny import tiny


@pytest.fixture(scope="module")
def holes():
    df = load_credit().sample(300, random_state=2).reset_index(drop=True)
    df.index = df.index + 1000                          # a non-default index must survive
    rng = np.random.default_rng(0)
    return df.mask(rng.random(df.shape) < 0.25)


@pytest.fixture(scope="module")
def fitted(holes, kind):
    return tiny(kind, random_state=0).fit(holes)


def test_every_missing_cell_filled_and_observed_cells_untouched(holes, fitted):
    before = holes.copy()
    filled = fitted.impute(holes)
    pd.testing.assert_frame_equal(holes, before)        # the caller's frame is not mutated
    assert filled.notna().all().all()
    assert list(filled.columns) == list(holes.columns) and filled.index.equals(holes.index)
    assert filled.dtypes.equals(holes.dtypes)
    observed = holes.notna()
    for col in holes.columns:
        pd.testing.assert_series_equal(filled[col][observed[col]], holes[col][observed[col]])
    for col in ["Home", "Marital", "Records", "Job", "Status"]:
        assert set(filled[col]) <= set(holes[col].dropna())


def test_categorical_point_estimate_is_the_most_probable_level_of_the_mean_probabilities(fitted):
    # draw j of row i at j·m + i: row 0's draws favour level 0 twice, narrowly, and level 1 once, surely —
    # its mean probabilities favour level 1, which a count of drawn levels would miss; row 1's all say level 2
    encoder, layout = fitted.encoder_, fitted.encoder_.layout_
    di = layout.column_parts[encoder.columns_.index("Home")][1]
    start = int(layout.offsets[di]) - layout.n_continuous
    k, m = 3, 2
    probs = np.zeros((k * m, layout.width - layout.n_continuous), dtype=np.float32)
    for j, p0 in enumerate([(0.55, 0.45, 0.0), (0.55, 0.45, 0.0), (0.0, 1.0, 0.0)]):
        probs[j * m, start: start + 3] = p0
        probs[j * m + 1, start + 2] = 1.0
    home = encoder.encoders_["Home"]
    rng = np.random.default_rng(0)

    def most_probable(holes):
        posterior = fitted._level_posterior("Home", probs, m, holes)
        return list(fitted._decode_levels("Home", posterior.argmax(axis=1), np.dtype(object), rng))

    assert most_probable(np.array([True, True])) == [home.levels_[1], home.levels_[2]]
    assert most_probable(np.array([False, True])) == [home.levels_[2]]


def test_multiple_draws_and_reproducibility(holes, fitted):
    draws = fitted.impute(holes, n_draws=3, random_state=0)
    assert isinstance(draws, list) and len(draws) == 3
    again = fitted.impute(holes, n_draws=3, random_state=0)
    for a, b in zip(draws, again):
        pd.testing.assert_frame_equal(a, b)
    observed = holes.notna()
    assert all(d[observed].equals(draws[0][observed]) for d in draws)


def test_unseen_patterns_single_rows_and_all_missing_rows(holes, fitted):
    row = holes.iloc[[0]].copy()
    row.iloc[0, :] = np.nan                               # every cell missing: an unconditional sample
    out = fitted.impute(row)
    assert out.notna().all().all() and out.index.equals(row.index)
    complete = holes.dropna().head(5)
    pd.testing.assert_frame_equal(fitted.impute(complete), complete)   # nothing to fill


def test_column_order_is_aligned_by_name(holes, fitted):
    shuffled = holes[holes.columns[::-1]]
    out = fitted.impute(shuffled, random_state=1)
    assert list(out.columns) == list(shuffled.columns)
    pd.testing.assert_frame_equal(out[holes.columns], fitted.impute(holes, random_state=1))


@pytest.mark.parametrize("change, error, match", [
    (lambda df: df.assign(extra=1.0), ValueError, "unseen at fit.*extra"),
    (lambda df: df.drop(columns="Age"), ValueError, "missing columns.*Age"),
    (lambda df: df.assign(Income=np.inf), ValueError, "'Income'.*infinite"),
    (lambda df: df.assign(Home="castle"), ValueError, "castle"),
    (lambda df: df.assign(Income=df["Income"].astype(object).where(df.index != df.index[3], "oops")), ValueError,
     "'Income' is numeric.*not a number"),
])
def test_bad_input_is_named(holes, fitted, change, error, match):
    with pytest.raises(error, match=match):
        fitted.impute(change(holes))
    with pytest.raises(error, match=match):            # also when there is nothing to fill
        fitted.impute(change(holes).fillna(holes.iloc[0]).ffill().bfill())


def test_bad_datetime_values_are_named_also_in_complete_rows():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=80),
                       "d": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, 80), unit="D")})
    model = tiny("diffusion", random_state=0).fit(df)
    bad = df.astype({"d": object})
    bad.loc[3, "d"] = "not a date"
    for frame in (bad, bad.assign(x=df["x"].mask(df.index == 5))):
        with pytest.raises(ValueError, match="'d' holds datetimes.*not a date"):
            model.impute(frame)


def test_a_column_missing_in_every_row_is_filled_from_the_others(holes, fitted):
    batch = holes.head(12).assign(Age=np.nan)
    out = fitted.impute(batch, random_state=0)
    assert out["Age"].notna().all() and out["Age"].dtype == batch["Age"].dtype
    observed = batch.notna()
    pd.testing.assert_frame_equal(out[observed], batch[observed])
    # fitting needs an observed value in every column
    with pytest.raises(ValueError, match="'Age'.*entirely missing"):
        tiny("diffusion").fit(holes.assign(Age=np.nan))


def test_integer_and_boolean_columns_missing_in_every_row_come_back_in_their_training_dtype():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"i": rng.integers(0, 9, 100), "b": rng.random(100) < 0.3, "x": rng.normal(size=100)})
    model = tiny("diffusion", random_state=0).fit(df)
    batch = df.assign(i=np.nan, b=np.nan)
    out = model.impute(batch)
    assert out["i"].dtype == np.int64 and out["b"].dtype == bool and out["x"].equals(df["x"])
    draws = model.impute(batch, n_draws=2, calibrate=False)
    assert all(d["i"].dtype == np.int64 and d["b"].dtype == bool for d in draws)
    assert batch["i"].dtype == np.float64                 # the caller's frame is untouched


def test_a_text_column_missing_in_every_row_may_arrive_as_float_nan(holes, fitted):
    batch = holes.head(10).assign(Home=np.nan)          # float64 NaN, as df[c] = np.nan or a CSV gives
    out = fitted.impute(batch, random_state=0)
    assert out["Home"].notna().all() and set(out["Home"]) <= set(holes["Home"].dropna())
    assert batch["Home"].dtype == np.float64            # the caller's frame is untouched


def test_observed_values_of_complete_rows_are_checked_too(holes, fitted):
    batch = load_credit().head(6)[list(holes.columns)].astype({"Age": float})
    batch.loc[1, "Age"] = np.nan                  # something to fill in row 1
    batch.loc[0, "Home"] = "castle"               # row 0 has nothing to fill
    with pytest.raises(ValueError, match="'Home'.*castle"):
        fitted.impute(batch)


def test_time_zone_of_datetimes_must_match_the_fit(kind):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"w": pd.date_range("2024-01-01", periods=60, freq="D"), "x": rng.normal(size=60)})
    model = tiny(kind, random_state=0).fit(df)
    aware = df.assign(w=df["w"].dt.tz_localize("UTC"))
    aware.loc[::5, "x"] = np.nan
    with pytest.raises(ValueError, match="'w'.*timezone-aware.*naive at fit"):
        model.impute(aware)


def test_a_sentinel_keeps_integer_columns_integer(kind):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.integers(20, 70, 80), "x": rng.normal(size=80)})
    X["age"] = X["age"].where(rng.random(80) > 0.2, -1)
    before = X.copy()
    out = GenerativeImputer(tiny(kind, random_state=0), missing_values=-1, random_state=0).fit_transform(X)
    assert out["age"].dtype == np.int64 and not (out["age"] == -1).any()
    kept = X["age"] != -1
    pd.testing.assert_series_equal(out["age"][kept], X["age"][kept])
    pd.testing.assert_frame_equal(X, before)


def test_bad_n_draws(holes, fitted):
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_draws"):
            fitted.impute(holes, n_draws=bad)


def test_ndarray_in_ndarray_out(kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    X[rng.random(X.shape) < 0.2] = np.nan
    model = tiny(kind, random_state=0).fit(X)
    out = model.impute(X)
    assert isinstance(out, np.ndarray) and out.shape == X.shape and not np.isnan(out).any()
    assert np.array_equal(out[~np.isnan(X)], X[~np.isnan(X)])
    draws = model.impute(X, n_draws=2, random_state=0)          # calibrated: a second model fitted on X
    assert all(isinstance(d, np.ndarray) and d.shape == X.shape and not np.isnan(d).any() for d in draws)
    assert all(np.array_equal(d[~np.isnan(X)], X[~np.isnan(X)]) for d in draws)


def test_imputation_follows_the_observed_cells():
    """y = 2x + small noise: imputed y given x must track 2x, far better than the marginal."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=800)
    df = pd.DataFrame({"x": x, "y": 2 * x + 0.1 * rng.normal(size=800), "c": rng.choice(["a", "b"], 800)})
    model = DiffusionSampler(max_steps=400, batch_size=128, width=64, depth=2, n_timesteps=100,
                             random_state=0, verbose=False).fit(df)
    test = df.head(200).copy()
    truth = test["y"].copy()
    hide = np.arange(200) % 4 != 0                        # (a column missing in every row is refused)
    test.loc[hide, "y"] = np.nan
    filled = model.impute(test)
    rmse = float(np.sqrt(((filled["y"][hide] - truth[hide]) ** 2).mean()))
    assert rmse < 0.5 * truth.std()
    # multiple imputation spreads where the model is unsure: c is independent of x, y
    test_c = df.head(200).copy()
    test_c.loc[hide, "c"] = np.nan
    draws = model.impute(test_c, n_draws=5, random_state=0)
    disagree = np.mean([len(set(d["c"].iloc[i] for d in draws)) > 1 for i in np.flatnonzero(hide)])
    assert disagree > 0.5


def test_gan_imputes_a_categorical_cell_from_the_others_through_its_sweep():
    """``b`` is read off ``a`` (and ``x`` is noise): with its level predictor the GAN's sweep fills a hidden
    ``b`` from ``a`` in a short fit where the generator alone has not learnt it yet."""
    rng = np.random.default_rng(0)
    a = rng.choice(["p", "q", "r", "s"], 600)
    df = pd.DataFrame({"a": a, "b": pd.Series(a).map({"p": "u", "q": "u", "r": "v", "s": "w"}),
                       "x": rng.normal(size=600)})
    test = df.head(200).copy()
    test["b"] = np.nan
    accuracy = {}
    for sweeps in (0, 2):
        model = GANSampler(max_steps=200, batch_size=128, width=32, depth=1, critic_width=32, critic_depth=1,
                           gibbs_sweeps=sweeps, random_state=0, verbose=False).fit(df)
        accuracy[sweeps] = float((model.impute(test, random_state=0)["b"] == df["b"].head(200)).mean())
    assert accuracy[2] > 0.95 and accuracy[2] > accuracy[0]


def test_point_estimate_is_the_mean_or_mode_of_the_draws():
    """impute(X) beats one draw on squared error (mean) and on accuracy (mode) where the model is sure."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=800)
    df = pd.DataFrame({"x": x, "y": 2 * x + 0.5 * rng.normal(size=800),
                       "n": np.round(5 + 3 * x + rng.normal(size=800)).astype(np.int64),
                       "c": np.where(x + 0.5 * rng.normal(size=800) > 0, "hi", "lo")})
    model = DiffusionSampler(max_steps=400, batch_size=128, width=64, depth=2, n_timesteps=100,
                             random_state=0, verbose=False).fit(df)
    test = df.head(300).copy()
    hide = np.arange(300) % 3 != 0
    for col in ["y", "n", "c"]:
        test.loc[hide, col] = np.nan
    test = test.astype({"n": "Int64"})
    point = model.impute(test, random_state=0)
    one = model.impute(test, n_draws=1, random_state=0)[0]
    truth = df.head(300)
    assert point.dtypes.equals(test.dtypes)
    assert set(point["c"]) <= {"hi", "lo"}
    for col in ["y", "n"]:
        err = lambda f: float(((f[col][hide].astype(float) - truth[col][hide]) ** 2).mean())  # noqa: E731
        assert err(point) < 0.8 * err(one)
    assert (point["c"][hide] == truth["c"][hide]).mean() > (one["c"][hide] == truth["c"][hide]).mean()


def test_point_estimate_draws_come_in_antithetic_pairs():
    """A row's two draws in a batch's halves get mirrored noise: their errors are anti-correlated (else not)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=800)
    df = pd.DataFrame({"x": x, "y": 2 * x + 0.5 * rng.normal(size=800)})
    model = DiffusionSampler(max_steps=300, batch_size=128, width=32, depth=1, n_timesteps=100,
                             random_state=0, verbose=False).fit(df)
    twice = pd.concat([df.head(200)] * 2, ignore_index=True).assign(y=np.nan)

    def correlation(antithetic):
        out = model._generate_missing(twice, twice.isna(), np.random.default_rng(1), batch_size=len(twice),
                                      antithetic=antithetic)
        err = out["y"].to_numpy() - 2 * twice["x"].to_numpy()
        return np.corrcoef(err[:200], err[200:])[0, 1]

    # independent draws share only the model's own error for the row (a small positive correlation);
    # mirrored noise makes the two draws' errors strongly negatively correlated
    independent = correlation(False)
    assert abs(independent) < 0.4
    assert correlation(True) < min(-0.4, independent - 0.5)


def test_point_estimate_uses_its_own_sampler_steps(monkeypatch):
    df = load_credit().head(200)
    holes = df.mask(np.random.default_rng(0).random(df.shape) < 0.2)
    model = tiny("diffusion", n_timesteps=50, random_state=0).fit(holes)        # sampling_steps=2
    seen, original = [], model.process_.sample
    monkeypatch.setattr(model.process_, "sample", lambda *a, **k: seen.append(k["steps"]) or original(*a, **k))
    model.impute(holes)
    assert set(seen) == {25}                                                      # "auto"
    seen.clear()
    model.impute(holes, n_draws=2, calibrate=False)
    model.sample(5)
    assert set(seen) == {2}
    seen.clear()
    model.set_params(point_estimate_steps=3).impute(holes)
    assert set(seen) == {3}
    assert DiffusionSampler(n_timesteps=8)._point_estimate_steps() == 8
    assert DiffusionSampler(sampling_steps=40)._point_estimate_steps() == 40
    for bad in (51, 0, 2.5, True):
        with pytest.raises(ValueError, match="point_estimate_steps"):
            model.set_params(point_estimate_steps=bad).impute(holes)
    with pytest.raises(ValueError, match="point_estimate_steps"):
        tiny("diffusion", point_estimate_steps=9).fit(holes)                     # n_timesteps=8
    with pytest.raises(ValueError, match="point_estimate_steps"):
        tiny("diffusion", point_estimate_steps="many").fit(holes)


@pytest.mark.parametrize("draws, like, expected", [
    (np.array([[1.0, 2.0], [2.0, 6.0]]), pd.Series([0.0]), [1.5, 4.0]),
    (np.array([[1, 2], [2, 3]]), pd.Series([0], dtype=np.int64), [2, 2]),          # rounded half to even
    (np.array([[1, 2], [4, 3]]), pd.Series([0], dtype="Int64"), [2, 2]),
    (np.array([[True, False], [True, False], [False, True]]), pd.Series([True]), [True, False]),
    (np.array([["a", "b"], ["b", "a"]], dtype=object), pd.Series(["a"]), ["a", "b"]),   # a tie: first seen
    (np.array([["x"], ["y"], ["y"]], dtype=object), pd.Series(["x"], dtype=pd.CategoricalDtype(["x", "y"])), ["y"]),
])
def test_posterior_point_estimate_keeps_the_dtype(draws, like, expected):
    from synthaug.imputation import posterior_point_estimate

    out = posterior_point_estimate(draws, like)
    assert list(out) == expected
    assert pd.Series(out).astype(like.dtype).dtype == like.dtype


def test_posterior_point_estimate_of_a_categorical_number_is_a_level():
    from synthaug.imputation import posterior_point_estimate

    draws = np.array([[1.0, 9.0], [9.0, 9.0], [9.0, 1.0]])
    assert list(posterior_point_estimate(draws, pd.Series([0.0]), categorical=True)) == [9.0, 9.0]


@pytest.mark.parametrize("kind", ["diffusion", "gan"])
def test_point_estimate_of_numbers_declared_discrete_and_of_coarse_datetimes(kind):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"code": rng.choice([1.0, 5.0, 9.0], 200),
                       "t": (pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, 200), unit="D")),
                       "x": rng.normal(size=200)})
    df["t"] = df["t"].astype("datetime64[s]").dt.tz_localize("UTC")
    df.loc[::5, ["code", "t"]] = np.nan
    filled = tiny(kind, discrete_columns=["code"], random_state=0).fit(df).impute(df)
    assert set(filled["code"]) <= {1.0, 5.0, 9.0}                  # a level, never a mean of levels
    assert filled["t"].dtype == df["t"].dtype
    assert filled["t"].between(df["t"].min(), df["t"].max()).all()


def test_posterior_point_estimate_is_the_mean_of_a_float_column_and_rounded_for_integers():
    from synthaug.imputation import posterior_point_estimate

    draws = np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.26]])
    # a float column gets the mean itself (least squared error), whatever grid its values lie on
    assert list(posterior_point_estimate(draws, pd.Series([0.0]), step=0.25)) == [1.5, 3.0, 0.13]
    assert list(posterior_point_estimate(draws, pd.Series([0], dtype="int64"))) == [2, 3, 0]
    assert list(posterior_point_estimate(draws, pd.Series([0], dtype="Int64"))) == [2, 3, 0]


def test_point_estimate_of_a_whole_number_float_column_is_the_mean_and_draws_stay_whole(holes, fitted):
    """Income is a float column of whole numbers (floats because of its holes): the point estimate is the
    posterior mean, as scikit-learn's imputers give; each draw keeps the column's grid."""
    assert holes["Income"].dtype == np.float64 and holes["Income"].isna().any()
    missing = holes["Income"].isna().to_numpy()
    filled = fitted.impute(holes)
    assert filled["Income"].notna().all() and not np.array_equal(filled["Income"], np.round(filled["Income"]))
    draw = fitted.impute(holes, n_draws=2, calibrate=False)[0]
    assert np.array_equal(draw["Income"][missing], np.round(draw["Income"][missing]))


@pytest.mark.parametrize("unit", ["ns", "us", "s"])
@pytest.mark.parametrize("tz", [None, "Europe/Paris"])
def test_posterior_point_estimate_of_datetimes_is_the_mean_instant(tz, unit):
    from synthaug.imputation import posterior_point_estimate

    stamps = pd.Series(pd.to_datetime(["2020-01-01", "2020-01-03", "2021-01-01", "2021-01-01"])).dt.as_unit(unit)
    if tz:
        stamps = stamps.dt.tz_localize(tz)
    draws = stamps.to_numpy().reshape(2, 2)
    out = pd.Series(posterior_point_estimate(draws, stamps)).astype(stamps.dtype)
    assert list(out) == [stamps[0] + (stamps[2] - stamps[0]) / 2, stamps[1] + (stamps[3] - stamps[1]) / 2]
    # on a daily grid the mean instant is rounded to the day, exactly (no float nanoseconds)
    d = pd.Timestamp("2024-01-01")
    days = np.array([[d, d], [d + pd.Timedelta(days=1), d + pd.Timedelta(days=2)],
                     [d + pd.Timedelta(days=3), d + pd.Timedelta(days=3)]], dtype="datetime64[ns]")
    like = pd.Series(days[:, 0])         # means: Jan 2 08:00 and Jan 2 16:00
    day = pd.Series(posterior_point_estimate(days, like, step=86_400e9))
    assert list(day) == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03")]


# ---------------------------------------------------------------- calibrated multiple imputation
def test_interval_ratios_are_the_widening_each_cell_needs():
    from synthaug.imputation import interval_ratios

    rng = np.random.default_rng(0)
    draws, truth = rng.normal(size=(20, 500)), 3 * rng.normal(size=500)
    r = interval_ratios(draws, truth)
    mean = draws.mean(0)
    for f in (0.5, 1.0, 2.0, 4.0):                 # a cell is covered after widening by f exactly when r <= f
        wide = mean + f * (draws - mean)
        lo, hi = np.quantile(wide, [0.05, 0.95], axis=0)
        np.testing.assert_array_equal((truth >= lo - 1e-9) & (truth <= hi + 1e-9), r <= f)
    assert interval_ratios(np.zeros((5, 2)), np.array([0.0, 1.0])).tolist() == [0.0, np.inf]


def test_calibration_factors_are_conformal_quantiles_shrunk_to_the_pool():
    from synthaug.imputation import calibration_factors

    rng = np.random.default_rng(0)
    f = calibration_factors({"many": rng.uniform(0, 2, 20000), "few": np.full(5, 0.5)})
    assert f["many"] == pytest.approx(1.8, abs=0.02)          # the 90 % quantile of U(0, 2)
    assert 0.5 < f["few"] < f["many"]                           # pulled from its own 0.5 towards the pool
    assert calibration_factors({"broken": np.full(30, np.inf)})["broken"] == pytest.approx(10.0)  # capped


@pytest.fixture(scope="module")
def linear_holes():
    """y = x + noise with a quarter of y, n and c missing, the truth kept aside, and a model fitted on it."""
    rng = np.random.default_rng(3)
    n = 1_200   # ~100 held-out cells per column, so a column's factor is mostly its own (not the pool's)
    x = rng.normal(size=n)
    df = pd.DataFrame({"x": x, "y": np.round(x + 0.7 * rng.normal(size=n), 1),
                       "n": rng.integers(0, 20, n), "c": rng.choice(["a", "b"], n)})
    hide = pd.DataFrame({"x": False, "y": rng.random(n) < 0.25, "n": rng.random(n) < 0.25,
                         "c": rng.random(n) < 0.25})
    holes = df.mask(hide).astype({"n": "Int64"})
    model = DiffusionSampler(max_steps=300, batch_size=64, width=32, n_timesteps=50, random_state=0,
                             verbose=False).fit(holes)
    return df, hide, holes, model


def test_calibrated_draws_widen_numeric_cells_only(linear_holes):
    df, hide, holes, model = linear_holes
    before = holes.copy()
    raw = model.impute(holes, n_draws=6, calibrate=False, random_state=0)
    cal = model.impute(holes, n_draws=6, random_state=0)
    pd.testing.assert_frame_equal(holes, before)
    for r, c in zip(raw, cal):
        assert c.dtypes.equals(holes.dtypes) and c.notna().all().all()
        pd.testing.assert_series_equal(r["c"], c["c"])                     # categorical cells untouched
        for col in holes.columns:                                           # observed cells unchanged
            pd.testing.assert_series_equal(c[col][~hide[col]], holes[col][~hide[col]])
        assert c["y"].between(holes["y"].min(), holes["y"].max()).all()   # within the training range
        assert np.allclose(c["y"] * 10, np.round(c["y"] * 10))            # on the column's 0.1 grid
    for col in ["y", "n"]:
        h = hide[col].to_numpy()
        r = np.stack([d[col][h].to_numpy(dtype=float) for d in raw])
        c = np.stack([d[col][h].to_numpy(dtype=float) for d in cal])
        # one factor per column: the spread around each cell's mean scales by it (up to the grid and the range)
        ratio = np.median(c.std(0)[r.std(0) > 0] / r.std(0)[r.std(0) > 0])
        assert ratio != pytest.approx(1.0, abs=1e-3)
        assert np.abs(c.mean(0) - r.mean(0)).mean() < 0.2 * r.std(0).mean() * max(ratio, 1)


def test_few_calibrated_draws_are_not_sent_to_the_bounds(linear_holes):
    """The factor is measured on 20 draws of the held-out cells whatever k: two draws' range is no interval."""
    df, hide, holes, model = linear_holes
    h = hide["y"].to_numpy()
    ends = [holes["y"].min(), holes["y"].max()]
    for d in model.impute(holes, n_draws=2, random_state=0):
        # (a factor fitted on the two draws' range, as before, sent half of them there)
        assert d["y"][h].isin(ends).mean() < 0.1


def test_calibrated_draws_cover_the_truth(linear_holes):
    """The central 90 % of 20 calibrated draws holds the true value of about 90 % of missing cells."""
    df, hide, holes, model = linear_holes
    draws = model.impute(holes, n_draws=20, random_state=1)
    h = hide["y"].to_numpy()
    stack = np.stack([d["y"][h].to_numpy() for d in draws])
    lo, hi = np.quantile(stack, [0.05, 0.95], axis=0)
    truth = df["y"][h].to_numpy()
    assert 0.8 <= np.mean((truth >= lo) & (truth <= hi)) <= 0.98


def test_blend_weights_fit_each_column_and_pool_the_few():
    t = np.linspace(-1.0, 1.0, 2_000)

    def two(a, b):
        return np.stack([a, b], axis=1)

    w = blend_weights({"model": (two(t, t + 1.0), t), "linear": (two(t + 1.0, t), t),
                       "half": (two(t + 0.5, t - 0.5), t)})
    assert w["model"][0] > 0.9 and w["linear"][0] < 0.1 and w["half"][0] == pytest.approx(0.5, abs=0.05)
    few = blend_weights({"many": (two(t, t + 1.0), t), "few": (two(t[:10] + 1.0, t[:10]), t[:10])})
    assert 0.0 < few["few"][0] < 0.5 < few["many"][0]                # the few cells' own 0 pulled to the pool
    noisy = blend_weights({"x": (two(t + 3.0, t - 3.0), t)})
    assert noisy["x"].min() >= 0.0 and noisy["x"].sum() == pytest.approx(1.0)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4))
def test_blend_weights_are_the_best_mixture(seed, k):
    """Non-negative, summing to one, and no mixture on a grid of the simplex fits the cells better."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=300)
    estimates = truth[:, None] + rng.normal(size=(300, k)) * rng.uniform(0.1, 2.0, k) + rng.normal(size=k)
    w = blend_weights({"c": (estimates, truth)})["c"]
    assert w.shape == (k,) and w.min() >= 0.0 and w.sum() == pytest.approx(1.0)
    loss = float(np.sum((estimates @ w - truth) ** 2))
    grid = [np.array(g) / 10 for g in itertools.product(range(11), repeat=k) if sum(g) == 10]
    assert all(loss <= float(np.sum((estimates @ g - truth) ** 2)) + 1e-9 for g in grid)


def test_neighbour_imputer_takes_the_nearest_rows_that_have_the_cell():
    rng = np.random.default_rng(0)
    centre = rng.choice([0.0, 10.0, 20.0], 300)
    df = pd.DataFrame({"a": centre + rng.normal(size=300) * 0.1, "b": centre * 2 + rng.normal(size=300) * 0.1,
                       "g": np.where(centre > 5, "hi", "lo")})
    df.loc[::7, "b"] = np.nan
    knn = NeighbourImputer(["a", "b"], {"g": ["hi", "lo"]}).fit(df, np.random.default_rng(0))
    out = knn.predict(df)
    assert list(out.columns) == ["a", "b"] and out.index.equals(df.index)
    holes = df["b"].isna().to_numpy()
    assert np.abs(out["b"][holes] - 2 * centre[holes]).max() < 0.5           # each from its own cluster
    pd.testing.assert_series_equal(out["b"][~holes], df["b"][~holes])       # observed cells kept
    # a row hidden from itself: without `exclude` its own value is among its neighbours
    part = df.iloc[[1, 2]].assign(b=np.nan)
    alone = NeighbourImputer(["a", "b"], {}, n_neighbors=1).fit(df, np.random.default_rng(0))
    assert alone.predict(part)["b"].to_numpy() == pytest.approx(df["b"].iloc[[1, 2]].to_numpy())
    other = alone.predict(part, exclude=[1, 2])["b"].to_numpy()
    assert not np.allclose(other, df["b"].iloc[[1, 2]].to_numpy()) and np.abs(other - 2 * centre[[1, 2]]).max() < 0.5
    # a query with no cell in common with any donor falls back on the column's mean
    empty = pd.DataFrame({"a": [np.nan], "b": [np.nan], "g": [None]})
    assert knn.predict(empty).to_numpy()[0] == pytest.approx(df[["a", "b"]].mean().to_numpy())
    few = NeighbourImputer(["a", "b"], {}, max_rows=50).fit(df, np.random.default_rng(1))
    assert len(few.rows_) == 50 and np.all(np.diff(few.rows_) > 0) and few.predict(df).notna().all().all()


def test_forest_imputer_fits_what_a_line_cannot():
    """y = x² (+ a level's shift): the forests follow the curve where the linear imputer cannot; observed cells kept."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, 600)
    g = rng.choice(["a", "b"], 600)
    df = pd.DataFrame({"x": x, "y": x ** 2 + 2.0 * (g == "b") + 0.05 * rng.normal(size=600), "g": g})
    holes = df.mask(pd.DataFrame({"x": rng.random(600) < 0.1, "y": rng.random(600) < 0.2, "g": False}))
    before = holes.copy()
    lin = LinearImputer(["x", "y"], {"g": ["a", "b"]}).fit(holes)
    forest = ForestImputer(["x", "y"], {"g": ["a", "b"]}).fit(holes, np.random.default_rng(0))
    out = forest.predict(holes)
    pd.testing.assert_frame_equal(holes, before)                             # the caller's frame untouched
    assert list(out.columns) == ["x", "y"] and out.index.equals(holes.index)
    h = holes["y"].isna().to_numpy()
    pd.testing.assert_series_equal(out["y"][~h], holes["y"][~h])             # observed cells kept
    known_x = holes["x"].notna().to_numpy()   # (a row missing x too has nothing to read y from)
    err = lambda f: float(np.sqrt(((f["y"][h & known_x] - df["y"][h & known_x]) ** 2).mean()))  # noqa: E731
    assert err(out) < 0.2 < 1.0 < err(lin.predict(holes))
    assert set(forest.forests_) == {"x", "y"}
    # reading a completed copy instead (one more round from a fill): rows missing x too are predicted from its x
    again = ForestImputer(["x", "y"], {"g": ["a", "b"]}).fit(holes, np.random.default_rng(0), features=df,
                                                             columns=["y"])
    refined = again.predict(holes, features=df)
    assert set(again.forests_) == {"y"} and float(np.sqrt(((refined["y"][h] - df["y"][h]) ** 2).mean())) < 0.2
    pd.testing.assert_series_equal(refined["x"], holes["x"].fillna(again.mean_["x"]))   # no forest: holes get the mean
    # the forests are fitted on at most max_rows rows; a column with too few known cells has none (its mean)
    few = holes.assign(x=np.where(np.arange(600) < 3, x, np.nan))
    small = ForestImputer(["x", "y"], {"g": ["a", "b"]}, max_rows=100).fit(few, np.random.default_rng(0))
    assert set(small.forests_) == {"y"} and small.forests_["y"].n_estimators == 50
    assert small.forests_["y"].n_features_in_ == 3                       # x and g's two indicators
    assert small.forests_["y"].estimators_[0].tree_.n_node_samples[0] < 100   # y's known cells among 100 rows
    filled = small.predict(few)
    assert filled.notna().all().all() and (filled["x"][3:] == small.mean_["x"]).all()


def test_forest_imputer_classifies_a_level_a_line_cannot():
    """A level set by |x| > 1 (no linear boundary): the classifier's posterior picks it; its rows are probabilities
    over the levels in ``levels_`` order, smoothed so a level no tree votes for keeps a little, but not a level no
    known cell has; no classifier unless asked for, or without enough known cells."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, 800)
    df = pd.DataFrame({"x": x, "z": rng.normal(size=800), "g": np.where(np.abs(x) > 1, "out", "in")})
    holes = df.mask(pd.DataFrame({"x": False, "z": rng.random(800) < 0.1, "g": rng.random(800) < 0.25}))
    before = holes.copy()
    levels = {"g": ["in", "never", "out"]}
    forest = ForestImputer(["x", "z"], levels).fit(holes, np.random.default_rng(0), columns=["x", "z", "g"])
    pd.testing.assert_frame_equal(holes, before)
    h = holes["g"].isna().to_numpy()
    proba = forest.predict_proba(holes[h], "g")
    assert proba.shape == (h.sum(), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba[:, [0, 2]] > 0).all() and (proba[:, 1] == 0).all()             # "never" occurs in no known cell
    right = np.array(["in", "never", "out"])[proba.argmax(axis=1)] == df["g"][h].to_numpy()
    assert right.mean() > 0.95
    assert forest.classifiers_["g"].n_features_in_ == 2                         # x and z: not g's own indicators
    assert ForestImputer(["x", "z"], levels).fit(holes, np.random.default_rng(0)).predict_proba(holes, "g") is None
    few = holes.assign(g=holes["g"].where(np.arange(800) < 3))
    assert ForestImputer(["x", "z"], levels).fit(few, np.random.default_rng(0),
                                                 columns=["g"]).predict_proba(few, "g") is None
    assert forest.predict_proba(holes.iloc[:0], "g").shape == (0, 3)


def test_neighbour_vote_on_a_level():
    """Two clusters, each its own level, a third level no row has: the vote of a missing cell's nearest rows picks
    its cluster's level, its rows are probabilities in ``levels_`` order (the absent level 0), an observed cell keeps
    its level, a row with no cell in common gets the levels' shares, an excluded row is not its own neighbour, and
    several columns are voted on at once."""
    rng = np.random.default_rng(2)
    a = np.r_[rng.normal(0, 0.3, 100), rng.normal(5, 0.3, 100)]
    df = pd.DataFrame({"a": a, "b": a + rng.normal(0, 0.3, 200), "g": ["lo"] * 100 + ["hi"] * 100,
                       "h": ["u", "v"] * 100})
    holes = df.mask(pd.DataFrame({"a": False, "b": False, "g": rng.random(200) < 0.3, "h": rng.random(200) < 0.3}))
    before = holes.copy()
    knn = NeighbourImputer(["a", "b"], {"g": ["lo", "never", "hi"], "h": ["u", "v"]}).fit(holes,
                                                                                           np.random.default_rng(0))
    proba = knn.predict_proba(holes)
    pd.testing.assert_frame_equal(holes, before)
    assert set(proba) == {"g", "h"} and proba["g"].shape == (200, 3) and proba["h"].shape == (200, 2)
    np.testing.assert_allclose(proba["g"].sum(axis=1), 1.0)
    assert (proba["g"][:, 1] == 0).all() and (proba["g"].argmax(axis=1) == np.r_[[0] * 100, [2] * 100]).all()
    observed = holes["g"].notna().to_numpy()
    assert set(proba["g"][observed].max(axis=1)) == {1.0}
    assert (proba["g"][~observed].max(axis=1) < 1.0).all()                       # smoothed towards the shares
    np.testing.assert_allclose(knn.predict_proba(holes, ["g"])["g"], proba["g"])
    # a lone row: its only neighbour is itself unless excluded
    lone = pd.DataFrame({"a": [0.0, 5.0], "b": [0.0, 5.0], "g": ["lo", "hi"]})
    one = NeighbourImputer(["a", "b"], {"g": ["lo", "hi"]}, n_neighbors=1).fit(lone, np.random.default_rng(0))
    asked = lone.assign(g=None)
    assert one.predict_proba(asked)["g"].argmax(axis=1).tolist() == [0, 1]
    assert one.predict_proba(asked, exclude=[0, 1])["g"].argmax(axis=1).tolist() == [1, 0]
    blank = pd.DataFrame({"a": [np.nan], "b": [np.nan], "g": [None], "h": [None]})
    np.testing.assert_allclose(knn.predict_proba(blank)["g"], [[0.5, 0.0, 0.5]], atol=0.05)
    assert knn.predict_proba(holes.iloc[:0])["g"].shape == (0, 3) and knn.predict_proba(holes, []) == {}


def test_linear_imputer_predicts_from_numbers_and_levels():
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    g = rng.choice(["a", "b", "c"], 500)
    df = pd.DataFrame({"x": x, "y": 2 * x + 3 * (g == "b") - 3 * (g == "c") + 0.05 * rng.normal(size=500), "g": g})
    lin = LinearImputer(["x", "y"], {"g": ["a", "b", "c"]}).fit(df.mask(rng.random(df.shape) < 0.2))
    query = pd.DataFrame({"x": [1.0, 1.0, 1.0, np.nan, 1.0], "y": [np.nan, np.nan, np.nan, 5.0, 5.0],
                          "g": ["a", "b", "c", None, None]}, index=[7, 8, 9, 10, 11])
    out = lin.predict(query)
    assert list(out.columns) == ["x", "y"] and out.index.equals(query.index)
    assert out["y"].iloc[:3].to_numpy() == pytest.approx([2.0, 5.0, -1.0], abs=0.2)   # each level its own shift
    assert out["x"].to_numpy()[[0, 1, 2, 4]] == pytest.approx([1.0] * 4)            # observed cells kept
    assert np.isfinite(out["x"].iloc[3])
    assert lin.imputer_.max_iter == 5                                            # 20 % missing: every round
    assert LinearImputer(["x", "y"], {"g": ["a", "b", "c"]}).fit(df).imputer_.max_iter == 1   # none: one round


def test_level_regression_reads_the_completed_row():
    """A level set by the sign of y - x: the regression finds it where y (or x) is missing too, through the linear
    imputer's fill; a level the fitted rows lack gets probability 0; a column with one level has no regression."""
    rng = np.random.default_rng(0)
    n = 600
    x = rng.normal(size=n)
    z = x + 0.3 * rng.normal(size=n)
    y = rng.normal(size=n)
    df = pd.DataFrame({"x": x, "z": z, "y": y, "g": np.where(y - x > 0, "up", "down"), "one": "k"})
    holes = df.mask(pd.DataFrame({"x": rng.random(n) < 0.2, "z": False, "y": False, "g": rng.random(n) < 0.3,
                                  "one": False}))
    lin = LinearImputer(["x", "z", "y"], {"g": ["down", "up", "never"], "one": ["k"]}).fit(holes)
    before = holes.copy()
    levels = LevelRegression(lin, ["g", "one"]).fit(holes, np.random.default_rng(0))
    pd.testing.assert_frame_equal(holes, before)
    assert set(levels.classifiers_) == {"g"} and set(levels.predict_proba(holes)) == {"g"}
    assert levels.predict_proba(holes, ["one"]) == {}
    query = pd.DataFrame({"x": [np.nan, np.nan, -1.0], "z": [-1.0, 1.0, np.nan], "y": [0.0, 0.0, 1.0],
                          "g": [None] * 3, "one": ["k"] * 3})
    proba = levels.predict_proba(query)["g"]
    assert proba.shape == (3, 3) and np.allclose(proba.sum(axis=1), 1.0) and (proba[:, 2] == 0).all()
    assert proba.argmax(axis=1).tolist() == [1, 0, 1]     # x read off z where it is missing
    missed = holes["g"].isna().to_numpy()
    right = levels.predict_proba(holes[missed], ["g"])["g"].argmax(axis=1) == (df["g"][missed] == "up").to_numpy()
    assert right.mean() > 0.85
    assert levels.predict_proba(holes.iloc[:0])["g"].shape == (0, 3)


def test_point_estimate_leans_on_the_linear_imputer_where_the_network_is_noise(linear_holes):
    """A barely trained network on y = x + noise: the blend's weight moves to the regression, and its error falls."""
    df, hide, holes, model = linear_holes
    assert model.linear_imputer_ is not None and model.linear_imputer_.numeric == ["x", "y", "n"]
    fitted = model._blend_weights(holes, np.random.default_rng(0))
    weights, neighbours, forest, refine, logistic = (fitted.weights, fitted.neighbours, fitted.forest, fitted.refine,
                                                     fitted.logistic)
    assert set(weights) == {"y", "n"} and all(w.min() >= 0.0 and w.sum() == pytest.approx(1.0)
                                              for w in weights.values())
    assert weights["y"][0] < 0.9 and isinstance(neighbours, NeighbourImputer) and isinstance(forest, ForestImputer)
    assert isinstance(logistic, LevelRegression)         # its categorical column, pooled
    assert all(len(w) == 4 for w in weights.values())   # the model's, linear, neighbours', forests'
    assert set(refine) == set(weights) and all(0.0 <= v <= 1.0 for v in refine.values())   # the last round's
    before = holes.copy()
    blended = model.impute(holes, random_state=0)
    alone = model._impute_point(holes, np.random.default_rng(0), blend=False)
    pd.testing.assert_frame_equal(holes, before)
    h = hide["y"].to_numpy()
    err = lambda f: float(((f["y"][h].astype(float) - df["y"][h]) ** 2).mean())  # noqa: E731
    assert err(blended) < err(alone)
    assert blended.dtypes.equals(holes.dtypes)
    for col in holes.columns:
        pd.testing.assert_series_equal(blended[col][~hide[col]], holes[col][~hide[col]])


def test_blend_weights_come_from_a_shorter_copy_fitted_without_the_held_out_cells(linear_holes, monkeypatch):
    """The copy sees the frame with exactly the held-out cells hidden and trains a share of the steps; when it
    cannot be fitted, the weights come from the model itself."""
    from synthaug import imputation

    df, hide, holes, model = linear_holes
    seen = {}
    original = type(model)._blend_proxy

    def spy(self, held, rng):
        proxy = original(self, held, rng)
        seen.update(held=held, proxy=proxy)
        return proxy

    monkeypatch.setattr(type(model), "_blend_proxy", spy)
    before = holes.copy()
    weights = model._blend_weights(holes, np.random.default_rng(0)).weights
    pd.testing.assert_frame_equal(holes, before)
    held, proxy = seen["held"], seen["proxy"]
    extra = held.isna() & holes.notna()
    assert extra.to_numpy().sum() >= 20 and not (holes.isna() & held.notna()).to_numpy().any()
    assert not extra["x"].any()                                   # only the weighted (missing) columns
    assert proxy is not None and proxy.n_iter_ == round(imputation.BLEND_PROXY_STEPS * model.n_iter_)
    assert proxy is not model and proxy.linear_imputer_ is not model.linear_imputer_
    # its draws are conditioned on most of a row: no calibration of the levels' unconditional frequencies
    assert model.level_calibration_ is not None and proxy.level_calibration_ is None
    assert type(proxy)._level_calibration_rounds == type(model)._level_calibration_rounds > 0
    assert set(weights) == {"y", "n"}

    def fail(self, X, y=None):
        raise ValueError("cannot fit")

    monkeypatch.setattr(type(model), "_blend_proxy", original)
    monkeypatch.setattr(type(model), "fit", fail)
    weights = model._blend_weights(holes, np.random.default_rng(0)).weights
    assert set(weights) == {"y", "n"}                            # fitted with the model's own estimates


def test_a_blended_point_estimate_and_its_weights_take_fewer_draws(linear_holes, monkeypatch):
    """Every draw behind a blended estimate, the held-out cells' included, comes BLENDED_POINT_ESTIMATE_DRAWS
    times per row; a mean of draws alone, POINT_ESTIMATE_DRAWS times."""
    from synthaug import imputation

    df, hide, holes, model = linear_holes
    monkeypatch.setattr(imputation, "BLENDED_POINT_ESTIMATE_DRAWS", 6)
    monkeypatch.setattr(imputation, "POINT_ESTIMATE_DRAWS", 10)
    sizes, original = [], type(model)._generate_missing

    def spy(self, part, missing, rng, **kwargs):
        sizes.append(len(part))
        return original(self, part, missing, rng, **kwargs)

    monkeypatch.setattr(type(model), "_generate_missing", spy)
    rows = int(holes.isna().any(axis=1).sum())
    model.impute(holes, random_state=0)
    assert len(sizes) >= 2 and sizes[-1] == 6 * rows            # the held-out cells' draws, then the table's
    assert all(size % 6 == 0 for size in sizes)
    sizes.clear()
    model._impute_point(holes, np.random.default_rng(0), blend=False)
    assert sizes == [10 * rows]
    sizes.clear()
    model.impute(holes, n_draws=2, calibrate=False, random_state=0)
    assert sizes == [rows, rows]                                 # multiple imputation: one draw each


def test_log_linear_pool_mixes_the_posteriors_geometrically():
    model = log_probabilities(np.array([[0.7, 0.2, 0.1], [0.0, 0.5, 0.5]]))
    other = np.log(np.array([[0.1, 0.2, 0.7], [0.25, 0.25, 0.5]]))
    np.testing.assert_allclose(log_linear_pool([model, other], [1.0, 0.0]), [[0.7, 0.2, 0.1], [1e-6, 0.5, 0.5]],
                               atol=1e-5)
    np.testing.assert_allclose(log_linear_pool([model, other], [0.0, 1.0]), np.exp(other))
    half = log_linear_pool([model, other], [0.5, 0.5])
    np.testing.assert_allclose(half[0], np.sqrt([0.07, 0.04, 0.07]) / np.sqrt([0.07, 0.04, 0.07]).sum())
    masked = log_linear_pool([model, other], [0.0, 1.0], allowed=np.array([True, True, False]))
    np.testing.assert_allclose(masked, [[1 / 3, 2 / 3, 0.0], [0.5, 0.5, 0.0]])
    sharp = log_linear_pool([model, other], [0.0, 2.0])                          # an inverse temperature
    np.testing.assert_allclose(sharp[0], np.array([0.01, 0.04, 0.49]) / 0.54)
    np.testing.assert_allclose(log_linear_pool([model, other], [0.0, 0.0]), np.full((2, 3), 1 / 3))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 1.5), st.floats(0.0, 1.5))
def test_pool_weights_find_the_mixture_the_levels_come_from(seed, wa, wb):
    """Levels drawn from a geometric mixture of two posteriors: the weights fitted without the ridge are near the
    mixture's, none is negative, and no nearby weights give the truths a larger (penalised) likelihood."""
    rng = np.random.default_rng(seed)
    n, levels = 4_000, 3
    a, b = np.log(rng.dirichlet(np.ones(levels), n)), np.log(rng.dirichlet(np.ones(levels), n))
    truth_probs = log_linear_pool([a, b], [wa, wb])
    truth = (truth_probs.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(max=levels - 1)
    assert np.abs(pool_weights([a, b], truth, ridge=0.0) - [wa, wb]).max() <= 0.2
    w = pool_weights([a, b], truth)                  # the ridge shrinks them a little
    assert w.shape == (2,) and (w >= 0).all() and np.abs(w - [wa, wb]).max() <= 0.4

    def objective(weights):
        return np.log(log_linear_pool([a, b], weights)[np.arange(n), truth]).mean() - POOL_RIDGE * (weights @ weights)

    for step in ([0.05, 0], [0, 0.05], [-0.05, 0], [0, -0.05]):
        near = np.maximum(w + step, 0.0)
        assert objective(w) >= objective(near) - 1e-9


def _ruled_right(probs, truth, mode, offset):
    logs = log_probabilities(probs)
    logs[:, mode] += offset
    return int((logs.argmax(1) == truth).sum())


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 4), st.integers(1, 60))
def test_mode_decision_offset_is_the_best_of_every_offset(seed, n_levels, n):
    """No offset of the mode's log-probability gets more held-out cells right than the one fitted; it is never
    negative, and it is 0 when no offset does better than none."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(n_levels), size=n)
    truth = rng.integers(0, n_levels, size=n)
    mode = int(np.bincount(truth, minlength=n_levels).argmax())
    offset = mode_decision_offset(probs, truth, mode)
    right = _ruled_right(probs, truth, mode, offset)
    logs = log_probabilities(probs)
    margins = np.delete(logs, mode, axis=1).max(1) - logs[:, mode]
    tried = [_ruled_right(probs, truth, mode, b) for b in np.concatenate([[0.0, np.inf], margins[margins > 0] + 1e-9])]
    assert offset >= 0.0 and right == max(tried)
    if max(tried) == tried[0]:
        assert offset == 0.0


def test_mode_decision_offset_keeps_a_rare_level_only_where_it_pays():
    """A rare level (level 1) that wins its cells by a little and is wrong there loses them to the mode; where it
    wins by a lot and is right it keeps them; a rare level never right anywhere is never predicted."""
    near = np.array([[0.46, 0.54]] * 4 + [[0.2, 0.8]] * 3 + [[0.9, 0.1]] * 40)
    truth = np.array([0, 0, 0, 1] + [1] * 3 + [0] * 40)
    offset = mode_decision_offset(near, truth, 0)
    assert np.log(0.54 / 0.46) < offset < np.log(0.8 / 0.2)
    assert _ruled_right(near, truth, 0, offset) == _ruled_right(near, truth, 0, 0.0) + 2
    assert mode_decision_offset(near, np.array([0, 0, 0, 0] + [0] * 3 + [0] * 40), 0) == np.inf
    assert mode_decision_offset(near, np.array([1, 1, 1, 1] + [1] * 3 + [0] * 40), 0) == 0.0
    assert mode_decision_offset(np.array([[0.7, 0.3]]), np.array([1]), 0) == 0.0      # (no rival ever won)


def test_pool_weights_offsets_undo_a_shifted_prior():
    """A source whose probabilities are right but for a prior that favours level 0 by log 4: the fitted
    offsets move the pool most of the way back, its weight stays near 1; without offsets no weight can."""
    rng = np.random.default_rng(3)
    n, shift = 4000, np.array([np.log(4.0), 0.0, 0.0])
    logits = rng.normal(scale=2.0, size=(n, 3))
    true_p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    truth = (rng.random(n)[:, None] > np.cumsum(true_p, axis=1)).sum(1)
    source = np.log(np.exp(logits + shift) / np.exp(logits + shift).sum(1, keepdims=True))
    w, o = pool_weights([source], truth, offsets=True)
    assert w[0] == pytest.approx(1.0, abs=0.1)
    assert -np.log(4.0) - 0.1 < o[0] - o[1:].mean() < -0.7 * np.log(4.0)      # (the ridge pulls them towards 0)
    right = lambda p: float((p.argmax(1) == truth).mean())  # noqa: E731
    plain = log_linear_pool([source], pool_weights([source], truth))
    assert right(log_linear_pool([source], w, offsets=o)) > right(plain)


def test_pool_weights_rule_out_a_level_and_keep_weights_finite():
    """Levels ``allowed`` rules out do not enter the likelihood; held-out cells one source separates perfectly
    get a large but finite weight (the ridge), an uninformative source none."""
    truth = np.array([0, 1, 0, 1, 0, 1])
    perfect = np.log(np.array([[0.6, 0.4, 0.0], [0.4, 0.6, 0.0]] * 3) + 1e-12)
    flat = np.log(np.full((6, 3), 1 / 3))
    w = pool_weights([flat, perfect], truth, np.array([True, True, False]))
    assert np.isfinite(w).all() and w[1] > 2.0 and w[0] < 1e-6


def test_categorical_point_estimate_pools_the_discriminant_where_the_network_is_noise():
    """A level set by a threshold on x, and a barely trained network: the held-out cells give the residual's
    discriminant the larger weight, the pooled estimate is right more often, and observed cells stay."""
    rng = np.random.default_rng(5)
    n = 800
    x = rng.normal(size=n)
    df = pd.DataFrame({"x": x, "z": x + rng.normal(size=n), "c": np.where(x + 0.3 * rng.normal(size=n) > 0,
                                                                          "hi", "lo")})
    hide = pd.DataFrame({"x": False, "z": rng.random(n) < 0.2, "c": rng.random(n) < 0.3})
    holes = df.mask(hide)
    model = tiny("gan", random_state=0, max_steps=20).fit(holes)
    before = holes.copy()
    blend = model._blend_weights(holes, np.random.default_rng(0))
    pd.testing.assert_frame_equal(holes, before)
    # (the other sources' weights: together they outweigh the network)
    assert set(blend.pools) == {"c"} and set(blend.weights) == {"z"}
    weights = blend.pools["c"]
    assert set(weights) == {"model", "discriminant", "forest", "neighbours", "logistic"}
    assert min(weights.values()) >= 0.0
    assert sum(weights.values()) - weights["model"] >= weights["model"]
    pooled = model.impute(holes, random_state=0)
    alone = model._impute_point(holes, np.random.default_rng(0), blend=False)
    h = hide["c"].to_numpy()
    right = lambda f: float((f["c"][h] == df["c"][h]).mean())  # noqa: E731
    assert right(pooled) >= 0.85 and right(pooled) > right(alone)
    for col in holes.columns:
        pd.testing.assert_series_equal(pooled[col][~hide[col]], holes[col][~hide[col]])


def test_pool_weights_need_no_copy_of_the_model(monkeypatch):
    """Holes in a categorical column only: its pool weights are fitted on the model's own posteriors of the held-out
    cells (a rare level's among them), so no shorter copy of the model is fitted; the caller's frame is untouched."""
    rng = np.random.default_rng(6)
    n = 600
    x = rng.normal(size=n)
    df = pd.DataFrame({"x": x, "z": x + rng.normal(size=n), "c": np.where(x > 0, "hi", "lo").astype(object)})
    df.loc[rng.choice(n, 60, replace=False), "c"] = None
    df.loc[rng.choice(np.flatnonzero(df["c"].notna()), 3, replace=False), "c"] = "rare"
    model = tiny("gan", random_state=0).fit(df)

    def no_copy(self, held, rng):
        raise AssertionError("a copy of the model was fitted")

    monkeypatch.setattr(type(model), "_blend_proxy", no_copy)
    before = df.copy()
    blend = model._blend_weights(df, np.random.default_rng(0))
    pd.testing.assert_frame_equal(df, before)
    assert set(blend.pools) == {"c"} and not blend.weights
    weights = blend.pools["c"]
    assert set(weights) == {"model", "discriminant", "forest", "neighbours", "logistic"}
    assert min(weights.values()) >= 0.0
    out = model.impute(df, random_state=0)
    assert out["c"].notna().all() and set(out["c"]) <= {"hi", "lo", "rare"}


def test_pool_weights_are_cross_fitted_on_one_held_out_cell_per_row(monkeypatch):
    """Two pooled columns: each held-out row hides one of its observed pooled cells, the rows fall into
    POOL_FOLDS folds, and the forest classifier and the logistic regression that score a fold's cells were fitted
    on the frame with exactly that fold's cells hidden (the regression's completed rows those of that frame);
    every held-out cell is scored once, by every source; the caller's frame is untouched."""
    rng = np.random.default_rng(7)
    n = 500
    x = rng.normal(size=n)
    df = pd.DataFrame({"x": x, "z": x + rng.normal(size=n),
                       "c": np.where(x > 0, "hi", "lo").astype(object),
                       "d": np.where(x + rng.normal(size=n) > 0, "p", "q").astype(object)})
    for col in ("c", "d"):
        df.loc[rng.choice(n, 40, replace=False), col] = None
    model = tiny("gan", random_state=0).fit(df)
    fitted_on = {"forest": [], "logistic": []}
    forest_fit, logistic_fit = ForestImputer.fit, LevelRegression.fit

    def record_forest(self, frame, *args, **kwargs):
        fitted_on["forest"].append(frame.isna().to_numpy() & df.notna().to_numpy())
        return forest_fit(self, frame, *args, **kwargs)

    def record_logistic(self, frame, rng, *, design=None):
        fitted_on["logistic"].append(frame.isna().to_numpy() & df.notna().to_numpy())
        np.testing.assert_allclose(design, self.imputer.complete(frame))
        return logistic_fit(self, frame, rng, design=design)

    monkeypatch.setattr(ForestImputer, "fit", record_forest)
    monkeypatch.setattr(LevelRegression, "fit", record_logistic)
    scored = []
    pool_weights_of = type(model)._pool_weights

    def record_scores(self, truth, hidden, posteriors, sources, rng):
        scored.append((truth.index.to_numpy(), hidden, sources))
        return pool_weights_of(self, truth, hidden, posteriors, sources, rng)

    monkeypatch.setattr(type(model), "_pool_weights", record_scores)
    before = df.copy()
    pools, offsets, decisions = model._cross_fitted_pools(df, np.random.default_rng(0), ["c", "d"], None)
    pd.testing.assert_frame_equal(df, before)
    (rows, hidden, sources), = scored
    assert set(pools) == {"c", "d"} and all(min(w.values()) >= 0.0 for w in pools.values())
    assert set(offsets) == {"c", "d"} and all(np.isfinite(o).all() for o in offsets.values())
    # a decision offset, if any, only on the most frequent level
    assert set(decisions) == {"c", "d"} and all(np.count_nonzero(d) <= 1 and d.min() >= 0 for d in decisions.values())
    assert ((hidden["c"].astype(int) + hidden["d"].astype(int)) == 1).all()
    assert min(hidden["c"].sum(), hidden["d"].sum()) > 100
    assert all(sources[c].keys() == {"discriminant", "forest", "logistic"} for c in ("c", "d"))
    assert all(p.shape[0] == len(rows) for c in ("c", "d") for p in sources[c].values())
    held = np.zeros(df.shape, dtype=bool)
    held[rows, 2], held[rows, 3] = hidden["c"], hidden["d"]
    for folds in fitted_on.values():
        assert len(folds) == imputation_module.POOL_FOLDS
        # each fold hides its rows' held-out cells; the folds are disjoint and together hide every held-out cell
        assert sum(f.astype(int) for f in folds).max() == 1 and np.array_equal(np.logical_or.reduce(folds), held)


def test_neighbour_imputer_copes_with_empty_columns_and_integer_nulls():
    df = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0], "b": [np.nan] * 4,
                       "n": pd.array([1, None, 3, 4], dtype="Int64"), "g": ["x", None, "y", "x"]})
    before = df.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        knn = NeighbourImputer(["a", "b", "n"], {"g": ["x", "y"]}, n_neighbors=2).fit(df, np.random.default_rng(0))
        out = knn.predict(df)
        assert knn.predict(df.iloc[:0]).shape == (0, 3)
    pd.testing.assert_frame_equal(df, before)
    assert out.notna().all().all() and out["n"].iloc[1] == pytest.approx(2.5)     # rows 0 and 3 (row 2 shares no cell)


def test_reference_imputers_read_levels_missing_as_pandas_na():
    # a pandas "string" or "boolean" column marks its holes with pd.NA, which has no truth value
    df = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "s": pd.array(["p", pd.NA, "q", "p"], dtype="string"),
                       "b": pd.array([True, False, pd.NA, True], dtype="boolean")})
    levels = {"s": ["p", "q"], "b": [False, True]}
    design = NeighbourImputer(["x"], levels).fit(df, np.random.default_rng(0))._design(df)
    assert np.isnan(design[1, 1:3]).all() and np.isnan(design[2, 3:5]).all()
    assert design[[0, 2, 3], 1].tolist() == [1.0, 0.0, 1.0] and design[[0, 1, 3], 4].tolist() == [1.0, 0.0, 1.0]
    assert LinearImputer(["x"], levels).fit(df).predict(df)["x"].tolist() == pytest.approx(df["x"].tolist())


@pytest.mark.parametrize("kind", ["diffusion", "gan"])
def test_pandas_nullable_columns_are_imputed_in_their_dtypes(kind):
    rng = np.random.default_rng(0)
    n = 120
    df = pd.DataFrame({"x": rng.normal(size=n),
                       "s": pd.array(rng.choice(["p", "q", pd.NA], n), dtype="string"),
                       "b": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
                       "i": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 9, n)), dtype="Int64")})
    before = df.copy()
    filled = tiny(kind, random_state=0).fit(df).impute(df)
    pd.testing.assert_frame_equal(df, before)
    assert filled.dtypes.equals(df.dtypes) and filled.notna().all().all()
    for col in df.columns:
        seen = df[col].notna()
        pd.testing.assert_series_equal(filled[col][seen], df[col][seen])


def test_point_estimate_leans_on_the_neighbours_and_forests_where_rows_cluster():
    """Clusters no line through them fits (b is not monotone in a): the nearest rows' and the forests' weights (the
    estimates that follow clusters; how they share it depends on the random stream) take the blend from the line,
    and the error falls."""
    rng = np.random.default_rng(4)
    n = 600
    cluster = rng.integers(0, 3, n)
    df = pd.DataFrame({"a": np.array([0.0, 10.0, 20.0])[cluster] + rng.normal(size=n),
                       "b": np.array([5.0, -5.0, 5.0])[cluster] + rng.normal(size=n),
                       "c": np.array([1.0, 3.0, -2.0])[cluster] + rng.normal(size=n)})
    hide = pd.DataFrame({"a": False, "b": rng.random(n) < 0.25, "c": rng.random(n) < 0.1})
    holes = df.mask(hide)
    model = tiny("gan", random_state=0).fit(holes)
    weights = model._blend_weights(holes, np.random.default_rng(0)).weights
    assert weights["b"][2] + weights["b"][3] > 0.8 and weights["b"][1] < 0.1
    blended = model.impute(holes, random_state=0)
    alone = model._impute_point(holes, np.random.default_rng(0), blend=False)
    h = hide["b"].to_numpy()
    err = lambda f: float(((f["b"][h] - df["b"][h]) ** 2).mean())  # noqa: E731
    assert err(blended) < 0.5 * err(alone)
    for col in holes.columns:
        pd.testing.assert_series_equal(blended[col][~hide[col]], holes[col][~hide[col]])


def test_last_round_of_forests_is_predicted_by_chunks_alike(linear_holes, monkeypatch):
    """The last round of forests predicts the holes a chunk of rows at a time: the same cells whatever the chunk."""
    _, _, holes, model = linear_holes
    fitted = model._blend_weights(holes, np.random.default_rng(0))
    assert fitted.refine and set(fitted.refine) <= {"y", "n"}
    whole = model.impute(holes, random_state=0)
    monkeypatch.setattr(imputation_module, "_REFINE_CHUNK_ROWS", 7)
    pd.testing.assert_frame_equal(model.impute(holes, random_state=0), whole)


def test_point_estimate_leans_on_the_forests_where_a_column_bends():
    """b = 3|a| beside columns of noise: no line fits it and the noise blurs the nearest rows; the forests'
    weight is the largest, and the error falls."""
    rng = np.random.default_rng(5)
    n = 600
    a = rng.uniform(-3, 3, n)
    df = pd.DataFrame({"a": a, "b": 3 * np.abs(a) + 0.3 * rng.normal(size=n),
                       **{f"noise{i}": rng.normal(size=n) for i in range(3)}})
    hide = pd.DataFrame(False, index=df.index, columns=df.columns).assign(b=rng.random(n) < 0.25)
    holes = df.mask(hide)
    model = tiny("gan", random_state=0).fit(holes)
    weights = model._blend_weights(holes, np.random.default_rng(0)).weights
    assert int(np.argmax(weights["b"])) == 3
    blended = model.impute(holes, random_state=0)
    alone = model._impute_point(holes, np.random.default_rng(0), blend=False)
    h = hide["b"].to_numpy()
    err = lambda f: float(((f["b"][h] - df["b"][h]) ** 2).mean())  # noqa: E731
    assert err(blended) < 0.5 * err(alone)
    pd.testing.assert_frame_equal(blended[~hide["b"]], holes[~hide["b"]])


@pytest.mark.parametrize("params", [{"gaussian_residual": False}, {"epsilon": 50.0, "pac": 1}])
def test_no_linear_imputer_without_the_residual_or_under_dp(params, holes):
    model = tiny("gan", random_state=0, **params).fit(holes)
    assert model.linear_imputer_ is None
    assert model._blend_weights(holes, np.random.default_rng(0)) is imputation_module._NO_BLEND
    assert model.impute(holes).notna().all().all()


def test_a_resampler_fold_fits_no_linear_imputer(holes):
    X, y = holes.drop(columns="Status"), holes["Status"].fillna("good")
    model = tiny("gan", random_state=0)
    model.fit_resample(X, y)
    assert model.linear_imputer_ is None
    assert model.fit(X).linear_imputer_ is not None


def test_the_class_of_fit_x_y_is_not_a_linear_predictor(holes):
    X, y = holes.drop(columns="Status"), holes["Status"].fillna("good")
    model = tiny("gan", random_state=0).fit(X, y)
    lin = model.linear_imputer_
    assert "Status" not in lin.categorical and all(c in X.columns for c in lin.numeric + list(lin.categorical))
    assert model.impute(X).notna().all().all()


def test_calibration_needs_held_out_cells(kind):
    X = np.random.default_rng(0).normal(size=(30, 2))
    X[::3, 1] = np.nan
    model = tiny(kind, random_state=0).fit(X)
    with pytest.warns(UserWarning, match="not calibrated"):
        draws = model.impute(X, n_draws=2, random_state=0)
    np.testing.assert_array_equal(draws[1], model.impute(X, n_draws=2, calibrate=False, random_state=0)[1])
    with pytest.raises(TypeError, match="calibrate"):
        model.impute(X, n_draws=2, calibrate="yes")


def test_calibration_model_that_cannot_be_fitted_is_reported(kind, monkeypatch):
    X = np.random.default_rng(0).normal(size=(200, 2))
    X[::3, 1] = np.nan
    X[1::3, 0] = np.nan                                    # both columns have holes: ~27 cells to hold out
    model = tiny(kind, random_state=0).fit(X)

    def refuse(self, X, y=None):
        raise ValueError("column 'x1' is constant")

    monkeypatch.setattr(type(model), "fit", refuse)
    with pytest.warns(UserWarning, match="cannot be fitted.*constant.*not calibrated"):
        draws = model.impute(X, n_draws=2, random_state=0)
    np.testing.assert_array_equal(draws[0], model.impute(X, n_draws=2, calibrate=False, random_state=0)[0])


# ---------------------------------------------------------------- GenerativeImputer
from imblearn.pipeline import make_pipeline as imb_make_pipeline  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from synthaug import GenerativeImputer  # noqa: E402

from _tiny import TINY  # noqa: E402


def _numeric(seed=0, n=120):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(int)
    X[rng.random(X.shape) < 0.15] = np.nan
    return X, y


@pytest.mark.parametrize("marker", [np.nan, None, pd.NA, -999.0])
def test_missing_values_markers(marker, kind):
    X, _ = _numeric()
    holes = np.isnan(X)
    if not pd.isna(marker):
        X = np.where(holes, marker, X)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    if marker is None or marker is pd.NA:
        frame = frame.astype(object).where(~holes, marker).astype({c: "Float64" if marker is pd.NA else object
                                                                   for c in frame})
        frame = frame.apply(pd.to_numeric)
    imp = GenerativeImputer(tiny(kind, random_state=0), missing_values=marker, random_state=0)
    out = imp.fit_transform(frame)
    assert isinstance(out, pd.DataFrame) and not out.isna().any().any()
    assert not (out == -999.0).any().any()
    assert list(imp.get_feature_names_out()) == ["a", "b", "c"]
    assert not hasattr(imp, "fit_resample")


def test_set_output_pipelines_and_cross_validation(kind):
    X, y = _numeric()
    imp = GenerativeImputer(tiny(kind, random_state=0), random_state=0).set_output(transform="pandas")
    out = imp.fit_transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["x0", "x1", "x2"]
    pd.testing.assert_frame_equal(out, imp.transform(X))          # a fitted imputer is deterministic
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    imp.fit(frame)
    with pytest.raises(ValueError, match="same order"):           # (its output is labelled by position)
        imp.transform(frame[["c", "a", "b"]])
    for factory in (make_pipeline, imb_make_pipeline):
        pipe = factory(GenerativeImputer(tiny(kind, random_state=0)), LogisticRegression())
        scores = cross_val_score(pipe, X, y, cv=3)
        assert scores.shape == (3,) and (scores > 0.5).all()


@parametrize_with_checks([GenerativeImputer(DiffusionSampler(**TINY, random_state=0), random_state=0)],
                         expected_failed_checks=lambda est: {
                             "check_fit2d_1sample": "a single row cannot train the model; fit raises a clear "
                                                    "ValueError"})
def test_imputer_sklearn_compatible(estimator, check):
    check(estimator)


def test_sample_posterior_fills_with_one_draw(kind):
    X, _ = _numeric()
    point = GenerativeImputer(tiny(kind, random_state=0), random_state=0).fit(X)
    draw = GenerativeImputer(tiny(kind, random_state=0), sample_posterior=True, random_state=0).fit(X)
    expected = draw.estimator_.impute(X, n_draws=1, random_state=draw._seed)[0]
    np.testing.assert_array_equal(draw.transform(X), expected)
    np.testing.assert_array_equal(point.transform(X), point.estimator_.impute(X, random_state=point._seed))
    assert not np.array_equal(point.transform(X), draw.transform(X))
    with pytest.raises(ValueError, match="sample_posterior"):
        GenerativeImputer(tiny(kind), sample_posterior="yes").fit(X)


@pytest.mark.parametrize("columns", [None, ["p", "q", "r"]])
def test_a_model_fitted_on_an_array_imputes_a_frame_by_position(columns):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(60, 3))
    holes = pd.DataFrame(data[:5].copy(), columns=columns, index=[7, 3, 9, 1, 4])
    holes.iloc[1, 1] = np.nan
    model = tiny("diffusion", random_state=0).fit(data)
    for filled in (model.impute(holes), model.impute(holes, n_draws=2)[1]):
        assert list(filled.columns) == list(holes.columns) and filled.index.equals(holes.index)
        assert filled.notna().all().all()
        observed = holes.notna().to_numpy()
        np.testing.assert_array_equal(filled.to_numpy()[observed], holes.to_numpy()[observed])


def test_a_table_of_one_column_is_imputed_from_its_own_distribution(kind):
    # no other column to read: the forests, neighbours and regressions have nothing to fit, the model its marginal
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(3.0, 1.0, 200)})
    C = pd.DataFrame({"c": pd.Series(rng.choice(["a", "b"], 200, p=[0.8, 0.2]), dtype=object)})
    for frame in (X, C):
        holed = frame.mask(rng.random(frame.shape) < 0.2)
        before = holed.copy()
        model = tiny(kind, random_state=0).fit(frame)
        out = model.impute(holed)
        draws = model.impute(holed, n_draws=3, calibrate=False)
        assert not out.isna().any().any() and all(not d.isna().any().any() for d in draws)
        kept = holed.notna().to_numpy()[:, 0]
        pd.testing.assert_frame_equal(out[kept], holed[kept])
        pd.testing.assert_frame_equal(holed, before)
    filled = GenerativeImputer(tiny(kind, random_state=0), random_state=0).fit_transform(X.mask(X > 4))
    assert filled.notna().all().all()
