"""Differentially private training of both samplers: the budget, the report, the constraints."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from synthaug.privacy.dp_sgd import check_private_module
from tests._tiny import tiny


def _table(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.integers(18, 70, n),
        "income": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(7, 0.5, n)),
        "city": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
    })


def _private(kind, **params):
    base = dict(epsilon=3.0, max_steps=6, random_state=0, batch_size=64)
    if kind == "gan":
        base["pac"] = 1
    return tiny(kind, **{**base, **params})


def test_private_fit_spends_the_budget_and_reports_it(kind):
    df = _table()
    model = _private(kind).fit(df)
    p = model.privacy_
    assert 0.99 * 3.0 <= p["epsilon"] <= 3.0
    assert p["delta"] == pytest.approx(p["target_delta"]) and p["delta"] < 1 / len(df)
    assert p["encoder_epsilon"] == pytest.approx(0.3)
    assert p["encoder_epsilon"] + p["training_epsilon"] == pytest.approx(p["epsilon"])
    assert p["noise_multiplier"] > 0 and 0 < p["sample_rate"] <= 1 and p["steps"] >= 6
    assert "training" in p["parts"] and any(k.startswith("encoder: city") for k in p["parts"])
    # the fitted model holds plain modules (no Opacus hooks) and pickles
    nets = [v for v in vars(model).values() if isinstance(v, torch.nn.Module)]
    assert nets and not any(m._forward_hooks or m._backward_hooks or m._forward_pre_hooks
                            for net in nets for m in net.modules())
    model = pickle.loads(pickle.dumps(model))
    synth = model.sample(50)
    assert list(synth.columns) == list(df.columns) and (synth.dtypes == df.dtypes).all()
    assert set(synth["city"].dropna()) <= {"a", "b", "c"}


def test_private_fit_is_reproducible_and_clonable(kind):
    df = _table()
    a = _private(kind).fit(df).sample(20, random_state=1)
    b = _private(kind).fit(df).sample(20, random_state=1)
    pd.testing.assert_frame_equal(a, b)
    params = clone(_private(kind, delta=1e-4)).get_params()
    assert params["epsilon"] == 3.0 and params["delta"] == 1e-4


def test_private_fit_with_y_keeps_the_declared_classes(kind):
    df = _table()
    y = pd.Series(np.where(df["age"] > 40, "old", "young"), name="group")
    model = _private(kind, categories={"group": ["old", "young", "unborn"]}).fit(df, y)
    assert list(model.classes_) == ["old", "unborn", "young"]               # declared, not read off the labels
    assert model.class_prior_.sum() == pytest.approx(1.0)
    X, labels = model.sample(30, y="old")
    assert (labels == "old").all()
    as_dtype = _private(kind).fit(df, y.astype(pd.CategoricalDtype(["young", "old"])))
    assert set(as_dtype.classes_) == {"old", "young"}


def test_private_history_holds_no_loss_measured_on_real_rows(kind):
    model = _private(kind).fit(_table())
    assert set(model.history_) == {"step", "seconds"} and model.history_["step"]
    assert set(model._train_state["history"]) == {"step", "seconds"}


def test_private_fit_refuses_classes_read_off_the_labels(kind):
    df = _table()
    y = pd.Series(["common"] * (len(df) - 1) + ["patient_4711"], name="group")
    with pytest.raises(ValueError, match="classes must be declared"):
        _private(kind).fit(df, y)
    with pytest.raises(ValueError, match="'patient_4711', which is not among its declared classes"):
        _private(kind, categories={"group": ["common"]}).fit(df, y)


def test_no_epsilon_means_no_report_and_no_privacy_options(kind):
    df = _table()
    assert tiny(kind, random_state=0).fit(df).privacy_ is None
    for name, value in (("delta", 1e-5), ("bounds", {"age": (0, 100)}), ("categories", {"city": ["a"]})):
        with pytest.raises(ValueError, match="set epsilon too"):
            tiny(kind, **{name: value}).fit(df)


def test_options_outside_the_budget_are_refused(kind):
    df = _table()
    with pytest.raises(ValueError, match=f"delta=0.5 is not below 1/n .*n = {len(df)} rows"):
        _private(kind, delta=0.5).fit(df)
    with pytest.raises(ValueError, match="not below 1/n"):
        _private(kind, delta=1 / len(df)).fit(df)
    with pytest.raises(ValueError, match="quality_filter"):
        _private(kind, quality_filter=0.2).fit(df)


@pytest.mark.parametrize("params, match", [
    ({"pac": 2}, "pac=2"),
    ({"spectral_norm": True}, "spectral_norm"),
    ({"loss": "wgan-gp"}, "gradient penalty"),
    ({"loss": "hinge", "gp_weight": 5.0}, "gradient penalty"),
    ({"consistency": 1.0}, "consistency"),
    ({"energy": 0.5}, "energy"),
])
def test_private_gan_refuses_what_per_sample_clipping_cannot_do(params, match):
    with pytest.raises(ValueError, match=match):
        _private("gan", **params).fit(_table())


def test_private_gan_defaults_to_bce_and_trains_without_gradient_penalty():
    model = _private("gan", loss="auto", n_critic="auto").fit(_table())
    assert model.loss_ == "bce"
    assert (model.n_critic_, model.critic_lr_) == (3, model.lr_)   # "auto": the DP critic keeps 3 updates at lr
    assert model.privacy_["steps"] == model.n_iter_ * model.n_critic_
    assert model.coverage_ is None   # measured against the training rows: not part of a private release
    assert model.predictor_ is None and model._gibbs_sweeps() == 2   # no level predictor read the rows outside DP-SGD
    assert {"predictor", "consistency", "energy"}.isdisjoint(model.history_)   # no term read the rows outside DP-SGD


def test_batchnorm_cannot_be_private():
    with pytest.raises(ValueError, match="BatchNorm1d"):
        check_private_module(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)))


def test_private_bounds_and_categories_reach_the_encoder(kind):
    df = _table()
    model = _private(kind, bounds={"age": (0, 100)}, categories={"city": ["a", "b", "c", "d"]}).fit(df)
    enc = model.encoder_.encoders_
    assert (enc["age"].min_, enc["age"].max_) == (0, 100)
    assert list(enc["city"].levels_) == ["a", "b", "c", "d"]


def test_auto_depth_is_one_block_without_privacy_and_two_with_it():
    # the DP default stays the network the privacy figures were measured with
    from synthaug import DiffusionSampler

    params = dict(max_steps=3, batch_size=64, width=16, n_timesteps=8, sampling_steps=2, random_state=0, verbose=False)
    assert len(DiffusionSampler(**params).fit(_table()).network_.blocks) == 1
    assert len(DiffusionSampler(epsilon=3.0, **params).fit(_table()).network_.blocks) == 2
    assert len(DiffusionSampler(depth=3, **params).fit(_table()).network_.blocks) == 3


def test_dropout_reaches_the_denoiser_with_and_without_privacy():
    # dropout acts while training only: the EMA copy that samples is in evaluation mode, so sampling stays
    # reproducible; DP-SGD's per-row clipping sees through it (it sits between the clipped layers)
    from synthaug import DiffusionSampler

    params = dict(max_steps=3, batch_size=64, width=16, n_timesteps=8, sampling_steps=2, random_state=0, verbose=False)
    for extra in ({}, {"epsilon": 3.0}):
        model = DiffusionSampler(dropout=0.25, **params, **extra).fit(_table())
        drops = [m for m in model.network_.modules() if isinstance(m, torch.nn.Dropout)]
        assert drops and all(m.p == 0.25 for m in drops) and not model.network_.training
        pd.testing.assert_frame_equal(model.sample(50, random_state=1), model.sample(50, random_state=1))
    assert all(m.p == 0.0 for m in DiffusionSampler(**params).fit(_table()).network_.modules()
               if isinstance(m, torch.nn.Dropout))
    with pytest.raises(ValueError, match="dropout"):
        DiffusionSampler(dropout=1.0, **params).fit(_table())


def test_a_constant_or_empty_column_is_learnt_not_refused(kind):
    """Refusing the table would disclose that every row holds one value; a private fit learns the column."""
    df = _table().assign(flag="no", empty=np.nan)
    model = _private(kind, categories={"city": ["a", "b", "c"], "flag": ["no", "yes"]}).fit(df)
    synth = model.sample(200, random_state=0)
    assert set(synth["flag"].dropna()) <= {"no", "yes"} and list(synth.columns) == list(df.columns)
