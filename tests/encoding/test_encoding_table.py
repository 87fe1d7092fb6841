"""TableEncoder: the round trip, decoding of random model output, errors, generated frames."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes

from synthaug.encoding import EncodedTable, TableEncoder, infer_column_kind

N = 300


def _with_missing(rng, values, rate=0.15):
    values = pd.Series(values)
    return values.mask(rng.random(len(values)) < rate)


def mixed_frame(n=N, seed=0):
    """One column per dtype the encoder promises to round-trip, with the shapes real tables have."""
    rng = np.random.default_rng(seed)
    day = pd.Timestamp("2021-03-01")
    return pd.DataFrame({
        "float": _with_missing(rng, rng.normal(size=n)),
        "float32": rng.normal(size=n).astype(np.float32),
        "money": np.round(rng.gamma(2.0, 100.0, n), 2),
        "big_money": np.round(rng.uniform(1e6, 5e6, n), 2),       # cents on large amounts
        "zero_inflated": np.where(rng.random(n) < 0.6, 0.0, np.round(rng.gamma(2.0, 50.0, n))),
        "sentinel": np.where(rng.random(n) < 0.1, -999.0, rng.normal(40.0, 5.0, n)),
        "int8": rng.integers(-128, 128, n).astype(np.int8),
        "int16": rng.integers(-30_000, 30_000, n).astype(np.int16),
        "int32": rng.integers(0, 40, n).astype(np.int32),
        "int64": rng.integers(-(2 ** 40), 2 ** 40, n),
        "uint8": rng.integers(0, 256, n).astype(np.uint8),
        "uint64": rng.integers(0, 2 ** 40, n).astype(np.uint64),
        "Int64": pd.array(_with_missing(rng, rng.integers(0, 9, n)), dtype="Int64"),
        "UInt16": pd.array(_with_missing(rng, rng.integers(0, 60_000, n)), dtype="UInt16"),
        "Float64": pd.array(_with_missing(rng, rng.normal(size=n)), dtype="Float64"),
        "boolean": pd.array(_with_missing(rng, rng.random(n) < 0.4).astype(object), dtype="boolean"),
        "string": pd.array(_with_missing(rng, rng.choice(["x", "y", "z"], n)), dtype="string"),
        "bool": rng.random(n) < 0.3,
        "object": pd.Series(rng.choice(np.array(["a", "b", "c", None], dtype=object), n)),
        "mixed_object": pd.Series(rng.choice(np.array([1, "one", 2.5, None], dtype=object), n)),
        "category": pd.Categorical(rng.choice(["lo", "mid", "hi"], n),
                                   categories=["lo", "mid", "hi", "unused"], ordered=True),
        "category_nan": pd.Categorical(rng.choice(np.array(["p", "q", None], dtype=object), n),
                                       categories=["q", "p"]),
        "category_int": pd.Categorical(rng.choice([3, 1, 2], n), categories=[3, 2, 1]),
        "date": day + pd.to_timedelta(rng.integers(0, 3650, n), unit="D"),
        "datetime_nat": _with_missing(rng, day + pd.to_timedelta(rng.integers(0, 10 ** 8, n), unit="s")),
        "datetime_ms": day + pd.to_timedelta(rng.integers(0, 10 ** 11, n), unit="ms"),
        "datetime_tz": (day + pd.to_timedelta(rng.integers(0, 10 ** 8, n), unit="s"))
                       .tz_localize("Europe/Paris", ambiguous="NaT", nonexistent="NaT"),
        "datetime_s_unit": (day + pd.to_timedelta(rng.integers(0, 10 ** 6, n), unit="s"))
                           .astype("datetime64[s]"),
        "constant": np.full(n, 7.5),
        "constant_str": np.full(n, "same", dtype=object),
        "all_nan": np.full(n, np.nan),
        "all_none": pd.Series([None] * n, dtype=object),
    })


FRAME = mixed_frame()
INTEGER_COLUMNS = ["int8", "int16", "int32", "int64", "uint8", "uint64", "Int64", "UInt16"]
DATETIME_COLUMNS = ["date", "datetime_nat", "datetime_ms", "datetime_tz", "datetime_s_unit"]
NUMERIC_COLUMNS = ["float", "float32", "money", "big_money", "zero_inflated", "sentinel", "Float64",
                   "constant", *INTEGER_COLUMNS]
CATEGORICAL_COLUMNS = ["boolean", "string", "bool", "object", "mixed_object", "category", "category_nan",
                       "category_int", "constant_str"]


def test_frame_covers_every_column_once():
    assert sorted(FRAME.columns) == sorted(
        NUMERIC_COLUMNS + DATETIME_COLUMNS + CATEGORICAL_COLUMNS + ["all_nan", "all_none"])


@pytest.fixture(scope="module")
def encoder():
    return TableEncoder().fit(FRAME)


# ----------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("random_state", [None, 0])
def test_round_trip_is_exact(encoder, random_state):
    """Values, dtypes, categories (and their order), NaN positions and time zones come back exactly."""
    table = encoder.transform(FRAME, random_state=random_state)
    out = encoder.inverse_transform(table)
    pd.testing.assert_frame_equal(out, FRAME, check_exact=True)


@pytest.mark.parametrize("name", list(FRAME.columns))
def test_round_trip_is_exact_column_by_column(name):
    df = FRAME[[name]]
    enc = TableEncoder().fit(df)
    pd.testing.assert_frame_equal(enc.inverse_transform(enc.transform(df, random_state=1)), df,
                                  check_exact=True)


def test_categorical_dtype_keeps_categories_order_and_unused_levels(encoder):
    out = encoder.inverse_transform(encoder.transform(FRAME))
    assert out["category"].dtype == FRAME["category"].dtype
    assert list(out["category"].cat.categories) == ["lo", "mid", "hi", "unused"]
    assert out["category"].cat.ordered
    assert list(out["category_nan"].cat.categories) == ["q", "p"]


def test_encoded_arrays_have_the_documented_types(encoder):
    table = encoder.transform(FRAME)
    assert isinstance(table, EncodedTable) and len(table) == N
    assert table.continuous.dtype == np.float32 and table.discrete.dtype == np.int64
    assert table.continuous.shape == (N, encoder.layout_.n_continuous)
    assert table.discrete.shape == (N, encoder.layout_.n_discrete)
    assert np.isfinite(table.continuous).all()
    assert (table.discrete >= 0).all()
    assert (table.discrete < np.array(encoder.layout_.cardinalities)).all()


def test_round_trip_keeps_a_custom_index_when_asked(encoder):
    index = pd.RangeIndex(100, 100 + N)
    out = encoder.inverse_transform(encoder.transform(FRAME), index=index)
    assert out.index.equals(index)


def test_many_distinct_floats_round_trip_within_float32_precision():
    """More distinct values than ``n_knots``: interpolated CDF, float32 scores → close, not bit-exact."""
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"x": rng.lognormal(3.0, 1.0, 3000), "y": rng.normal(size=3000)})
    enc = TableEncoder(n_knots=50).fit(df)
    assert not enc.encoders_["x"].exact_
    out = enc.inverse_transform(enc.transform(df))
    pd.testing.assert_frame_equal(out, df, rtol=1e-5)
    # the extremes decode to themselves (they used to move by 1e-7 of the CDF, a clip)
    for name in df:
        assert out[name].min() == pytest.approx(df[name].min(), rel=1e-9)
        assert out[name].max() == pytest.approx(df[name].max(), rel=1e-9)


def test_many_distinct_decimals_round_trip_exactly():
    # Regression: decoding rounded with ``round(v / 0.01) * 0.01`` gave 226.39000000000001
    # for 226.39; dividing by 10**d lands on the float nearest the decimal.
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"money": np.round(rng.gamma(2.0, 100.0, 3000), 2)})
    enc = TableEncoder(n_knots=50).fit(df)
    assert not enc.encoders_["money"].exact_
    out = enc.inverse_transform(enc.transform(df))
    pd.testing.assert_frame_equal(out, df, check_exact=True)


def test_large_floats_with_cents_are_not_taken_for_integers():
    # Regression: the decimal-grid tolerance was relative to the column's largest value,
    # so every column of values above ~5e5 was declared integral and decoded rounded.
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"amount": np.round(rng.uniform(1e6, 2e6, 3000), 2),
                       "measure": rng.normal(0.0, 1e7, 3000)})
    enc = TableEncoder(n_knots=50).fit(df)
    out = enc.inverse_transform(enc.transform(df))
    pd.testing.assert_frame_equal(out, df, rtol=1e-6)   # float32 scores (it was: rounded to units)
    z = np.random.default_rng(0).normal(size=(2000, enc.layout_.n_continuous)).astype(np.float32)
    sampled = enc.inverse_transform(EncodedTable(z, np.zeros((2000, 0), np.int64)))
    cents = sampled["amount"].to_numpy() * 100
    assert (sampled["amount"] % 1 != 0).mean() > 0.9          # not integers
    np.testing.assert_allclose(cents, np.round(cents), atol=1e-6)   # but on the cents grid
    assert (sampled["measure"] % 1 != 0).mean() > 0.9


def test_dequantised_round_trip_is_exact_for_rare_values():
    # Regression: a dequantised CDF position drawn at the very edge of a narrow step
    # (a value seen once among many rows) was moved into the next step by the float32
    # score and decoded to the neighbouring value (~1 row per 200k-row transform).
    low = np.repeat(np.arange(400), 930)           # rare values sit at u ~ 0.93 (z ~ 1.5),
    rare = 1000 + np.arange(500)                   # where float32 scores are coarsest
    high = np.repeat(2000 + np.arange(90), 300)
    df = pd.DataFrame({"v": np.concatenate([low, rare, high])})
    enc = TableEncoder().fit(df)
    assert enc.encoders_["v"].exact_
    for seed in range(3):
        out = enc.inverse_transform(enc.transform(df, random_state=seed))
        assert (out["v"].to_numpy() != df["v"].to_numpy()).sum() == 0


def test_fit_subsample_still_sees_every_row():
    # Regression: with more rows than ``fit_subsample`` the missing flag came from the
    # subsample (so transforming the training frame raised) and rare values outside
    # the subsample decoded to a neighbour.
    rng = np.random.default_rng(4)
    x = rng.normal(size=2000)
    x[7] = np.nan
    df = pd.DataFrame({"x": x, "counts": rng.geometric(0.05, 2000), "wide": rng.lognormal(size=2000)})
    enc = TableEncoder(fit_subsample=100, n_knots=200).fit(df, random_state=0)
    assert enc.encoders_["x"].has_missing_
    assert enc.encoders_["x"].missing_rate_ == pytest.approx(1 / 2000)
    out = enc.inverse_transform(enc.transform(df))
    assert out["counts"].equals(df["counts"])
    assert out["x"].isna().equals(df["x"].isna())
    assert out["wide"].min() == pytest.approx(df["wide"].min())
    assert out["wide"].max() == pytest.approx(df["wide"].max())


def test_discrete_columns_override_the_inference():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"code": rng.choice([10, 20, 30], 200), "x": rng.normal(size=200),
                       "code_nan": np.where(rng.random(200) < 0.2, np.nan, rng.choice([1.0, 2.0], 200))})
    enc = TableEncoder(discrete_columns=["code", "code_nan"]).fit(df)
    assert enc.kinds_ == {"code": "categorical", "x": "numeric", "code_nan": "categorical"}
    pd.testing.assert_frame_equal(enc.inverse_transform(enc.transform(df)), df, check_exact=True)


# ------------------------------------------------------------------ decoding model output
def _random_table(encoder, frame, n, seed, z_scale=1.0):
    """Codes drawn from each discrete column's training frequencies, scores ~ N(0, z_scale²)."""
    rng = np.random.default_rng(seed)
    train = encoder.transform(frame)
    disc = np.stack([rng.choice(train.discrete[:, j], n) for j in range(train.discrete.shape[1])], axis=1) \
        if train.discrete.shape[1] else np.zeros((n, 0), np.int64)
    cont = (z_scale * rng.normal(size=(n, train.continuous.shape[1]))).astype(np.float32)
    return EncodedTable(cont, disc.astype(np.int64))


@pytest.fixture(scope="module")
def sampled(encoder):
    return encoder.inverse_transform(_random_table(encoder, FRAME, 20_000, seed=0), random_state=0)


def test_random_codes_decode_to_the_training_dtypes(sampled):
    assert list(sampled.columns) == list(FRAME.columns)
    assert sampled.dtypes.equals(FRAME.dtypes)


@pytest.mark.parametrize("name", NUMERIC_COLUMNS + DATETIME_COLUMNS)
def test_random_scores_decode_inside_the_training_range(sampled, name):
    got, real = sampled[name].dropna(), FRAME[name].dropna()
    assert got.min() >= real.min() and got.max() <= real.max()


@pytest.mark.parametrize("name", INTEGER_COLUMNS)
def test_integers_stay_integers(sampled, name):
    assert sampled[name].dtype == FRAME[name].dtype
    values = sampled[name].dropna().to_numpy(dtype=np.float64)
    np.testing.assert_array_equal(values, np.round(values))


@pytest.mark.parametrize("name", CATEGORICAL_COLUMNS)
def test_categories_come_only_from_training(sampled, name):
    assert set(sampled[name].dropna()) <= set(FRAME[name].dropna())


def test_unused_categories_are_never_generated(sampled):
    assert (sampled["category"] != "unused").all()


@pytest.mark.parametrize("name", ["money", "big_money", "datetime_ms", "date"])
def test_decoded_values_stay_on_the_training_grid(sampled, name):
    values = sampled[name]
    if name == "date":
        assert (values == values.dt.normalize()).all()
    elif name == "datetime_ms":
        assert (values.dt.microsecond % 1000 == 0).all() and (values.dt.nanosecond == 0).all()
    else:
        cents = values.to_numpy() * 100
        np.testing.assert_allclose(cents, np.round(cents), atol=1e-6 * np.abs(cents).max())


@pytest.mark.parametrize("name", [c for c in FRAME.columns if FRAME[c].isna().any()])
def test_missing_rate_is_reproduced(sampled, name):
    rate = FRAME[name].isna().mean()
    # binomial standard error of 20,000 draws is below 0.0036
    assert sampled[name].isna().mean() == pytest.approx(rate, abs=0.015)


def test_columns_without_missing_values_decode_without_any(sampled):
    complete = [c for c in FRAME.columns if not FRAME[c].isna().any()]
    assert not sampled[complete].isna().any().any()


def test_spikes_are_reproduced(sampled):
    assert (sampled["zero_inflated"] == 0).mean() == pytest.approx((FRAME["zero_inflated"] == 0).mean(), abs=0.02)
    assert (sampled["sentinel"] == -999).mean() == pytest.approx((FRAME["sentinel"] == -999).mean(), abs=0.02)
    # the continuous part never lands on a spike's lone value by interpolation
    assert sampled["sentinel"][sampled["sentinel"] != -999].min() > -999


def test_extreme_scores_decode_to_the_bounds(encoder):
    n = 50
    table = _random_table(encoder, FRAME, n, seed=1)
    for z, pick in [(60.0, "max"), (-60.0, "min")]:
        cont = np.full_like(table.continuous, z)
        out = encoder.inverse_transform(EncodedTable(cont, table.discrete), random_state=0)
        for name in ["float", "money", "int64", "date"]:
            enc = encoder.encoders_[name]
            mode = table.discrete[:, encoder.layout_.column_parts[encoder.columns_.index(name)][1]] \
                if enc.n_levels else np.zeros(n, int)
            cont_rows = mode == enc.CONTINUOUS
            assert (out[name][cont_rows] == getattr(FRAME[name], pick)()).all(), name


# --------------------------------------------------------------------- high cardinality
@pytest.fixture(scope="module")
def high_cardinality():
    rng = np.random.default_rng(6)
    levels = np.array([f"id{i:05d}" for i in range(10_000)], dtype=object)
    zipf = np.minimum(rng.zipf(1.4, 20_000), 10_000) - 1
    values = np.concatenate([levels, levels[zipf]])       # every level seen at least once
    df = pd.DataFrame({"id": rng.permutation(values), "x": rng.normal(size=30_000)})
    return df, TableEncoder(max_levels=100).fit(df)


def test_high_cardinality_column_has_a_small_encoding(high_cardinality):
    df, enc = high_cardinality
    col = enc.encoders_["id"]
    assert col.n_levels == 101                       # 100 kept levels + one <other> code
    assert enc.layout_.width == 1 + 101
    assert len(col.tail_levels_) == 10_000 - 100
    np.testing.assert_allclose(col.tail_probs_.sum(), 1.0)


def test_high_cardinality_round_trip(high_cardinality):
    df, enc = high_cardinality
    out = enc.inverse_transform(enc.transform(df), random_state=0)
    kept = df["id"].isin(list(enc.encoders_["id"].levels_))
    assert out["id"][kept].equals(df["id"][kept])            # frequent levels exact
    assert set(out["id"]) <= set(df["id"])                   # the tail is re-drawn from training levels
    pd.testing.assert_series_equal(out["x"], df["x"])      # 30,000 distinct floats: within tolerance


def test_high_cardinality_tail_follows_its_training_frequencies(high_cardinality):
    df, enc = high_cardinality
    col = enc.encoders_["id"]
    codes = np.full(200_000, col.other_code)
    out = pd.Series(col.decode(codes, rng=np.random.default_rng(0)))
    assert set(out) <= set(col.tail_levels_)
    freq = out.value_counts(normalize=True).reindex(col.tail_levels_, fill_value=0.0).to_numpy()
    top = np.argsort(-col.tail_probs_)[:5]
    np.testing.assert_allclose(freq[top], col.tail_probs_[top], rtol=0.15)


def test_max_levels_bounds_the_block_of_every_categorical_column():
    rng = np.random.default_rng(7)
    df = pd.DataFrame({f"c{k}": rng.integers(0, 500, 2000).astype(str) for k in range(3)})
    enc = TableEncoder(max_levels=10).fit(df)
    assert enc.layout_.cardinalities == (11, 11, 11)


def test_a_text_column_of_distinct_values_is_named_as_an_identifier():
    n = 40
    ids = [f"C{1000 + i}" for i in range(n)]
    df = pd.DataFrame({"id": ids, "x": np.arange(n) % 7, "when": pd.date_range("2020-01-01", periods=n)})
    with pytest.warns(UserWarning, match="'id' holds a different value in each of its 40 rows: an identifier"):
        TableEncoder().fit(df)
    for frame in (df.assign(id=pd.Categorical(ids)), df.assign(id=pd.array(ids, dtype="string"))):
        with pytest.warns(UserWarning, match="'id'"):
            TableEncoder().fit(frame)
    # an integer column holding each whole number of its range once: a row counter (a saved index)
    counter = df.drop(columns="id").assign(**{"Unnamed: 0": np.arange(n)[::-1] + 1})
    with pytest.warns(UserWarning, match="'Unnamed: 0' holds each whole number from 1 to 40 once"):
        TableEncoder().fit(counter)
    # not an identifier: a repeated value, a missing one, too few rows, distinct numbers with gaps, datetimes
    quiet = [df.assign(id=ids[:-1] + ids[:1]), df.assign(id=ids[:-1] + [None]), df.iloc[:19],
             df.assign(id=2 * np.arange(n)), df.assign(id=np.arange(n) * 0.5), df.drop(columns="id"),
             counter.assign(**{"Unnamed: 0": pd.array([None] + list(range(1, n)), dtype="Int64")})]
    for frame in quiet:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            TableEncoder().fit(frame)


# ----------------------------------------------------------------------------- errors
def test_unseen_category_raises_naming_the_column(encoder):
    bad = FRAME.copy()
    bad.loc[0, "object"] = "never seen"
    with pytest.raises(ValueError, match="'object'.*never seen"):
        encoder.transform(bad)


def test_unused_category_is_unseen_at_transform(encoder):
    # Regression: value_counts of a Categorical lists unused categories with count 0,
    # and they became levels the models could generate.
    bad = FRAME.copy()
    bad.loc[0, "category"] = "unused"
    with pytest.raises(ValueError, match="'category'.*unused"):
        encoder.transform(bad)


def test_unseen_bool_raises(encoder):
    df = pd.DataFrame({"b": [True] * 10})
    enc = TableEncoder().fit(df)
    with pytest.raises(ValueError, match="'b'"):
        enc.transform(pd.DataFrame({"b": [True, False]}))


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_values_raise_at_fit_and_transform(encoder, value):
    bad = FRAME.copy()
    bad.loc[3, "money"] = value
    with pytest.raises(ValueError, match="'money'.*infinite"):
        TableEncoder().fit(bad)
    with pytest.raises(ValueError, match="'money'.*infinite"):
        encoder.transform(bad)


@pytest.mark.parametrize("name", ["money", "int64", "constant_str", "category", "date", "bool"])
def test_nan_in_a_column_complete_at_fit_raises(encoder, name):
    assert not FRAME[name].isna().any()
    bad = FRAME.copy()
    bad[name] = bad[name].astype(object) if bad[name].dtype.kind in "biu" else bad[name]
    bad.loc[5, name] = None
    with pytest.raises(ValueError, match=f"'{name}'"):
        encoder.transform(bad)


def test_unknown_discrete_column_raises():
    with pytest.raises(ValueError, match="discrete_columns.*'nope'"):
        TableEncoder(discrete_columns=["nope"]).fit(FRAME[["money"]])


def test_empty_frame_raises():
    # Regression: fitting 0 rows failed deep in numpy ("zero-size array to reduction").
    with pytest.raises(ValueError, match="0 rows"):
        TableEncoder().fit(FRAME.iloc[:0])


@pytest.mark.parametrize("series, kind", [
    (pd.Series([1.5, 2.0]), "numeric"),
    (pd.Series([1, 2], dtype="Int8"), "numeric"),
    (pd.Series([True, False]), "categorical"),
    (pd.Series([True, None], dtype="boolean"), "categorical"),
    (pd.Series(["a", None]), "categorical"),
    (pd.Series(["a", None], dtype="string"), "categorical"),
    (pd.Series(pd.Categorical([1, 2])), "categorical"),
    (pd.Series(pd.to_datetime(["2020-01-01", None])), "datetime"),
    (pd.Series(pd.to_datetime(["2020-01-01"]).tz_localize("UTC")), "datetime"),
])
def test_infer_column_kind(series, kind):
    assert infer_column_kind(series) == kind


@pytest.mark.parametrize("series", [
    pd.Series([1 + 2j, 3j], name="cplx"),
    pd.Series(pd.to_timedelta([1, 2], unit="s"), name="delta"),
    pd.Series(pd.period_range("2020-01", periods=2, freq="M"), name="period"),
])
def test_unsupported_dtypes_raise_type_error_naming_the_column(series):
    with pytest.raises(TypeError, match=repr(series.name)):
        infer_column_kind(series)


# ------------------------------------------------------------------ generated frames
_text = st.text(alphabet="abcxyz", min_size=0, max_size=3)
_frames = data_frames(
    [
        column("i", elements=st.integers(-(2 ** 31), 2 ** 31), dtype=np.int64),
        column("u", elements=st.integers(0, 255), dtype=np.uint8),
        column("f", elements=st.floats(-1e12, 1e12) | st.just(np.nan), dtype=float),
        column("d", elements=st.integers(-10 ** 6, 10 ** 6).map(lambda k: k / 100) | st.just(np.nan),
               dtype=float),
        column("s", elements=st.none() | _text, dtype=object),
        column("b", elements=st.booleans(), dtype=bool),
        column("t", elements=st.integers(-(10 ** 12), 10 ** 12).map(lambda ms: np.datetime64(ms, "ms")),
               dtype="datetime64[ns]"),
    ],
    index=range_indexes(min_size=1, max_size=40),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=_frames, dequantise=st.booleans())
def test_generated_frames_round_trip_exactly(df, dequantise):
    """Any mix of ints, floats with NaN, decimals, strings with None, bools and datetimes.

    Constant and all-NaN columns are kept: the estimator rejects them, the encoder must not.
    """
    enc = TableEncoder().fit(df)
    out = enc.inverse_transform(enc.transform(df, random_state=0 if dequantise else None))
    pd.testing.assert_frame_equal(out, df, check_exact=True)


@settings(max_examples=25, deadline=None)
@given(df=_frames, seed=st.integers(0, 2 ** 16))
def test_generated_frames_decode_random_codes_inside_the_training_support(df, seed):
    enc = TableEncoder().fit(df)
    out = enc.inverse_transform(_random_table(enc, df, 64, seed, z_scale=3.0), random_state=seed)
    assert out.dtypes.equals(df.dtypes)
    for name in ["i", "u", "f", "d", "t"]:
        got, real = out[name].dropna(), df[name].dropna()
        if len(real):
            assert got.min() >= real.min() and got.max() <= real.max(), name
        else:
            assert got.empty
    assert set(out["s"].dropna()) <= set(df["s"].dropna())
    assert set(out["b"]) <= set(df["b"])
    np.testing.assert_array_equal(out["i"] % 1, 0)


@pytest.mark.parametrize("base", [10**17, 2**63 - 100])
@pytest.mark.filterwarnings("ignore:Column 'id' holds each whole number")   # (a row counter, as warned)
def test_integers_beyond_float_precision_stay_within_their_training_bounds(base):
    """float64 holds integers exactly only to 2**53: decoding clips in integer arithmetic."""
    X = pd.DataFrame({"id": np.arange(60, dtype=np.int64) + base, "x": np.linspace(0, 1, 60)})
    enc = TableEncoder().fit(X)
    codes = enc.transform(X)
    noisy = EncodedTable(codes.continuous + 0.3, codes.discrete)     # scores pushed past the top
    back = enc.inverse_transform(noisy, random_state=0)["id"]
    assert back.dtype == np.int64
    assert back.min() >= X["id"].min() and back.max() <= X["id"].max()


def test_level_scores_sit_on_the_mode_dims_of_scored_spikes():
    rng = np.random.default_rng(0)
    amount = np.round(rng.uniform(100.0, 5000.0, 1000), 2)
    amount[:200] = 1000.0                                   # a round amount inside the range
    frame = pd.DataFrame({"c": rng.choice(list("ab"), 1000), "amount": amount, "plain": rng.standard_normal(1000)})
    enc = TableEncoder().fit(frame, random_state=0)
    layout = enc.layout_
    scores = enc.level_scores()
    assert scores.shape == (layout.width,)
    ci, di = layout.column_parts[enc.columns_.index("amount")]
    spike_dim = layout.offsets[di] + 1                      # code 0 is the continuous mode
    expected = enc.encoders_["amount"].spike_scores()[1]
    assert np.isfinite(expected) and scores[spike_dim] == expected
    assert np.isnan(np.delete(scores, spike_dim)).all()     # nothing else: scores, the category, the other mode
