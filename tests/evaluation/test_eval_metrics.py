"""synthaug's own figures: detection, ML efficacy, distances, copies, associations."""

import numpy as np
import pandas as pd
import pytest
from _tables import make_table, noise_like
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes

from synthaug.evaluation.metrics import (
    association_matrix,
    dcr_closer_to_train_share,
    detection_auc,
    exact_copy_share,
    ml_efficacy,
)


def test_detection_same_population_is_near_half(train, fresh):
    assert abs(detection_auc(fresh, train, random_state=0) - 0.5) < 0.1


def test_detection_noise_is_near_one(train):
    assert detection_auc(train, noise_like(train)) > 0.97


def test_detection_sees_a_single_broken_column(train, fresh):
    broken = fresh.assign(debt=fresh["debt"] + 0.5)  # no zeros left: the spike is gone
    assert detection_auc(train, broken) > 0.9


@pytest.mark.parametrize("n", [20, 40])
def test_detection_of_a_few_dozen_rows_sees_a_shift(n):
    # with scikit-learn's 20-row leaves a fold of fewer than 40 rows could not split: AUC 0.5 for any tables
    rng = np.random.default_rng(0)
    real, shifted = pd.DataFrame({"x": rng.normal(size=n)}), pd.DataFrame({"x": rng.normal(size=n) + 6})
    assert detection_auc(real, shifted) > 0.9
    assert abs(detection_auc(real, pd.DataFrame({"x": rng.normal(size=n)})) - 0.5) < 0.25


def test_detection_balances_classes_and_is_seeded(train, fresh):
    auc, details = detection_auc(train, fresh.iloc[:100], random_state=3, return_details=True)
    assert details["n_per_class"] == 100
    assert np.bincount(details["y_true"]).tolist() == [100, 100]
    assert len(details["fold_auc"]) == 5
    assert auc == detection_auc(train, fresh.iloc[:100], random_state=3)


def test_ml_efficacy_binary(train, holdout, fresh):
    out = ml_efficacy(train, fresh, holdout, "y")
    assert out["metric"] == "roc_auc"
    assert out["ml_efficacy_real"] > 0.75
    assert abs(out["ml_efficacy_gap"]) < 0.08
    assert out["ml_efficacy_gap"] == pytest.approx(
        out["ml_efficacy_real"] - out["ml_efficacy_synthetic"])


def test_ml_efficacy_synthetic_missing_a_class(train, holdout, fresh):
    one_class = fresh[fresh["y"] == "good"]
    out = ml_efficacy(train, one_class, holdout, "y")
    assert out["ml_efficacy_synthetic"] == 0.5
    assert out["ml_efficacy_gap"] > 0.2


def test_ml_efficacy_multiclass_missing_a_class(train, holdout, fresh):
    # color has three levels (and missing values, which are dropped as targets).
    out = ml_efficacy(train, fresh[fresh["color"] != "blue"], holdout, "color")
    assert out["metric"] == "roc_auc_ovr"
    assert 0.5 <= out["ml_efficacy_synthetic"] < out["ml_efficacy_real"]


def test_ml_efficacy_regression(train, holdout, fresh):
    out = ml_efficacy(train, fresh, holdout, "x")
    assert out["metric"] == "r2"
    assert out["ml_efficacy_real"] > 0.6  # z ≈ 2x
    noise = ml_efficacy(train, noise_like(fresh), holdout, "x")
    assert noise["ml_efficacy_synthetic"] < 0.2


def test_ml_efficacy_single_class_holdout_is_none(train, holdout):
    assert ml_efficacy(train, train, holdout[holdout["y"] == "good"], "y") is None


def test_dcr_copy_of_train_is_one():
    train, holdout = make_table(200, 0), make_table(200, 1)
    assert dcr_closer_to_train_share(train, holdout, train.copy()) == 1.0


def test_dcr_fresh_sample_is_near_half(train, holdout, fresh):
    share, details = dcr_closer_to_train_share(train, holdout, fresh, return_details=True)
    assert abs(share - 0.5) < 0.08
    assert details["dcr_train"].shape == (len(fresh),)
    assert np.all(details["dcr_holdout"] >= 0)


def test_dcr_subsamples_the_larger_table():
    train, holdout = make_table(400, 0), make_table(100, 1)
    share, details = dcr_closer_to_train_share(train, holdout, train, return_details=True)
    assert details["n_compared"] == 100
    # A quarter of the copies are of kept training rows, the rest land near either set.
    assert 0.55 < share < 0.75


@pytest.mark.parametrize("sizes", [(60, 20), (20, 60)])
@pytest.mark.parametrize("discrete", [False, True])
def test_dcr_share_is_the_mean_over_subsamples(sizes, discrete):
    # the exact expectation equals the average share over random subsamples of the larger set
    # (ties included: rows on a small grid)
    from sklearn.neighbors import NearestNeighbors

    from synthaug.evaluation.metrics import _expected_closer_share

    rng = np.random.default_rng(3)

    def rows(n):
        return rng.integers(0, 3, (n, 2)).astype(float) if discrete else rng.normal(size=(n, 2))

    X_train, X_hold, X_synth = rows(sizes[0]), rows(sizes[1]), rows(30)

    def nearest(X):
        return NearestNeighbors(n_neighbors=1).fit(X).kneighbors(X_synth)[0][:, 0]

    shares = []
    for _ in range(2000):
        d_train, d_hold = (nearest(X[rng.choice(len(X), 20, replace=False)]) for X in (X_train, X_hold))
        shares.append(np.mean(np.where(np.isclose(d_train, d_hold), 0.5, d_train < d_hold)))
    shares = np.array(shares)
    assert shares.std() > 0.01                     # one subsample moves the figure...
    # (the helper takes the distances to the smaller set and gives each row's share closer to the larger one)
    train_larger = len(X_train) > len(X_hold)
    small, large = (X_hold, X_train) if train_larger else (X_train, X_hold)
    closer_large = _expected_closer_share(nearest(small), large, X_synth, 20)
    expected = np.mean(closer_large if train_larger else 1.0 - closer_large)
    assert abs(expected - shares.mean()) < 4 * shares.std() / np.sqrt(len(shares)) + 1e-9   # ...not its mean


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n_levels=st.integers(2, 4), n_cat=st.integers(7, 12))
def test_counts_within_a_radius_by_blocks_equal_the_trees(seed, n_levels, n_cat):
    # wide one-hot rows with repeats and copies: the block scan counts what a k-d tree counts, also a hair
    # either side of a distance (as the share asks; exactly at one, the two distance computations' last bit decides)
    from sklearn.neighbors import KDTree, NearestNeighbors

    from synthaug.evaluation.metrics import _count_within

    rng = np.random.default_rng(seed)
    n, q = 150, 40
    codes = rng.integers(0, n_levels, (n + q, n_cat))
    X = np.hstack([np.eye(n_levels)[codes[:, j]] for j in range(n_cat)] + [rng.integers(0, 4, (n + q, 2)) / 3])
    X[n: n + 5] = X[:5]                                   # exact copies
    reference, queries = X[:n], X[n:]
    assert X.shape[1] > 15                                # the block scan's side of the cut-off
    d = NearestNeighbors(n_neighbors=1).fit(reference).kneighbors(queries)[0][:, 0]
    tree = KDTree(reference)
    radii = (d + 1e-12 + 1e-9 * d, np.maximum(d - 1e-12 - 1e-9 * d, 0), d + rng.random(q))
    counts = _count_within(reference, queries, *radii, block_cells=1_000)
    for radius, count in zip(radii, counts):
        assert np.array_equal(count, tree.query_radius(queries, radius, count_only=True))


def test_dcr_share_of_a_wide_table_is_the_same_by_blocks_and_by_tree(monkeypatch):
    from synthaug.evaluation import metrics

    rng = np.random.default_rng(0)

    def table(n):
        return pd.DataFrame({f"c{j}": rng.choice(list("abcd"), n) for j in range(8)}).assign(x=rng.normal(size=n))

    train, holdout = table(300), table(120)
    synthetic = pd.concat([table(150), train.iloc[:30]], ignore_index=True)   # some copies: ties at distance 0
    by_blocks = dcr_closer_to_train_share(train, holdout, synthetic)
    monkeypatch.setattr(metrics, "_TREE_MAX_COLUMNS", 10_000)
    assert dcr_closer_to_train_share(train, holdout, synthetic) == by_blocks


def test_dcr_share_does_not_depend_on_the_seed():
    train, holdout = make_table(300, 0), make_table(100, 1)
    synthetic = make_table(200, 2)
    share, details = dcr_closer_to_train_share(train, holdout, synthetic, return_details=True)
    other, details_7 = dcr_closer_to_train_share(train, holdout, synthetic, random_state=7, return_details=True)
    assert share == other
    assert details["subsample_share"] != details_7["subsample_share"]   # one subsample's share does


def test_dcr_standard_error_is_the_spread_of_synthetic_samples():
    # fixed train and holdout; many synthetic samples from one distribution: their shares spread as the SE says
    train, holdout, pool = make_table(200, 0), make_table(100, 1), make_table(20_000, 2)
    rng = np.random.default_rng(0)
    shares, ses = [], []
    for _ in range(150):
        synthetic = pool.iloc[rng.choice(len(pool), 80, replace=False)]
        share, details = dcr_closer_to_train_share(train, holdout, synthetic, return_details=True)
        shares.append(share)
        ses.append(details["share_se"])
    assert 0.75 < np.std(shares, ddof=1) / np.mean(ses) < 1.3
    # a copy of a training table as large as the holdout: every row is closer to its own training row, no spread
    _, copy = dcr_closer_to_train_share(train, make_table(200, 3), train.copy(), return_details=True)
    assert copy["share_se"] == 0.0
    _, one = dcr_closer_to_train_share(train, holdout, pool.iloc[:1], return_details=True)
    assert np.isnan(one["share_se"])


def test_dcr_ties_count_half():
    train = pd.DataFrame({"a": ["x", "y"], "b": [1.0, 2.0]})
    holdout = train.copy()
    assert dcr_closer_to_train_share(train, holdout, train) == 0.5


def test_exact_copies_nan_equals_nan():
    train = pd.DataFrame({"x": [1.0, np.nan, 3.0], "c": ["a", None, "c"]})
    synth = pd.DataFrame({"x": [np.nan, 1.0, 3.0, 3.0], "c": [None, "a", "c", "d"]})
    assert exact_copy_share(train, synth) == 0.75
    assert exact_copy_share(train, synth.assign(x=synth["x"] + 1e-9)) == 0.25


def test_exact_copies_match_across_dtypes():
    train = pd.DataFrame({"n": [1, 2], "c": pd.Categorical(["a", "b"]), "f": [True, False]})
    synth = pd.DataFrame({"n": [1.0, 2.0], "c": ["a", "x"], "f": pd.array([True, False])})
    assert exact_copy_share(train, synth) == 0.5


def test_exact_copies_of_fresh_data_are_rare(train, fresh):
    assert exact_copy_share(train, fresh) == 0.0
    assert exact_copy_share(train, pd.concat([train.iloc[:30], fresh.iloc[:90]])) == 0.25


def test_association_matrix_known_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    df = pd.DataFrame({
        "x": x,
        "neg": -x ** 3,                                   # monotone: Spearman -1
        "sign": np.where(x > 0, "pos", "neg"),            # determined by x
        "copy": np.where(x > 0, "P", "N"),                # same partition as sign
        "indep": rng.choice(["u", "v"], 500),
    })
    m = association_matrix(df)
    assert m.loc["x", "neg"] == pytest.approx(-1.0)
    assert m.loc["sign", "copy"] == pytest.approx(1.0, abs=0.01)
    assert m.loc["x", "sign"] > 0.75  # η of a median split of a normal ≈ 0.80
    assert m.loc["indep", "sign"] < 0.1 and m.loc["indep", "x"] < 0.15
    np.testing.assert_allclose(m.to_numpy(), m.to_numpy().T)


def test_correlation_ratio_of_an_unrelated_many_level_column_is_near_zero():
    """Uncorrected, 250 group means of 1,000 noise values explain a quarter of their variance (η ≈ 0.5)."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=1000), "id": rng.integers(0, 250, 1000).astype(str)})
    assert association_matrix(df).loc["x", "id"] < 0.3      # (η is a square root: noise in η² of ~0.02 shows)
    related = df.assign(x=df["id"].astype(int) + rng.normal(size=1000))
    assert association_matrix(related).loc["x", "id"] > 0.95


def test_association_constant_float_column_is_nan():
    # Regression (found by the property test below): the std of identical floats
    # came out as ~1e-11 instead of 0, and the correlation ratio as 2.
    df = pd.DataFrame({"f": [199729.223516] * 20, "c": ["a", "b"] * 10})
    m = association_matrix(df)
    assert np.isnan(m.loc["f", "c"]) and np.isnan(m.loc["f", "f"])


def test_association_matrix_constant_column_is_nan():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "k": [5.0] * 4, "c": list("abab")})
    m = association_matrix(df)
    assert np.isnan(m.loc["k", "k"]) and np.isnan(m.loc["x", "k"])


# --------------------------------------------------------------------------- properties
_frames = data_frames(
    [
        column("f", elements=st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False))),
        column("c", elements=st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))),
        column("b", dtype=bool),
    ],
    index=range_indexes(min_size=3, max_size=30),
)


@settings(max_examples=30, deadline=None)
@given(frame=_frames, seed=st.integers(0, 2**16))
def test_copies_survive_row_and_column_shuffles(frame, seed):
    shuffled = frame.sample(frac=1.0, random_state=seed)[["b", "c", "f"]]
    assert exact_copy_share(frame, shuffled) == 1.0
    meta = {"columns": {"f": {"sdtype": "numerical"}, "c": {"sdtype": "categorical"},
                        "b": {"sdtype": "categorical"}}}
    assert dcr_closer_to_train_share(frame, frame, shuffled, metadata=meta) == 0.5


@settings(max_examples=30, deadline=None)
@given(frame=_frames)
def test_association_matrix_is_symmetric_and_bounded(frame):
    meta = {"columns": {"f": {"sdtype": "numerical"}, "c": {"sdtype": "categorical"},
                        "b": {"sdtype": "categorical"}}}
    m = association_matrix(frame, metadata=meta).to_numpy()
    np.testing.assert_array_equal(np.isnan(m), np.isnan(m.T))
    np.testing.assert_allclose(np.nan_to_num(m), np.nan_to_num(m.T))
    finite = m[np.isfinite(m)]
    assert np.all((finite >= -1 - 1e-9) & (finite <= 1 + 1e-9))


def test_the_real_model_of_ml_efficacy_does_not_depend_on_the_synthetic_table():
    # the categories' codes are ranked on the real rows: a synthetic table full of one level and one class
    # (which would reorder frequency-ranked codes) leaves the train-on-real score as it is
    rng = np.random.default_rng(0)

    def table(n):
        a, b = rng.choice(list("abcdefgh"), n), rng.choice(list("pqrstu"), n)
        y = np.where((a < "e") ^ (b < "s"), "yes", "no")
        y = np.where(rng.random(n) < 0.1, "maybe", y)
        return pd.DataFrame({"a": a, "b": b, "x": rng.normal(size=n), "y": y})

    train, holdout = table(10_500), table(400)          # (over 10,000 rows the boosting stops early: a split by class)
    skewed = pd.concat([train, train.iloc[:1].assign(a="h", b="u", y="maybe")], ignore_index=True)
    skewed = pd.concat([skewed] + [skewed.iloc[-1:]] * 25_000, ignore_index=True)
    plain = ml_efficacy(train, train, holdout, "y")["ml_efficacy_real"]
    assert ml_efficacy(train, skewed, holdout, "y")["ml_efficacy_real"] == plain
    assert ml_efficacy(train, table(200), holdout, "y")["ml_efficacy_real"] == plain


def test_shared_codes_of_the_ranking_frames_ignore_the_others():
    from synthaug.evaluation._encoding import shared_codes

    real = pd.DataFrame({"c": ["b", "a", "b", None, "c", "a"]})
    synth_1 = pd.DataFrame({"c": ["c"] * 50 + ["z"]})
    synth_2 = pd.DataFrame({"c": ["a", "z", "z", "y"]})
    (r1, s1), n1 = shared_codes([real, synth_1], "c", rank_by=[0])
    (r2, s2), n2 = shared_codes([real, synth_2], "c", rank_by=[0])
    assert r1.tolist() == r2.tolist() == [0, 1, 0, -1, 2, 1]    # b, a (tie: first seen), c; missing -1
    assert s1.tolist() == [2] * 50 + [3] and s2.tolist() == [1, 3, 3, 4] and (n1, n2) == (4, 5)
    (all_codes, _), _ = shared_codes([real, synth_1], "c")        # default: ranked on every frame
    assert all_codes.tolist() == [1, 2, 1, -1, 0, 2]
