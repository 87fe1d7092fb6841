"""sample_to: shards with constant memory, rows independent of the shard size and process count."""

import pandas as pd
import pytest

from synthaug.datasets import load_credit
from synthaug.streaming import BLOCK_ROWS

from _tiny import tiny

pytest.importorskip("pyarrow")


@pytest.fixture(scope="module", params=["diffusion", "gan"])
def fitted(request):
    data = load_credit().sample(300, random_state=0)
    X, y = data.drop(columns="Status"), data["Status"]
    return tiny(request.param, random_state=0).fit(X, y)


def _read(paths):
    return pd.concat([pd.read_parquet(p) if str(p).endswith("parquet") else pd.read_csv(p) for p in paths],
                     ignore_index=True)


def test_same_seed_same_rows_whatever_the_shard_size(fitted, tmp_path):
    n = BLOCK_ROWS + 1_500
    a = _read(fitted.sample_to(tmp_path / "a", n, batch_size=1_000, random_state=7))
    b = _read(fitted.sample_to(tmp_path / "b.parquet", n, batch_size=3_333, random_state=7))
    assert len(a) == n and "Status" in a.columns
    pd.testing.assert_frame_equal(a, b)
    c = _read(fitted.sample_to(tmp_path / "c.parquet", n, batch_size=5_000, random_state=8))
    assert not c.equals(a)


def test_shards_split_between_ranks_union_is_the_single_process_output(fitted, tmp_path):
    n = 2_500
    whole = _read(fitted.sample_to(tmp_path / "one", n, batch_size=600, random_state=3))
    paths = []
    for rank in range(3):
        paths += fitted.sample_to(tmp_path / "many", n, batch_size=600, random_state=3, rank=rank, world_size=3)
    assert len(paths) == 5 and len(set(paths)) == 5
    pd.testing.assert_frame_equal(_read(sorted(paths)), whole)


def test_csv_conditions_and_class(fitted, tmp_path):
    out = _read(fitted.sample_to(tmp_path / "s.csv", 700, batch_size=250, conditions={"Home": "owner"},
                                 y="good", random_state=0))
    assert len(out) == 700 and (out["Home"] == "owner").all() and (out["Status"] == "good").all()
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())   # temporary files renamed or removed


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 0}, "n"), ({"batch_size": 0}, "batch_size"), ({"y": ["good"]}, "one class"),
    ({"random_state": -1}, "random_state"), ({"random_state": 1.5}, "random_state"),
    ({"conditions": {"Nope": 1}}, "Nope"), ({"rank": 2, "world_size": 2}, "rank"),
])
def test_bad_requests_write_nothing(fitted, tmp_path, kwargs, match):
    args = {"n": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        fitted.sample_to(tmp_path / "bad.parquet", **args)
    with pytest.raises(ValueError, match=match):
        fitted.sample_to(tmp_path / "folder", **args)                     # no folder left behind either
    assert not list(tmp_path.iterdir())


def test_an_unknown_class_is_refused_before_the_folder_is_made(fitted, tmp_path):
    with pytest.raises(ValueError, match="class 'meh'"):
        fitted.sample_to(tmp_path / "out", 10, y="meh")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        fitted.sample_to(tmp_path / "file", 10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_parquet_needs_string_column_names(tmp_path):
    data = load_credit().sample(200, random_state=0)[["Age", "Amount"]].set_axis([0, 1], axis=1)
    model = tiny("gan", random_state=0).fit(data)
    with pytest.raises(ValueError, match="string column names"):
        model.sample_to(tmp_path / "out", 10)
    assert not list(tmp_path.iterdir())
    assert len(pd.read_csv(model.sample_to(tmp_path / "out.csv", 10)[0])) == 10


def test_shard_names_sort_in_row_order_past_100000_shards():
    from synthaug.streaming import _shard_digits

    assert _shard_digits(1) == 5 and _shard_digits(100_000) == 5 and _shard_digits(100_001) == 6


def test_unknown_format(fitted, tmp_path):
    with pytest.raises(ValueError, match="parquet or .csv"):
        fitted.sample_to(tmp_path / "x.txt", 5)


def test_parquet_shards_share_one_schema_when_a_column_is_empty_in_some(tmp_path):
    """A text column missing in every row of a shard would be typed null there and clash with the others."""
    import numpy as np

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300),
                          "note": pd.Series(np.where(rng.random(300) < 0.85, None, rng.choice(["a", "b"], 300)),
                                            dtype=object)})
    model = tiny("diffusion", random_state=0).fit(frame)
    one = pd.read_parquet(model.sample_to(tmp_path / "one.parquet", 600, batch_size=3, random_state=0)[0])
    many = pd.read_parquet(tmp_path / model.sample_to(tmp_path / "many", 600, batch_size=3, random_state=0)[0].parent)
    assert len(one) == len(many) == 600
    pd.testing.assert_frame_equal(one, many)


def test_a_folder_is_a_path_ending_in_a_slash_and_stale_shards_are_refused(fitted, tmp_path):
    paths = fitted.sample_to(f"{tmp_path / 'run.v2'}/", 900, batch_size=300, random_state=0)
    assert [p.name for p in paths] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    again = fitted.sample_to(tmp_path / "run.v2", 900, batch_size=300, random_state=1)   # overwrites them all
    assert len(_read(again)) == 900
    with pytest.raises(ValueError, match=r"another output \(part-00002.parquet"):     # 2 would stay behind
        fitted.sample_to(tmp_path / "run.v2", 600, batch_size=300, random_state=1)
