"""The density ratio of real to generated rows and importance resampling by it (``importance_resampling``)."""

import numpy as np
import pandas as pd
import pytest

from synthaug.datasets import load_credit
from synthaug.density_ratio import DensityRatio, TableFeatures, importance_resample
from synthaug.streaming import BLOCK_ROWS

from _tiny import tiny


@pytest.fixture(scope="module")
def credit():
    return load_credit().sample(300, random_state=2).reset_index(drop=True)


def test_table_features_codes_categories_and_dates():
    frame = pd.DataFrame({"a": [1.0, None, 3.0], "c": ["x", "y", "x"],
                          "t": pd.to_datetime(["2020-01-01", None, "2020-01-03"]), "b": [True, False, True]})
    features = TableFeatures(frame)
    assert features.categorical == [False, True, False, True]
    X = features.transform(pd.DataFrame({"a": [2.0], "c": ["unseen"], "t": pd.to_datetime(["2020-01-02"]),
                                         "b": [False]}))
    assert X[0, 0] == 2.0 and np.isnan(X[0, 1])          # a level the frame never had is missing
    assert X[0, 2] == pd.Timestamp("2020-01-02").value
    assert np.isnan(features.transform(frame)[1, [0, 2]]).all()


def test_columns_missing_everywhere_are_left_out():
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"x": rng.normal(0, 1, 300), "empty": np.nan, "none": pd.Series([None] * 300, dtype=object)})
    features = TableFeatures(real)
    assert features.columns == ["x"] and features.transform(real).shape == (300, 1)
    ratio = DensityRatio(real, real.assign(x=rng.normal(1, 1, 300)), random_state=0)
    assert np.isfinite(ratio.weights(real)).all()
    blank = TableFeatures(real[["empty"]])                   # nothing left: one constant feature
    assert blank.transform(real).shape == (300, 1) and not blank.transform(real).any()


def test_table_features_keep_the_most_frequent_levels():
    values = [f"l{i}" for i in range(300) for _ in range(1 + (i < 10))]
    features = TableFeatures(pd.DataFrame({"c": values}))
    assert len(features.categories["c"]) == 254
    assert set(features.categories["c"][:10]) == {f"l{i}" for i in range(10)}


def test_importance_resample_draws_in_proportion_to_the_weights():
    rng = np.random.default_rng(0)
    n = 20_000
    weights = np.r_[np.full(n, 1.0), np.full(n, 3.0)]      # candidate 1 of each row is three times as likely
    pick = importance_resample(weights, 2, rng)
    assert pick.shape == (n,) and np.array_equal(pick % n, np.arange(n))
    assert abs(np.mean(pick >= n) - 0.75) < 0.01
    # a row whose candidates all weigh 0 draws uniformly; a zero-weight candidate is never kept otherwise
    pick = importance_resample(np.r_[np.zeros(n), np.r_[np.zeros(n // 2), np.ones(n // 2)]], 2, rng)
    assert abs(np.mean(pick[: n // 2] >= n) - 0.5) < 0.02 and (pick[n // 2:] >= n).all()


def test_resampling_by_the_ratio_moves_rows_towards_the_real_distribution():
    rng = np.random.default_rng(1)
    real = pd.DataFrame({"x": rng.normal(0, 1, 4000), "c": rng.choice(["a", "b"], 4000, p=[0.8, 0.2])})
    generated = pd.DataFrame({"x": rng.normal(0.5, 2, 4000), "c": rng.choice(["a", "b"], 4000)})
    ratio = DensityRatio(real, generated, random_state=0)
    candidates = pd.DataFrame({"x": rng.normal(0.5, 2, 8 * 4000), "c": rng.choice(["a", "b"], 8 * 4000)})
    w = ratio.weights(candidates)
    assert w.max() <= ratio.clip * w.mean() + 1e-9
    kept = candidates.iloc[importance_resample(w, 8, rng)]
    assert abs(kept["x"].std() - 1) < abs(candidates["x"].std() - 1) / 3
    assert abs(kept["x"].mean()) < 0.2
    assert abs((kept["c"] == "a").mean() - 0.8) < abs((candidates["c"] == "a").mean() - 0.8) / 3


def test_sampler_resamples_its_rows(credit, kind):
    model = tiny(kind, importance_resampling=3, random_state=0).fit(credit)
    assert isinstance(model.density_ratio_, DensityRatio)
    rows = model.sample(50, random_state=1)
    assert rows.shape == (50, credit.shape[1]) and list(rows.columns) == list(credit.columns)
    assert rows.equals(model.sample(50, random_state=1))
    assert not rows.equals(model.set_params(importance_resampling=2).sample(50, random_state=1))
    homes = model.sample(40, conditions={"Home": "rent"}, random_state=2)
    assert (homes["Home"] == "rent").all()
    # a new fit without it drops the ratio
    assert not hasattr(model.set_params(importance_resampling=None).fit(credit), "density_ratio_")


def test_sampler_resamples_under_requested_classes(credit, kind):
    X, y = credit.drop(columns="Status"), credit["Status"]
    model = tiny(kind, importance_resampling=2, random_state=0).fit(X, y)
    labels = ["bad", "good", "bad", "bad", "good"] * 6
    rows, y_rows = model.sample(30, y=labels, random_state=0)
    assert list(y_rows) == labels and len(rows) == 30
    X_res, y_res = model.fit_resample(X, y)
    assert hasattr(model, "density_ratio_")
    counts = y_res.value_counts()
    assert counts["bad"] == counts["good"]
    pd.testing.assert_frame_equal(X_res.iloc[: len(X)], X.reset_index(drop=True))


def test_streamed_rows_do_not_depend_on_the_batch_size(credit, tmp_path, kind):
    pytest.importorskip("pyarrow")
    model = tiny(kind, importance_resampling=2, random_state=0).fit(credit)
    n = BLOCK_ROWS + 7

    def read(paths):
        return pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)

    a = read(model.sample_to(tmp_path / "a.parquet", n, batch_size=1_000, random_state=3))
    b = read(model.sample_to(tmp_path / "b", n, batch_size=n, random_state=3))
    assert len(a) == n
    pd.testing.assert_frame_equal(a, b)


def test_importance_resampling_is_refused_with_epsilon(credit):
    model = tiny("gan", importance_resampling=2, epsilon=5.0)
    with pytest.raises(ValueError, match="importance_resampling"):
        model.fit(credit)
    with pytest.raises(ValueError, match="importance_resampling"):
        tiny("gan", importance_resampling=1).fit(credit)


@pytest.mark.parametrize("helps", [True, False])
def test_auto_resamples_only_fit_resample_and_only_where_it_helps(credit, monkeypatch, helps):
    cls = type(tiny("gan"))
    checked = []

    def check(self, table, rng):
        checked.append(len(table))
        return helps

    monkeypatch.setattr(cls, "_resampling_helps", check)
    X, y = credit.drop(columns="Status"), credit["Status"]
    model = tiny("gan", importance_resampling="auto", random_state=0)
    plain = tiny("gan", importance_resampling=None, random_state=0)
    # fit: no ratio, no check, and sample() gives the plain model's rows
    model.fit(credit)
    assert checked == [] and not hasattr(model, "density_ratio_")
    assert model.sample(30, random_state=1).equals(plain.fit(credit).sample(30, random_state=1))
    # fit_resample: the check on the fold, the ratio kept if it helps, 4 candidates per new row
    X_res, y_res = model.fit_resample(X, y)
    assert checked == [len(credit)]
    assert isinstance(model.density_ratio_, DensityRatio) is helps
    X_plain, y_plain = plain.fit_resample(X, y)
    assert X_res.equals(X_plain) is not helps
    pd.testing.assert_frame_equal(X_res.iloc[: len(X)], X_plain.iloc[: len(X)])
    assert list(y_res) == list(y_plain)
    # sample() of the resampler's model stays plain
    assert model.sample(30, y="bad", random_state=1)[0].equals(plain.sample(30, y="bad", random_state=1)[0])


def test_gan_default_is_auto_and_off_under_epsilon(credit):
    assert type(tiny("gan"))().importance_resampling == "auto"
    assert type(tiny("diffusion"))().importance_resampling is None
    X, y = credit.drop(columns="Status"), credit["Status"].astype(pd.CategoricalDtype(["bad", "good"]))
    model = tiny("gan", epsilon=50.0, pac=1, random_state=0)
    X_res, y_res = model.fit_resample(X, y)   # accepted: "auto" is off with epsilon
    assert not hasattr(model, "density_ratio_") and y_res.value_counts().nunique() == 1


def test_auto_compares_detection_on_the_other_half(credit):
    model = tiny("gan", random_state=0).fit(credit)
    rng = np.random.default_rng(0)
    assert model._resampling_helps(credit, rng) in (True, False)
    assert model._resampling_helps(credit.iloc[:30], rng) is False   # halves of 15 rows: too few to tell
    X, y = credit.drop(columns="Status"), credit["Status"]
    X_res, _ = model.set_params(importance_resampling="auto").fit_resample(X, y)
    assert model.density_ratio_ is None or isinstance(model.density_ratio_, DensityRatio)
    assert len(X_res) == 2 * y.value_counts().max()
