"""Images behind the estimators: validation and scaling, networks, guidance, masks, fit/sample/resample/impute."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from synthaug import DiffusionSampler, GANSampler
from synthaug.datasets import load_digits
from synthaug.diffusion import ClassifierFreeGuidance
from synthaug.diffusion.masks import random_pixel_masks
from synthaug.encoding.images import ImageScaler, check_images, is_image_input
from synthaug.evaluation.image_metrics import frechet_distance
from synthaug.nn import ConvCritic, ConvGenerator, UNet
from synthaug.nn.unet import unet_levels

TINY = {"max_steps": 3, "width": 8, "verbose": False, "random_state": 0}
SAMPLERS = [DiffusionSampler, GANSampler]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:120], y[:120]


@pytest.fixture(scope="module", params=SAMPLERS, ids=lambda c: c.__name__)
def fitted(request, digits):
    X, y = digits
    return request.param(**TINY).fit(X, y)


# ---------------------------------------------------------------- validation and scaling
@pytest.mark.parametrize("shape", [(5, 8, 8), (5, 1, 8, 8), (4, 3, 7, 9)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64, np.int64])
def test_scaler_round_trip_keeps_convention(shape, dtype):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=shape)
    X = (X / 255).astype(dtype) if np.issubdtype(dtype, np.floating) else X.astype(dtype)
    scaler = ImageScaler().fit(X)
    Z = scaler.transform(X)
    assert Z.dtype == np.float32 and Z.ndim == 4 and Z.min() >= -1 and Z.max() <= 1
    back = scaler.inverse_transform(Z)
    assert back.shape == X.shape and back.dtype == X.dtype
    np.testing.assert_allclose(back, X, atol=1e-6)


@pytest.mark.parametrize("X, error, match", [
    ([np.zeros((8, 8)), np.zeros((9, 9))], ValueError, "mixed sizes"),
    (np.zeros((4, 8)), ValueError, "rank 2"),
    (np.zeros((2, 1, 1, 8, 8)), ValueError, "rank 5"),
    (np.full((2, 8, 8), 300), ValueError, "0..255"),
    (np.full((2, 8, 8), -1), ValueError, "0..255"),
    (np.full((2, 8, 8), 1.5), ValueError, r"\[0, 1\]"),
    (np.full((2, 8, 8), np.nan), ValueError, "NaN"),
    (np.full((2, 8, 8), np.inf), ValueError, "infinite"),
    (np.zeros((2, 8, 8), dtype=bool), TypeError, "dtype bool"),
    (np.zeros((2, 8, 8, 3)), ValueError, "channels"),
    (np.zeros((0, 8, 8)), ValueError, "no pixels"),
])
def test_bad_images_raise_clear_errors(X, error, match):
    with pytest.raises(error, match=match):
        check_images(X)


def test_image_input_detection():
    assert is_image_input(np.zeros((2, 8, 8))) and is_image_input(np.zeros((2, 1, 8, 8)))
    assert is_image_input([np.zeros((8, 8)), np.zeros((8, 8))])
    assert not is_image_input(np.zeros((2, 8))) and not is_image_input([[1, 2], [3, 4]])


def test_decoded_pixels_stay_within_the_training_range():
    """Integer images on a smaller scale (scikit-learn's digits are 0..16) come back on it."""
    X = np.random.default_rng(0).integers(0, 17, size=(5, 8, 8))
    scaler = ImageScaler().fit(X)
    out = scaler.inverse_transform(np.random.default_rng(1).uniform(-1, 1, size=(5, 1, 8, 8)))
    assert out.dtype == X.dtype and out.min() >= 0 and out.max() <= 16
    np.testing.assert_array_equal(scaler.inverse_transform(scaler.transform(X)), X)


def test_float_pixels_in_0_1_to_a_model_of_0_255_integers_are_warned_about():
    scaler = ImageScaler().fit(np.random.default_rng(0).integers(0, 256, size=(4, 8, 8)).astype(np.uint8))
    holes = np.random.default_rng(1).random((2, 8, 8))
    holes[0, 0, 0] = np.nan
    with pytest.warns(UserWarning, match="within \\[0, 1\\].*multiply"):
        scaler.transform(holes, allow_nan=True)


def test_scaler_refuses_other_sizes():
    scaler = ImageScaler().fit(np.zeros((3, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="fitted on 1×8×8"):
        scaler.transform(np.zeros((3, 9, 9), np.uint8))


# ------------------------------------------------------------------------- networks
@pytest.mark.parametrize("size", [(8, 8), (7, 9), (28, 28), (32, 32), (64, 64)])
def test_networks_handle_any_size(size):
    x = torch.zeros(2, 3, *size)
    labels = torch.tensor([0, 4])
    assert UNet(3, size, width=8, n_blocks=1, n_classes=4)(x, torch.tensor([3]), (labels, None)).shape == x.shape
    assert ConvGenerator(8, 3, size, width=4, n_classes=4)(torch.zeros(2, 8), labels).shape == x.shape
    for norm in ("none", "batch"):
        assert ConvCritic(3, size, width=4, n_classes=4, norm=norm)(x, labels).shape == (2,)


def test_unet_levels_and_attention_at_low_resolution():
    assert unet_levels(32, 32) == [(32, 32), (16, 16), (8, 8), (4, 4)]
    net = UNet(1, (32, 32), width=8, n_blocks=1)
    attn = [not isinstance(level.attn[0], torch.nn.Identity) for level in net.down]
    assert attn == [False, False, True, True]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())   # DP-SGD needs per-sample layers


def test_unet_mask_channel_changes_output():
    torch.manual_seed(0)
    net = UNet(1, (8, 8), width=8, n_blocks=1)
    torch.nn.init.normal_(net.out[-1].weight)
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([5])
    assert not torch.allclose(net(x, t, (None, torch.ones(2, 1, 8, 8))), net(x, t, None))


class _Constant(torch.nn.Module):
    """Output = label value (conditional) everywhere: makes guidance arithmetic checkable."""

    def forward(self, x, t, cond):
        labels, _ = cond
        return labels.float().view(-1, 1, 1, 1).expand_as(x)


def test_classifier_free_guidance_formula():
    x = torch.zeros(3, 1, 2, 2)
    labels = torch.tensor([0, 1, 2])
    out = ClassifierFreeGuidance(_Constant(), scale=2.0, null_label=5)(x, torch.tensor([1]), (labels, None))
    expected = (1 + 2.0) * labels.float() - 2.0 * 5   # (1 + w) ε(c) − w ε(∅)
    torch.testing.assert_close(out[:, 0, 0, 0], expected)
    plain = ClassifierFreeGuidance(_Constant(), scale=0.0, null_label=5)(x, torch.tensor([1]), (labels, None))
    torch.testing.assert_close(plain[:, 0, 0, 0], labels.float())


def test_pixel_masks():
    g = torch.Generator().manual_seed(0)
    masks = random_pixel_masks(400, 8, 8, generator=g, device="cpu", p_unconditional=0.5)
    assert masks.shape == (400, 1, 8, 8) and set(masks.unique().tolist()) <= {0.0, 1.0}
    empty = (masks.flatten(1).sum(1) == 0).float().mean().item()
    assert 0.4 < empty < 0.65                     # half unconditional (plus a few empty draws)
    partial = masks.flatten(1).mean(1)
    assert ((partial > 0) & (partial < 1)).any()  # holes of varied size
    none = random_pixel_masks(10, 8, 8, generator=g, device="cpu", p_unconditional=1.0)
    assert none.sum() == 0


def test_frechet_distance_of_a_set_to_itself_is_zero():
    a = np.random.default_rng(0).normal(size=(500, 4))
    assert abs(frechet_distance(a, a)) < 1e-8
    assert frechet_distance(a, a * 2) > 1


# -------------------------------------------------------------------------- estimators
def test_sample_per_class_keeps_convention(fitted, digits):
    X_new, y_new = fitted.sample(6, y=3)
    assert X_new.shape == (6, 1, 8, 8) and X_new.dtype == np.uint8
    assert (np.asarray(y_new) == 3).all()
    X_mix, y_mix = fitted.sample(10, y=np.arange(10))
    assert list(y_mix) == list(range(10))
    X_any, y_any = fitted.sample(20)
    assert set(np.asarray(y_any)) <= set(digits[1])


def test_sampling_is_reproducible_and_pickles(fitted):
    a, _ = fitted.sample(4, y=1, random_state=3)
    b, _ = fitted.sample(4, y=1, random_state=3)
    np.testing.assert_array_equal(a, b)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.sample(4, y=1, random_state=3)[0], a)


@pytest.mark.parametrize("cls", SAMPLERS)
def test_unconditional_float_images_and_three_dims(cls, digits):
    X = digits[0][:40, 0].astype(np.float32) / 255          # (N, H, W) float in [0, 1]
    model = clone(cls(**TINY)).fit(X)
    out = model.sample(5)
    assert out.shape == (5, 8, 8) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    with pytest.raises(ValueError, match="fitted without y"):
        model.sample(2, y=1)


@pytest.mark.parametrize("cls", SAMPLERS)
def test_fit_is_seeded(cls, digits):
    X, y = digits
    a = cls(**TINY).fit(X[:40], y[:40]).sample(3, y=2)[0]
    b = cls(**TINY).fit(X[:40], y[:40]).sample(3, y=2)[0]
    np.testing.assert_array_equal(a, b)


def test_bad_requests(fitted, digits):
    X, y = digits
    with pytest.raises(ValueError, match="not seen during fit"):
        fitted.sample(3, y=42)
    with pytest.raises(ValueError, match="conditions"):
        fitted.sample(3, conditions={"x0": 1})
    with pytest.raises(ValueError, match="n=4 rows, but y has shape \\(3,\\)"):
        fitted.sample(4, y=[1, 2, 3])
    with pytest.raises(ValueError, match="fitted on 1×8×8"):
        fitted.impute(np.zeros((2, 1, 9, 9)))
    model = clone(fitted)
    with pytest.raises(ValueError, match="length|rows|labels"):
        model.fit(X, y[:-1])
    with pytest.raises(ValueError, match="mixed sizes"):
        model.fit([np.zeros((8, 8)), np.zeros((9, 9))])
    with pytest.raises(ValueError, match="do not apply to images"):
        clone(fitted).set_params(discrete_columns=["x0"]).fit(X, y)
    with pytest.raises(ValueError, match="single image"):
        model.fit(X[:1])


def test_fit_resample_upsamples_image_classes(fitted, digits):
    X, y = digits
    keep = (y != 7) | (np.cumsum(y == 7) <= 3)                   # class 7 down to 3 images
    X_imb, y_imb = X[keep], y[keep]
    model = clone(fitted)
    X_res, y_res = model.fit_resample(X_imb, y_imb)
    counts = np.bincount(y_res)
    assert counts.min() == counts.max() == np.bincount(y_imb).max()
    np.testing.assert_array_equal(X_res[: len(X_imb)], X_imb)      # originals first, unchanged
    np.testing.assert_array_equal(y_res[: len(y_imb)], y_imb)
    assert X_res.dtype == X_imb.dtype and model.sampling_strategy_[7] == counts.max() - 3


def test_impute_fills_pixels_and_keeps_observed(fitted, digits):
    X = digits[0][:6].astype(np.float64)
    holes = np.zeros(X.shape, dtype=bool)
    holes[0, :, :4] = True           # top half
    holes[1, :, :, 5:] = True        # right side
    holes[2] = True                  # every pixel
    # row 3..5: nothing missing
    X[holes] = np.nan
    before = X.copy()
    out = fitted.impute(X)
    np.testing.assert_array_equal(X, before)                       # caller's array untouched
    assert not np.isnan(out).any() and out.dtype == X.dtype
    np.testing.assert_array_equal(out[~holes], X[~holes])          # observed pixels bit for bit
    assert out[holes].min() >= 0 and out[holes].max() <= 255
    draws = fitted.impute(X, n_draws=3, random_state=0)
    assert len(draws) == 3 and not np.array_equal(draws[0][holes], draws[1][holes])


@pytest.mark.parametrize("cls", SAMPLERS)
def test_refit_switches_between_tables_and_images(cls, digits):
    import pandas as pd

    model = cls(**TINY).fit(*digits)
    table = pd.DataFrame({"a": np.arange(60.0) % 7, "b": list("xyz") * 20})
    model.fit(table)
    assert not hasattr(model, "image_scaler_") and list(model.sample(3).columns) == ["a", "b"]
    model.fit(digits[0])
    assert not hasattr(model, "encoder_") and model.sample(2).shape == (2, 1, 8, 8)


@pytest.mark.parametrize("cls", SAMPLERS)
def test_private_image_training(cls, digits):
    X, y = digits
    model = cls(**{**TINY, "max_steps": 2}, epsilon=5.0).fit(X, pd.Series(y, dtype=pd.CategoricalDtype(range(10))))
    report = model.privacy_
    assert report["epsilon"] <= 5.0 * 1.001 and "class frequencies" in report["parts"]
    assert model.sample(2, y=0)[0].shape == (2, 1, 8, 8)


@pytest.mark.parametrize("cls", SAMPLERS)
def test_28_by_28_rgb_images_end_to_end(cls):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(12, 3, 28, 28), dtype=np.uint8)
    y = np.arange(12) % 2
    model = cls(**{**TINY, "max_steps": 2}).fit(X, y)
    out, labels = model.sample(3, y=1)
    assert out.shape == (3, 3, 28, 28) and out.dtype == np.uint8 and list(labels) == [1, 1, 1]
    holes = X[:2].astype(np.float32)
    holes[:, :, 10:20, 10:20] = np.nan
    filled = model.impute(holes)
    assert not np.isnan(filled).any() and np.array_equal(filled[:, :, :10], holes[:, :, :10])


def test_full_ddpm_sampling_on_images(digits):
    X, y = digits
    model = DiffusionSampler(**{**TINY, "n_timesteps": 20, "sampling_steps": 20}, guidance_scale=2.0).fit(X, y)
    assert model.sample(4, y=5)[0].shape == (4, 1, 8, 8)
