"""The `synthaug` command line: commands work, user mistakes give one line and exit 2."""

import pandas as pd
import pytest

from synthaug.cli import main
from synthaug.datasets import load_credit


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = load_credit().sample(300, random_state=0)
    data.to_csv(root / "train.csv", index=False)
    model = root / "model.pkl"
    assert main(["fit", str(root / "train.csv"), "--out", str(model), "--steps", "5", "--quiet"]) == 0
    return root, model, data


def test_sample_csv_and_parquet(files):
    root, model, data = files
    assert main(["sample", str(model), "-n", "25", "--out", str(root / "s.csv"), "--seed", "0"]) == 0
    out = pd.read_csv(root / "s.csv")
    assert list(out.columns) == list(data.columns) and len(out) == 25
    pytest.importorskip("pyarrow")
    assert main(["sample", str(model), "-n", "10", "--out", str(root / "s.parquet")]) == 0
    assert len(pd.read_parquet(root / "s.parquet")) == 10


def test_sample_with_conditions(files):
    root, model, _ = files
    out_path = root / "cond.csv"
    code = main(["sample", str(model), "-n", "40", "--out", str(out_path),
                 "--condition", "Home=owner,rent", "--condition", "Age=30..40", "--condition", "Records=yes"])
    assert code == 0
    out = pd.read_csv(out_path)
    assert out["Home"].isin(["owner", "rent"]).all()
    assert out["Age"].between(30, 40).all()
    assert (out["Records"] == "yes").all()


def test_fit_with_target_writes_label_column(files):
    root, _, _ = files
    model = root / "cond_model.pkl"
    assert main(["fit", str(root / "train.csv"), "--out", str(model), "--target", "Status", "--steps", "3",
                 "--quiet"]) == 0
    assert main(["sample", str(model), "-n", "12", "--out", str(root / "xy.csv")]) == 0
    assert "Status" in pd.read_csv(root / "xy.csv").columns
    # the class column is conditioned like any other (through y: one class for every row)
    assert main(["sample", str(model), "-n", "12", "--out", str(root / "bad.csv"), "--condition", "Status=bad",
                 "--condition", "Home=owner"]) == 0
    out = pd.read_csv(root / "bad.csv")
    assert (out["Status"] == "bad").all() and (out["Home"] == "owner").all()
    assert main(["sample", str(model), "-n", "3", "--out", str(root / "x.csv"), "--condition", "Status=meh"]) == 2
    assert main(["sample", str(model), "-n", "3", "--out", str(root / "x.csv"), "--condition", "Status"]) == 2


def test_csv_dates_are_read_as_datetimes(tmp_path):
    from synthaug.io import read_table

    frame = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=4, freq="D"),
                          "code": ["2024-xx-yy", "a", "b", "c"],
                          "stamp": ["2024-01-01T10:00:00", None, "2024-03-01T00:00:00", "2024-03-02T12:30:00"]})
    frame.to_csv(tmp_path / "d.csv", index=False)
    back = read_table(tmp_path / "d.csv")
    assert pd.api.types.is_datetime64_any_dtype(back["when"]) and back["when"].equals(frame["when"])
    assert pd.api.types.is_datetime64_any_dtype(back["stamp"]) and back["stamp"].isna().sum() == 1
    assert back["code"].dtype == object
    pd.DataFrame({"month": ["2020-01", "2020-02"], "paris": ["2024-01-01T00:00:00+01:00", "2024-07-01T00:00:00+02:00"]}
                 ).to_csv(tmp_path / "t.csv", index=False)
    text = read_table(tmp_path / "t.csv")             # a year-month code stays text
    assert text["month"].dtype == object
    # offsets that differ (a zone across DST): the instants in UTC, the only zone a CSV can name
    assert str(text["paris"].dtype) == "datetime64[ns, UTC]"
    assert list(text["paris"]) == [pd.Timestamp("2023-12-31T23:00Z"), pd.Timestamp("2024-06-30T22:00Z")]


@pytest.mark.parametrize("argv, needle", [
    (["fit", "missing.csv", "--out", "m.pkl"], "no such file"),
    (["fit", "data.txt", "--out", "m.pkl"], "unknown table format"),
    (["sample", "{model}", "-n", "5", "--out", "x.csv", "--condition", "Nope=1"], "unknown column 'Nope'"),
    (["sample", "{model}", "-n", "5", "--out", "x.csv", "--condition", "Home=castle"], "castle"),
    (["sample", "{model}", "-n", "5", "--out", "x.csv", "--condition", "Age"], "COL=VALUE"),
    (["sample", "{model}", "-n", "-3", "--out", "x.csv"], "at least 1"),
    (["sample", "{model}", "-n", "0", "--out", "x.csv"], "at least 1"),
    (["sample", "{model}", "-n", "5", "--out", "x.csv", "--condition", "Age=30", "--condition", "Age=40"],
     "'Age' is given twice"),
    (["fit", "{train}", "--out", "m.pkl", "--target", "Nope"], "--target 'Nope'"),
    (["sample", "{train}", "-n", "5", "--out", "x.csv"], "not a synthaug model"),
    (["sample", "{root}/dict.pkl", "-n", "5", "--out", "x.csv"], "not a synthaug model file (it holds a dict)"),
    (["fit", "{train}", "--out", "{root}"], "is a folder"),
    (["fit", "{root}", "--out", "m.pkl"], "is a folder"),
    (["fit", "{root}/empty.csv", "--out", "m.pkl"], "empty.csv: the file is empty"),
    (["impute", "{train}", "--out", "filled.txt"], "unknown table format"),
    (["resample", "{train}", "--target", "Status", "--out", "{root}/sub.csv"], "is a folder"),
    (["evaluate", "{train}", "{train}", "--html", "{root}"], "is a folder"),
    (["demo", "--steps", "0", "--out-dir", "{root}/demo0"], "--steps must be at least 1"),
    (["fit", "{train}", "--out", "m.pkl", "--steps", "-5"], "--steps must be at least 1"),
])
def test_user_errors_are_one_line(files, capsys, argv, needle):
    import pickle

    root, model, _ = files
    pickle.dump({"a": 1}, open(root / "dict.pkl", "wb"))
    (root / "empty.csv").write_text("")
    (root / "sub.csv").mkdir(exist_ok=True)
    argv = [a.format(model=model, train=root / "train.csv", root=root) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err


def test_fit_and_sample_with_the_gan(files):
    root = files[0]
    model = root / "gan.pkl"
    assert main(["fit", str(root / "train.csv"), "--model", "gan", "--out", str(model), "--steps", "3",
                 "--quiet"]) == 0
    assert main(["sample", str(model), "-n", "30", "--out", str(root / "g.csv"), "--condition", "Home=owner"]) == 0
    out = pd.read_csv(root / "g.csv")
    assert len(out) == 30 and (out["Home"] == "owner").all()


def test_demo_writes_both_models_side_by_side(tmp_path, capsys):
    assert main(["demo", "--out-dir", str(tmp_path), "--steps", "3", "--quiet"]) == 0
    for name in ("synthetic_credit.csv", "synthetic_credit_diffusion.csv", "synthetic_credit_gan.csv",
                 "report_diffusion.html", "report_gan.html"):
        assert (tmp_path / name).stat().st_size > 0
    page = (tmp_path / "report.html").read_text()
    assert "report_gan.html" in page and "report_diffusion.html" in page and "fit_seconds" in page
    assert "[gan]" in capsys.readouterr().out


def test_resample_balances_the_target_column(files, capsys):
    root = files[0]
    out = root / "balanced.csv"
    assert main(["resample", str(root / "train.csv"), "--target", "Status", "--out", str(out), "--steps", "3",
                 "--quiet"]) == 0
    data, res = pd.read_csv(root / "train.csv"), pd.read_csv(out)
    assert list(res.columns) == list(data.columns)
    assert res["Status"].value_counts().nunique() == 1
    pd.testing.assert_frame_equal(res.iloc[: len(data)], data, check_dtype=False)
    assert "+" in capsys.readouterr().out
    assert main(["resample", str(root / "train.csv"), "--target", "Status", "--out", str(out), "--steps", "3",
                 "--strategy", "nope=5", "--quiet"]) == 2
    assert "unknown class 'nope'" in capsys.readouterr().err


def test_resample_keeps_the_label_dtype_and_reads_spaced_strategies(files, tmp_path):
    pytest.importorskip("pyarrow")
    data = files[2].reset_index(drop=True).astype({"Status": "category"})
    data.to_parquet(tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    assert main(["resample", str(tmp_path / "in.parquet"), "--target", "Status", "--out", str(out), "--steps", "2",
                 "--strategy", "bad=150, good=230", "--quiet"]) == 0
    res = pd.read_parquet(out)
    assert res["Status"].dtype == "category" and res.iloc[: len(data)].equals(data)
    assert res["Status"].value_counts().to_dict() == {"good": 230, "bad": 150}


def test_impute_fills_every_cell_and_writes_draws(files, capsys):
    root = files[0]
    data = pd.read_csv(root / "train.csv")
    assert data.isna().any().any()
    assert main(["impute", str(root / "train.csv"), "--out", str(root / "filled.csv"), "--steps", "3",
                 "--quiet"]) == 0
    filled = pd.read_csv(root / "filled.csv")
    assert filled.notna().all().all() and filled.shape == data.shape
    assert main(["impute", str(root / "train.csv"), "--out", str(root / "multi.csv"), "--steps", "3",
                 "--draws", "2", "--model", "gan", "--quiet"]) == 0
    assert (root / "multi_1.csv").exists() and (root / "multi_2.csv").exists()
    assert main(["impute", str(root / "train.csv"), "--out", str(root / "raw.csv"), "--steps", "3",
                 "--draws", "2", "--model", "gan", "--no-calibrate", "--quiet"]) == 0
    raw, wide = pd.read_csv(root / "raw_1.csv"), pd.read_csv(root / "multi_1.csv")
    pd.testing.assert_series_equal(raw["Home"], wide["Home"])          # the same draws; categorical cells as drawn
    assert not raw["Income"].equals(wide["Income"])                    # numeric draws widened (or narrowed)
    assert main(["impute", str(root / "train.csv"), "--out", str(root / "one.csv"), "--steps", "3",
                 "--draws", "1", "--quiet"]) == 0                 # one draw: one file, no suffix
    assert (root / "one.csv").exists() and not (root / "one_1.csv").exists()
    assert main(["impute", str(root / "train.csv"), "--out", str(root / "x.csv"), "--draws", "0"]) == 2
    assert "--draws" in capsys.readouterr().err


def test_fit_with_epsilon_reports_the_privacy_spent(files, capsys):
    root = files[0]
    model = root / "dp.pkl"
    assert main(["fit", str(root / "train.csv"), "--out", str(model), "--epsilon", "50", "--delta", "1e-4",
                 "--steps", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "differential privacy: (" in out and "DP-SGD" in out
    assert main(["sample", str(model), "-n", "10", "--out", str(root / "dp.csv")]) == 0
    # too small a budget for 300 rows: a one-line error that says what to do
    assert main(["fit", str(root / "train.csv"), "--out", str(model), "--epsilon", "0.5", "--quiet"]) == 2
    assert "categories=" in capsys.readouterr().err


def test_fit_with_epsilon_takes_the_public_domain(files, capsys):
    """--categories and --bounds declare what a private fit need not spend budget on (or cannot release)."""
    root, _, data = files
    model = root / "dp_domain.pkl"
    levels = ["--categories", "Home=ignore, other, owner, parents, priv, rent", "--categories", "Records=no,yes",
              "--categories", "Marital=divorced,married,separated,single,widow", "--categories", "Status=good,bad",
              "--categories", "Job=fixed,freelance,others,partime"]
    assert main(["fit", str(root / "train.csv"), "--out", str(model), "--epsilon", "0.5", "--steps", "3", "--quiet",
                 *levels, "--bounds", "Age=18..80"]) == 0
    assert main(["sample", str(model), "-n", "200", "--out", str(root / "dp2.csv"), "--seed", "0"]) == 0
    out = pd.read_csv(root / "dp2.csv")
    assert set(out["Home"].dropna()) <= {"ignore", "other", "owner", "parents", "priv", "rent"}
    assert out["Age"].between(18, 80).all()
    for bad, message in ((["--bounds", "Age=18:80"], "COLUMN=LOW..HIGH"), (["--bounds", "Nope=1..2"], "'Nope'"),
                         (["--categories", "Home"], "COLUMN=LEVEL"), (["--categories", "Home=,"], "at least one")):
        assert main(["fit", str(root / "train.csv"), "--out", str(model), "--epsilon", "1", *bad]) == 2
        assert message in capsys.readouterr().err


def test_evaluate_names_the_figures_it_could_not_compute(files, capsys):
    root, _, data = files
    data.head(150).to_csv(root / "ev_real.csv", index=False)
    data.tail(150).to_csv(root / "ev_synth.csv", index=False)
    assert main(["evaluate", str(root / "ev_real.csv"), str(root / "ev_synth.csv"), "--target", "Status"]) == 0
    assert "ml_efficacy_gap: not computed — " in capsys.readouterr().out


def test_evaluate_with_holdout_and_sensitive_columns(files, capsys):
    root, _, data = files
    data.iloc[:150].to_csv(root / "real.csv", index=False)
    data.iloc[150:].to_csv(root / "holdout.csv", index=False)
    assert main(["sample", str(files[1]), "-n", "150", "--out", str(root / "fake.csv")]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(root / "real.csv"), str(root / "fake.csv"), "--holdout", str(root / "holdout.csv"),
                 "--sensitive", "Job", "--html", str(root / "r.html")]) == 0
    out = capsys.readouterr().out
    assert "membership_inference_auc" in out and "dcr_closer_to_train_share" in out
    assert "membership_inference_auc" in (root / "r.html").read_text()


# ------------------------------------------------------------------------ images
@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory):
    import numpy as np

    from synthaug.datasets import load_digits

    root = tmp_path_factory.mktemp("cli_images")
    X, y = load_digits(return_X_y=True)
    np.savez(root / "digits.npz", X=X[:80], y=y[:80])
    return root


@pytest.mark.parametrize("model", ["diffusion", "gan"])
def test_images_fit_sample_resample_impute(digits_npz, model, capsys):
    import numpy as np

    root = digits_npz
    pkl = root / f"{model}.pkl"
    assert main(["fit", str(root / "digits.npz"), "--out", str(pkl), "--model", model, "--steps", "2",
                 "--quiet"]) == 0
    assert "80 images" in capsys.readouterr().out
    assert main(["sample", str(pkl), "-n", "12", "--out", str(root / "new.npz"), "--seed", "1"]) == 0
    with np.load(root / "new.npz") as data:
        assert data["X"].shape == (12, 1, 8, 8) and data["X"].dtype == np.uint8 and data["y"].shape == (12,)
    assert main(["sample", str(pkl), "-n", "9", "--out", str(root / "grid.png")]) == 0
    assert (root / "grid.png").stat().st_size > 0
    assert main(["sample", str(pkl), "-n", "0", "--out", str(root / "none.npz")]) == 2   # as for a table model
    assert "-n must be at least 1" in capsys.readouterr().err and not (root / "none.npz").exists()
    assert main(["resample", str(root / "digits.npz"), "--out", str(root / "res.npz"), "--model", model,
                 "--steps", "2", "--quiet", "--strategy", "all"]) == 0
    with np.load(root / "res.npz") as data:
        counts = np.bincount(data["y"])
        assert counts.min() == counts.max()
    with np.load(root / "digits.npz") as data:
        holes = data["X"][:20].astype(float)
    holes[:10, :, :3] = np.nan       # the other 10 images are complete: the model learns from them
    np.save(root / "holes.npy", holes)
    assert main(["impute", str(root / "holes.npy"), "--out", str(root / "filled.npz"), "--model", model,
                 "--steps", "2", "--quiet"]) == 0
    with np.load(root / "filled.npz") as data:
        assert not np.isnan(data["X"]).any() and data["X"].shape == holes.shape


def test_image_cli_errors_are_one_line(digits_npz, capsys):
    root = digits_npz
    assert main(["fit", str(root / "digits.npz"), "--out", str(root / "m.pkl"), "--target", "y"]) == 2
    assert "--target is for tables" in capsys.readouterr().err
    import numpy as np

    np.savez(root / "bad.npz", images=np.zeros((3, 8, 8)))
    assert main(["fit", str(root / "bad.npz"), "--out", str(root / "m.pkl")]) == 2
    assert "array named 'X'" in capsys.readouterr().err


def test_demo_on_digits_writes_images_and_reports(tmp_path, capsys):
    assert main(["demo", "--data", "digits", "--out-dir", str(tmp_path), "--steps", "2", "--quiet",
                 "--models", "gan"]) == 0
    for name in ("synthetic_digits_gan.npz", "synthetic_digits_gan.png", "report_gan.html", "report.html"):
        assert (tmp_path / name).stat().st_size > 0
    assert 'id="images"' in (tmp_path / "report_gan.html").read_text()
    assert "label_fidelity" in capsys.readouterr().out


def test_private_image_fit_declares_its_classes(digits_npz, capsys):
    root = digits_npz
    pkl = root / "dp_images.pkl"
    base = ["fit", str(root / "digits.npz"), "--out", str(pkl), "--steps", "2", "--quiet", "--epsilon", "20"]
    assert main(base) == 2 and "classes must be declared" in capsys.readouterr().err
    assert main(base + ["--categories", "y=" + ",".join(map(str, range(10)))]) == 0
    assert "differential privacy" in capsys.readouterr().out
