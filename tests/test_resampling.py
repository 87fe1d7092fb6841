"""fit_resample under imbalanced-learn's contract, on both samplers (tiny training)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from imblearn.pipeline import make_pipeline
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from synthaug.datasets import load_credit

from _tiny import tiny


@pytest.fixture(scope="module")
def credit():
    df = load_credit().sample(400, random_state=1).reset_index(drop=True)
    return df.drop(columns="Status"), df["Status"]


def three_classes(n=240, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.repeat(["a", "b", "c"], [166, 47, 27]))[:n]
    X = pd.DataFrame({"u": rng.normal(size=n) + (y == "b"), "v": rng.integers(0, 9, n),
                      "w": pd.Categorical(rng.choice(["p", "q"], n))})
    return X, pd.Series(y, name="label")


def test_unused_categories_of_y_are_not_classes(credit, kind):
    X, y = credit
    y = y.astype(pd.CategoricalDtype(["bad", "good", "unknown"]))
    X_res, y_res = tiny(kind, random_state=0).fit_resample(X, y)
    counts = y_res.value_counts()
    assert counts["bad"] == counts["good"] and counts["unknown"] == 0
    assert y_res.dtype == y.dtype


def test_binary_auto_balances_and_keeps_originals_first(credit, kind):
    X, y = credit
    X_before, y_before = X.copy(), y.copy()
    model = tiny(kind, random_state=0)
    X_res, y_res = model.fit_resample(X, y)
    counts = y.value_counts()
    assert model.sampling_strategy_ == {counts.idxmin(): counts.max() - counts.min()}
    assert y_res.value_counts().nunique() == 1 and len(y_res) == 2 * counts.max()
    assert isinstance(X_res, pd.DataFrame) and isinstance(y_res, pd.Series) and y_res.name == "Status"
    assert X_res.dtypes.equals(X.dtypes) and y_res.dtype == y.dtype
    pd.testing.assert_frame_equal(X_res.iloc[: len(X)], X.reset_index(drop=True))
    pd.testing.assert_series_equal(y_res.iloc[: len(y)], y.reset_index(drop=True))
    assert (y_res.iloc[len(y):] == counts.idxmin()).all()
    pd.testing.assert_frame_equal(X, X_before)          # nothing the caller gave is touched
    pd.testing.assert_series_equal(y, y_before)


@pytest.mark.parametrize("strategy, expected", [
    ("auto", {"b": 119, "c": 139}),
    ("not majority", {"b": 119, "c": 139}),
    ("minority", {"c": 139}),
    ("not minority", {"a": 0, "b": 119}),
    ("all", {"a": 0, "b": 119, "c": 139}),
    ({"b": 100, "c": 50}, {"b": 53, "c": 23}),
    (lambda y: {"c": int((y == "c").sum()) * 2}, {"c": 27}),
])
def test_sampling_strategies_mean_what_they_mean_in_imblearn(strategy, expected):
    X, y = three_classes()
    counts = y.value_counts()
    assert dict(counts) == {"a": 166, "b": 47, "c": 27}
    model = tiny("diffusion", sampling_strategy=strategy, random_state=0)
    X_res, y_res = model.fit_resample(X, y)
    assert dict(model.sampling_strategy_) == expected
    assert dict(y_res.value_counts()) == {k: counts[k] + expected.get(k, 0) for k in counts.index}
    assert X_res["w"].dtype == X["w"].dtype and set(X_res["w"]) <= {"p", "q"}


def test_float_strategy_binary_and_ndarray_in_ndarray_out(kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (rng.random(200) < 0.15).astype(int)
    n_min, n_maj = np.bincount(y)[1], np.bincount(y)[0]
    X_res, y_res = tiny(kind, sampling_strategy=0.5, random_state=0).fit_resample(X, y)
    assert isinstance(X_res, np.ndarray) and isinstance(y_res, np.ndarray)
    assert X_res.dtype == X.dtype and y_res.dtype == y.dtype and X_res.shape[1] == 3
    assert np.array_equal(X_res[:200], X) and np.array_equal(y_res[:200], y)
    assert np.bincount(y_res)[1] == max(n_min, int(round(0.5 * n_maj)))


@pytest.mark.parametrize("make_y, strategy, match", [
    (lambda y: y.iloc[:-1], "auto", "labels"),
    (lambda y: pd.Series(["a"] * len(y)), "auto", "single class"),
    (lambda y: pd.Series(["a"] * (len(y) - 1) + ["b"]), "auto", "'b'.*single row"),
    (lambda y: y.where(y.index > 2), "auto", "missing"),
    (lambda y: y, {"a": 10}, "greater or equal"),
    (lambda y: y, 0.5, "binary"),
])
def test_bad_resampling_input_is_named(make_y, strategy, match):
    X, y = three_classes()
    with pytest.raises(ValueError, match=match):
        tiny("diffusion", sampling_strategy=strategy).fit_resample(X, make_y(y))


def _classifier():
    pre = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["Home", "Marital", "Records", "Job"]),
                                  remainder=StandardScaler())
    return make_pipeline(pre, LogisticRegression(max_iter=300))


def test_in_an_imblearn_pipeline_with_cross_validation_and_grid_search(credit, kind):
    X, y = credit
    X = X.fillna(X.median(numeric_only=True))
    pipe = make_pipeline(tiny(kind, random_state=0), _classifier())
    scores = cross_val_score(pipe, X, y, cv=StratifiedKFold(3, shuffle=True, random_state=0),
                             scoring="balanced_accuracy")
    assert scores.shape == (3,) and np.isfinite(scores).all()
    step = pipe.steps[0][0]
    grid = GridSearchCV(pipe, {f"{step}__max_steps": [2, 4]}, cv=2, scoring="balanced_accuracy").fit(X, y)
    assert grid.best_params_[f"{step}__max_steps"] in (2, 4)
    # resampling happens only while fitting: predicting sees the rows it is given
    assert len(grid.predict(X.iloc[:7])) == 7


def test_quality_filter_keeps_the_most_plausible_rows(kind):
    X, y = three_classes()
    model = tiny(kind, quality_filter=0.5, random_state=0)
    X_res, y_res = model.fit_resample(X, y)
    assert dict(y_res.value_counts()) == {"a": 166, "b": 166, "c": 166}
    pd.testing.assert_frame_equal(X_res.iloc[: len(X)], X)
    assert X_res.dtypes.equals(X.dtypes)


def test_plausibility_filter_ranks_by_class_probability():
    from synthaug.resampling import PlausibilityFilter

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"u": np.r_[rng.normal(0, 1, 100), rng.normal(4, 1, 100)],
                      "t": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 9, 200), unit="D"),
                      "c": pd.Categorical(rng.choice(["p", "q"], 200))})
    y = np.repeat(["lo", "hi"], 100)
    flt = PlausibilityFilter(X, y, random_state=0)
    cand = pd.DataFrame({"u": [4.0, 0.0, 8.0, -3.0], "t": X["t"].iloc[:4].to_numpy(),
                         "c": pd.Categorical(["p", "q", "zzz", None])})   # unseen and missing levels are fine
    assert flt.keep(cand, "hi", 2).tolist() == [0, 2]
    assert flt.keep(cand, "lo", 2).tolist() == [1, 3]


def test_a_column_constant_in_a_fold_is_resampled_as_a_constant(kind):
    """A rare flag constant in one training fold must not fail the fold (RandomOverSampler's behaviour)."""
    X, y = three_classes()
    X = X.assign(flag=0, empty=np.nan, tag="x")
    X_res, y_res = tiny(kind, random_state=0).fit_resample(X, y)
    new = X_res.iloc[len(X):]
    assert len(new) > 0 and (new["flag"] == 0).all() and new["empty"].isna().all() and (new["tag"] == "x").all()
    assert X_res.dtypes.equals(X.dtypes)
    with pytest.raises(ValueError, match="'flag' of X is constant"):      # fit itself still names it
        tiny(kind).fit(X, y)
    X.loc[7, "flag"] = 1                                                   # five folds, one of them without the 1
    scores = cross_val_score(make_pipeline(tiny(kind, random_state=0), LogisticRegression()),
                             X[["u", "v", "flag"]], y, cv=StratifiedKFold(5), error_score="raise")
    assert np.isfinite(scores).all()


def test_a_failed_fit_resample_leaves_no_fitted_state(kind):
    X, y = three_classes()
    model = tiny(kind, quality_filter=1.5)
    with pytest.raises(ValueError, match="quality_filter"):
        model.fit_resample(X, y)
    assert not hasattr(model, "sampling_strategy_") and not hasattr(model, "encoder_")
    model.set_params(quality_filter=None).fit_resample(X, y)
    model.fit(X, y)                                                        # a plain fit forgets the strategy
    assert not hasattr(model, "sampling_strategy_")


def test_targets_that_are_not_class_labels_are_named():
    X, _ = three_classes()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="continuous values"):
        tiny("diffusion").fit_resample(X, rng.normal(size=len(X)))
    with pytest.raises(TypeError, match="mixes label types \\(int, str\\)"):
        tiny("diffusion").fit_resample(X, pd.Series([1, "zero"] * (len(X) // 2), dtype=object))


def test_datetime_and_interval_labels_resample_with_and_without_the_filter():
    X, y = three_classes()
    stamps = y.map({"a": pd.Timestamp("2020-01-01"), "b": pd.Timestamp("2021-01-01"),
                    "c": pd.Timestamp("2022-01-01")}).astype("datetime64[ns]")
    _, y_res = tiny("diffusion", random_state=0).fit_resample(X, stamps)
    assert y_res.dtype == stamps.dtype and y_res.value_counts().nunique() == 1
    bins = pd.Series(pd.cut(X["u"], [-10, 0, 0.5, 10]))
    _, y_res = tiny("gan", random_state=0, quality_filter=0.5).fit_resample(X, bins)
    assert y_res.value_counts().nunique() == 1


def test_quality_filter_takes_a_column_of_many_levels():
    X, y = three_classes()
    X, y = pd.concat([X, X], ignore_index=True), pd.concat([y, y], ignore_index=True)
    X = X.assign(city=[f"c{i % 300}" for i in range(len(X))])             # 300 levels: more than HGB takes
    X_res, y_res = tiny("diffusion", random_state=0, quality_filter=0.5).fit_resample(X, y)
    assert y_res.value_counts().nunique() == 1 and set(X_res["city"]) <= set(X["city"])


def test_class_neighbourhood_check_turns_away_rows_in_another_class_region():
    from synthaug.resampling import ClassNeighbourhoodCheck

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"u": np.r_[rng.normal(0, 1, 200), rng.normal(8, 1, 20)],
                      "c": pd.Categorical(np.r_[rng.choice(["p", "q"], 200), ["q"] * 20]),
                      "t": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 99, 220), unit="D")})
    X.loc[3, "u"] = np.nan                                            # missing cells take part too
    y = np.array(["big"] * 200 + ["small"] * 20, dtype=object)
    check = ClassNeighbourhoodCheck(X, y)
    assert check.threshold("small") > 0
    candidates = pd.DataFrame({"u": [8.1, 0.2, np.nan], "c": pd.Categorical(["q", "p", "q"]),
                               "t": pd.to_datetime(["2020-02-01"] * 3)})
    assert check.passes(candidates, "small").tolist() == [True, False, False]
    shares = check.assess(candidates, "big")[1]
    assert shares[1] == 1.0 and shares[0] == 0.0


def test_class_neighbourhood_check_changes_nothing_where_the_classes_overlap():
    from synthaug.resampling import ClassNeighbourhoodCheck

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"u": rng.normal(size=300)})
    y = rng.choice(["a", "b"], 300, p=[0.8, 0.2])                       # the class says nothing about u
    check = ClassNeighbourhoodCheck(X, y)
    assert check.threshold("b") == 0.0                                 # the share turns no row away
    # rows drawn like the real ones fail (by their distance) about as often as the real rows do
    fails = ~check.passes(pd.DataFrame({"u": rng.normal(size=2_000)}), "b")
    assert 0.0 < fails.mean() <= 0.15 and 0.0 < check.tolerance("b") <= 0.2


def test_class_neighbourhood_check_turns_away_rows_far_from_a_small_class():
    """A class of 8 rows between two large ones: the share turns nothing away (real rows of it have no
    neighbour of it), but a row of it in another class's region is further from all of them than they are
    from each other, and nearer the other class's rows: astray. One far past every row, where no class is,
    passes."""
    from synthaug.resampling import ClassNeighbourhoodCheck

    rng = np.random.default_rng(2)
    X = pd.DataFrame({"u": np.r_[rng.normal(0, 1, 100), rng.normal(4, 1, 100), rng.normal(2, 0.6, 8)]})
    y = np.array(["low"] * 100 + ["high"] * 100 + ["middle"] * 8, dtype=object)
    check = ClassNeighbourhoodCheck(X, y)
    assert check.threshold("middle") == 0.0 and check.real_fail_rates_[check.classes_.get_loc("middle")] == 0.0
    assert check.tolerance("middle") == 2 * check.quantile       # (no real row of it fails: the floor)
    ok, margin = check.assess(pd.DataFrame({"u": [2.0, -2.5, 6.5]}), "middle")
    assert ok.tolist() == [True, False, False] and margin[0] >= 1.0 > margin[1:].max()
    # far off in a second column, above the middle rows: no other class's row is nearer
    u = np.r_[rng.normal(-3, 0.5, 100), rng.normal(3, 0.5, 100), rng.normal(0, 0.3, 8)]
    two = pd.DataFrame({"u": np.r_[u, [0.0]], "v": np.r_[np.zeros(len(u)), [30.0]]})
    assert ClassNeighbourhoodCheck(two.iloc[:-1], y).passes(two.iloc[-1:], "middle").all()


def test_class_neighbourhood_check_sets_no_distance_where_real_rows_repeat():
    """Categorical rows that nearly all repeat another row of their class: their distances are 0, which gives no
    limit, so a new combination of levels is not turned away for being no copy."""
    from synthaug.resampling import ClassNeighbourhoodCheck

    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.choice(["x", "y"], 400), "b": rng.choice(["u", "v", "w"], 400)})
    y = np.where(rng.random(400) < 0.3, "rare", "common")
    check = ClassNeighbourhoodCheck(X, y)
    assert np.isinf(check.distance_limits_).all()
    assert check.passes(pd.DataFrame({"a": ["x", "y"], "b": ["w", "u"]}), "rare").all()


@pytest.mark.parametrize("kind", ["diffusion", "gan"])
def test_auto_quality_filter_gives_exactly_the_rows_asked_even_when_few_pass(kind, monkeypatch):
    from synthaug.resampling import ClassNeighbourhoodCheck

    X, y = three_classes()
    counts = y.value_counts()
    model = tiny(kind, random_state=0)
    assert model.get_params()["quality_filter"] == "auto"
    # a check no candidate passes: every row then comes from the rejected candidates of the highest share
    real_init = ClassNeighbourhoodCheck.__init__

    def strict(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self.thresholds_ = np.full(len(self.thresholds_), 2.0)

    monkeypatch.setattr(ClassNeighbourhoodCheck, "__init__", strict)
    X_res, y_res = model.fit_resample(X, y)
    assert pd.Series(y_res).value_counts().eq(counts.max()).all()
    assert X_res.dtypes.equals(X.dtypes) and X_res.iloc[: len(X)].equals(X)
    monkeypatch.undo()
    # under DP the check (which reads the real rows outside the budget) is off, and the default is accepted
    y_declared = y.astype(pd.CategoricalDtype(["a", "b", "c"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # (the public bounds DP asks for are not the point here)
        dp = tiny(kind, epsilon=50.0, random_state=0, **({"pac": 1} if kind == "gan" else {}))
        X_dp, y_dp = dp.fit_resample(X, y_declared)
    assert pd.Series(y_dp).value_counts().eq(counts.max()).all()


@pytest.mark.parametrize("kind", ["diffusion", "gan"])
def test_auto_quality_filter_keeps_the_models_rows_when_they_fail_no_more_than_real_rows(kind, monkeypatch):
    from synthaug.resampling import ClassNeighbourhoodCheck

    X, y = three_classes()
    real_init = ClassNeighbourhoodCheck.__init__

    def lenient(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self.thresholds_ = np.zeros(len(self.thresholds_))        # every row passes
        self.distance_limits_ = np.full(len(self.thresholds_), np.inf)

    monkeypatch.setattr(ClassNeighbourhoodCheck, "__init__", lenient)
    X_auto, y_auto = tiny(kind, random_state=0).fit_resample(X, y)
    X_none, y_none = tiny(kind, random_state=0, quality_filter=None).fit_resample(X, y)
    pd.testing.assert_frame_equal(X_auto, X_none)
    assert np.array_equal(np.asarray(y_auto), np.asarray(y_none))
