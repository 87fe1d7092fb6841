"""Input validation, metadata inference and never touching the caller's frames."""

import numpy as np
import pandas as pd
import pytest
from _tables import make_table

from synthaug.evaluation import evaluate, infer_metadata
from synthaug.evaluation.metrics import detection_auc, exact_copy_share


def test_infer_metadata_rules():
    n = 40
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "float": rng.normal(size=n),
        "few_floats": rng.choice([0.5, 1.5], n),
        "code": rng.integers(0, 4, n),
        "code_with_nan": pd.array(rng.integers(0, 3, n), dtype="Int64"),
        "many_ints": np.arange(n),
        "flag": rng.random(n) < 0.5,
        "text": rng.choice(["a", "b"], n).astype(object),
        "string": pd.array(rng.choice(["a", "b"], n), dtype="string"),
        "cat": pd.Categorical(rng.choice(["a", "b"], n)),
        "when": pd.date_range("2020-01-01", periods=n),
    })
    df.loc[3, "code_with_nan"] = pd.NA
    sdtypes = {k: v["sdtype"] for k, v in infer_metadata(df)["columns"].items()}
    assert sdtypes == {
        "float": "numerical", "few_floats": "numerical", "code": "categorical",
        "code_with_nan": "categorical", "many_ints": "numerical", "flag": "categorical",
        "text": "categorical", "string": "categorical", "cat": "categorical",
        "when": "datetime",
    }
    kept = infer_metadata(df, max_categorical_levels=0)["columns"]
    assert kept["code"]["sdtype"] == "numerical"


@pytest.mark.parametrize("position", ["real", "synthetic", "holdout"])
def test_non_frames_are_a_type_error(position):
    table = make_table(20)
    args = {"real": table, "synthetic": table, "holdout": table}
    args[position] = table.to_numpy()
    with pytest.raises(TypeError, match=f"{position} must be a pandas DataFrame"):
        evaluate(**args)


def test_column_mismatch_names_the_columns():
    table = make_table(20)
    other = table.drop(columns=["z"]).rename(columns={"x": "x2"})
    with pytest.raises(ValueError, match=r"synthetic .*missing columns \['x', 'z'\].*"
                                         r"unexpected columns \['x2'\]"):
        evaluate(table, other)
    with pytest.raises(ValueError, match=r"holdout .*missing columns \['y'\]"):
        evaluate(table, table, table.drop(columns="y"))


def test_column_order_does_not_matter():
    table = make_table(60)
    reordered = table[table.columns[::-1]]
    assert exact_copy_share(table, reordered) == 1.0


@pytest.mark.parametrize("position", ["real", "synthetic", "holdout"])
def test_empty_frames_are_rejected(position):
    table = make_table(20)
    args = {"real": table, "synthetic": table, "holdout": table}
    args[position] = table.iloc[:0]
    with pytest.raises(ValueError, match=f"{position} is empty"):
        evaluate(**args)


def test_no_columns_is_rejected():
    with pytest.raises(ValueError, match="real has no columns"):
        evaluate(pd.DataFrame(index=range(3)), pd.DataFrame(index=range(3)))


def test_bad_target_and_sensitive_columns():
    table = make_table(20)
    with pytest.raises(ValueError, match="target 'nope' is not a column"):
        evaluate(table, table, table, target="nope")
    with pytest.raises(ValueError, match=r"sensitive_columns \['nope'\] are not columns"):
        evaluate(table, table, sensitive_columns=["x", "nope"])


def test_metadata_mismatch_names_the_column():
    table = make_table(20)
    meta = infer_metadata(table)
    del meta["columns"]["debt"]
    with pytest.raises(ValueError, match=r"columns missing from metadata: \['debt'\]"):
        evaluate(table, table, metadata=meta)
    with pytest.raises(TypeError, match="metadata must be a dict"):
        evaluate(table, table, metadata=["x"])


def test_duplicate_columns_are_rejected():
    table = make_table(20)
    dup = pd.concat([table, table[["x"]]], axis=1)
    with pytest.raises(ValueError, match=r"duplicate column names: \['x'\]"):
        detection_auc(dup, dup)


def test_inputs_are_not_mutated(quick):
    real, synth, hold = make_table(100, 0), make_table(100, 1), make_table(100, 2)
    # Awkward dtypes that a careless normalisation would convert in place.
    for frame in (real, synth, hold):
        frame["count"] = frame["count"].astype("Int64")
        frame["color"] = frame["color"].astype("category")
    copies = [f.copy(deep=True) for f in (real, synth, hold)]
    meta = infer_metadata(real)
    meta_copy = {"columns": {k: dict(v) for k, v in meta["columns"].items()}}
    evaluate(real, synth, hold, target="y", metadata=meta, sensitive_columns=["member"])
    for before, after in zip(copies, (real, synth, hold)):
        pd.testing.assert_frame_equal(before, after)
    assert meta == meta_copy


def test_user_metadata_is_honoured(quick):
    table = make_table(120)
    meta = infer_metadata(table)
    meta["columns"]["count"] = {"sdtype": "categorical"}
    meta["columns"]["x"] = {"sdtype": "id"}  # not compared by synthaug's own figures
    report = evaluate(table, make_table(120, 1), metadata=meta)  # no holdout: quicker
    assert report.metadata["columns"]["count"]["sdtype"] == "categorical"
    assert "x" not in report.details["association_real"].columns
    shapes = report.details["column_shapes"].set_index("Column")
    assert shapes.loc["count", "Metric"] == "TVComplement"


def test_booleans_read_back_as_text_are_the_same_category():
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"x": rng.normal(size=200), "flag": rng.random(200) < 0.4})
    same = evaluate(real, real.sample(frac=1, random_state=1))
    as_text = evaluate(real, real.sample(frac=1, random_state=1).assign(flag=lambda d: d["flag"].astype(str)))
    assert as_text.scores["quality"] == pytest.approx(same.scores["quality"])
