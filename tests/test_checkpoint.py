"""Checkpoints (resume a killed fit) and warm_start (continue training), on both samplers."""

import numpy as np
import pandas as pd
import pytest
import torch

from synthaug.checkpoint import TrainingState
from synthaug.datasets import load_credit, load_digits

from _tiny import SAMPLERS, tiny

KINDS = list(SAMPLERS)


@pytest.fixture(scope="module")
def credit():
    return load_credit().sample(200, random_state=0)


def _count_steps(monkeypatch, kind, fail_at=None):
    """Spy on the training step of ``kind``; raise KeyboardInterrupt at call ``fail_at`` (a killed process)."""
    from synthaug.diffusion.trainer import DiffusionStep
    from synthaug.gan.trainer import GANStep

    cls = DiffusionStep if kind == "diffusion" else GANStep
    original = cls.__call__
    calls = []

    def spy(self, index):
        calls.append(1)
        if fail_at is not None and len(calls) == fail_at:
            raise KeyboardInterrupt
        return original(self, index)

    monkeypatch.setattr(cls, "__call__", spy)
    return calls


@pytest.mark.parametrize("kind", KINDS)
def test_a_killed_fit_resumes_from_its_checkpoint(kind, credit, tmp_path, monkeypatch):
    path = tmp_path / "fit.ckpt"
    params = dict(max_steps=12, checkpoint=str(path), checkpoint_every=5, random_state=0)
    with monkeypatch.context() as m:
        _count_steps(m, kind, fail_at=8)
        with pytest.raises(KeyboardInterrupt):
            tiny(kind, **params).fit(credit)
    assert TrainingState.load(path)["step"] == 5                 # the last checkpoint before the kill
    calls = _count_steps(monkeypatch, kind)
    model = tiny(kind, **params).fit(credit)
    assert len(calls) == 7 and model.n_iter_ == 12               # only the lost steps are trained again
    assert model.history_["step"][-1] == 12 and TrainingState.load(path)["step"] == 12
    assert len(model.sample(5)) == 5


def test_a_resumed_gan_validates_its_level_predictor_on_the_uninterrupted_schedule(credit, tmp_path, monkeypatch):
    """The predictor is scored every 10 steps of the fit, counted from its start, whatever step it resumed at."""
    from synthaug.gan.consistency import LevelConsistency

    original, scored = LevelConsistency.validate, []

    def spy(self):
        scored.append(1)
        return original(self)

    monkeypatch.setattr(LevelConsistency, "validate", spy)
    params = dict(max_steps=30, random_state=0)
    tiny("gan", **params).fit(credit)
    assert len(scored) == 3                                        # steps 10, 20 and 30
    path = tmp_path / "gan.ckpt"
    with monkeypatch.context() as m:
        _count_steps(m, "gan", fail_at=18)
        with pytest.raises(KeyboardInterrupt):
            tiny("gan", checkpoint=str(path), checkpoint_every=7, **params).fit(credit)
    assert TrainingState.load(path)["step"] == 14
    scored.clear()
    resumed = tiny("gan", checkpoint=str(path), checkpoint_every=7, **params).fit(credit)
    assert len(scored) == 2                           # steps 20 and 30 (steps 15–30 were trained again)
    assert resumed.n_iter_ == 30


def test_a_warm_start_chooses_its_level_predictor_on_its_own_held_out_rows(credit):
    """The best predictor of the previous fit (and its held-out loss) is not carried over by warm_start."""
    model = tiny("gan", max_steps=20, random_state=0).fit(credit)
    first = [p.clone() for p in model.predictor_.parameters()]
    # as if the previous fit's held-out rows had been easy: a best loss that this fit's rows cannot beat
    model._train_state["modules"]["predictor_best"]["loss"] = torch.tensor(-1e9)
    model.set_params(warm_start=True).fit(credit)
    assert any(not torch.equal(a, b) for a, b in zip(first, model.predictor_.parameters()))


@pytest.mark.parametrize("kind", KINDS)
def test_a_finished_checkpoint_gives_the_same_model_without_training(kind, credit, tmp_path, monkeypatch):
    path = tmp_path / "done.ckpt"
    first = tiny(kind, max_steps=6, checkpoint=str(path), random_state=1).fit(credit)
    calls = _count_steps(monkeypatch, kind)
    again = tiny(kind, max_steps=6, checkpoint=str(path), random_state=1).fit(credit)
    assert not calls
    net = "network_" if kind == "diffusion" else "generator_"
    for a, b in zip(getattr(first, net).state_dict().values(), getattr(again, net).state_dict().values()):
        torch.testing.assert_close(a, b)


def test_a_fit_without_a_seed_resumes_too(credit, tmp_path, monkeypatch):
    """The checkpoint matches the rows as given, not their (randomly dequantised) encoding."""
    path = tmp_path / "unseeded.ckpt"
    params = dict(max_steps=12, checkpoint=str(path), checkpoint_every=5)
    with monkeypatch.context() as m:
        _count_steps(m, "diffusion", fail_at=8)
        with pytest.raises(KeyboardInterrupt):
            tiny("diffusion", **params).fit(credit)
    calls = _count_steps(monkeypatch, "diffusion")
    assert tiny("diffusion", **params).fit(credit).n_iter_ == 12 and len(calls) == 7


@pytest.mark.parametrize("kind", KINDS)
def test_warm_start_goes_on_past_a_finished_checkpoint(kind, credit, tmp_path, monkeypatch):
    path = tmp_path / "warm.ckpt"
    model = tiny(kind, max_steps=4, checkpoint=str(path), random_state=0).fit(credit)
    calls = _count_steps(monkeypatch, kind)
    model.set_params(warm_start=True, max_steps=6).fit(credit)
    assert len(calls) == 6 and model.n_iter_ == 10 and model.history_["step"][-1] == 10
    assert TrainingState.load(path)["step"] == 6 and TrainingState.load(path)["complete"]


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04truncated"])
def test_an_unreadable_checkpoint_is_named(credit, tmp_path, content):
    path = tmp_path / "broken.ckpt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="broken.ckpt cannot be read"):
        tiny("diffusion", max_steps=3, checkpoint=str(path)).fit(credit)
    with pytest.raises(ValueError, match="is a folder"):
        tiny("diffusion", max_steps=3, checkpoint=str(tmp_path)).fit(credit)


def test_a_checkpoint_of_another_fit_is_refused(credit, tmp_path):
    path = tmp_path / "other.ckpt"
    tiny("diffusion", max_steps=4, checkpoint=str(path), random_state=0).fit(credit)
    with pytest.raises(ValueError, match="holds another fit \\(other data\\)"):
        tiny("diffusion", max_steps=4, checkpoint=str(path), random_state=0).fit(credit.head(150))
    with pytest.raises(ValueError, match="holds another fit \\(other parameters: lr 'auto' → 0.1\\)"):
        tiny("diffusion", max_steps=4, checkpoint=str(path), random_state=0, lr=0.1).fit(credit)
    # parameters used only after training do not make it another fit: the finished checkpoint is resumed
    tiny("diffusion", max_steps=4, checkpoint=str(path), random_state=0, sampling_steps=3, eta=0.5).fit(credit)


@pytest.mark.parametrize("kind", KINDS)
def test_warm_start_continues_training(kind, credit, monkeypatch):
    model = tiny(kind, max_steps=5, random_state=0).fit(credit)
    encoder = model.encoder_
    net = "network_" if kind == "diffusion" else "generator_"
    before = [p.clone() for p in getattr(model, net).parameters()]
    calls = _count_steps(monkeypatch, kind)
    model.set_params(warm_start=True).fit(credit)
    assert len(calls) == 5 and model.n_iter_ == 10 and model.encoder_ is encoder
    assert model.history_["step"][-1] == 10
    assert all(np.diff(model.history_["seconds"]) >= 0)        # one clock over both fits
    assert any(not torch.equal(a, b) for a, b in zip(before, getattr(model, net).parameters()))
    with pytest.warns(UserWarning, match="columns differ"):
        model.fit(credit.drop(columns="Age"))                    # other columns: a fresh fit, said so
    assert model.n_iter_ == 5 and "Age" not in model.encoder_.columns_


def test_warm_start_on_new_values_names_what_the_kept_encoder_cannot_hold(credit):
    model = tiny("diffusion", max_steps=3, random_state=0).fit(credit).set_params(warm_start=True)
    with pytest.raises(ValueError, match="warm_start=True keeps.*'Home'.*castle"):
        model.fit(credit.assign(Home=["castle"] + list(credit["Home"].iloc[1:])))
    with pytest.warns(UserWarning, match="range the new values of \\['Income'\\]"):
        model.fit(credit.assign(Income=credit["Income"] * 100))


def test_warm_start_refuses_privacy_and_other_images(credit):
    model = tiny("diffusion", max_steps=3, random_state=0).fit(credit)
    with pytest.raises(ValueError, match="spend more than epsilon"):
        model.set_params(warm_start=True, epsilon=5.0).fit(credit)
    X, y = load_digits(return_X_y=True)
    images = tiny("diffusion", max_steps=2, random_state=0).fit(X[:40], y[:40])
    images.set_params(warm_start=True).fit(X[:40], y[:40])
    assert images.n_iter_ == 4
    with pytest.raises(ValueError, match="same shape and classes"):
        images.fit(np.zeros((10, 1, 9, 9), np.uint8))


@pytest.mark.parametrize("kind", ["diffusion", "gan"])
def test_a_refused_or_interrupted_refit_keeps_the_fitted_model(kind, credit, tmp_path, monkeypatch):
    model = tiny(kind, max_steps=3, random_state=0).fit(credit)
    before = model.sample(5, random_state=1)
    state = dict(model.__dict__)
    with pytest.raises(ValueError, match="warm_start=True keeps"):        # refused before any training
        model.set_params(warm_start=True).fit(credit.assign(Home=["castle"] + list(credit["Home"].iloc[1:])))
    other = tmp_path / "other.ckpt"
    tiny(kind, max_steps=2, random_state=5, checkpoint=other).fit(credit.head(100))
    with pytest.raises(ValueError, match="holds another fit"):
        model.set_params(warm_start=False, checkpoint=other).fit(credit)
    model.set_params(checkpoint=None)
    import synthaug._base as base

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(base, "train", interrupted)                       # Ctrl-C during training
    with pytest.raises(KeyboardInterrupt):
        model.fit(credit.head(200))
    assert model.__dict__.keys() == state.keys() and all(model.__dict__[k] is v for k, v in state.items())
    pd.testing.assert_frame_equal(model.sample(5, random_state=1), before)


def test_private_noise_is_not_reproducible_from_random_state_but_resumes(credit, tmp_path):
    """The seed of a private fit is drawn from the OS, never from a public parameter; its checkpoint keeps it."""
    table = credit[["Age", "Amount"]]
    params = dict(max_steps=3, random_state=0, epsilon=5.0, bounds={"Age": (18, 70), "Amount": (100, 5000)})
    a, b = (tiny("diffusion", **params).fit(table) for _ in range(2))
    assert not a.sample(20, random_state=1).equals(b.sample(20, random_state=1))
    assert not hasattr(a, "_private_seed") and a._train_state.get("seed") is None   # the seed is not kept
    path = tmp_path / "private.ckpt"
    first = tiny("diffusion", checkpoint=path, **params).fit(table)
    again = tiny("diffusion", checkpoint=path, **params).fit(table)        # the same noise: the same fit
    pd.testing.assert_frame_equal(first.sample(20, random_state=1), again.sample(20, random_state=1))
