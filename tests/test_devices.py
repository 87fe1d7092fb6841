"""Device handling: CPU everywhere, CUDA paths when a GPU is present."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from synthaug import DiffusionSampler
from synthaug._base import resolve_device
from synthaug.datasets import load_credit

from _tiny import TINY

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_auto_device_is_cpu_without_cuda():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful without a GPU")
def test_explicit_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        DiffusionSampler(**TINY, device="cuda").fit(load_credit().head(50))


@cuda
def test_cuda_trained_model_samples_on_cpu(monkeypatch):
    df = load_credit().head(200)
    model = DiffusionSampler(**TINY, device="cuda", random_state=0).fit(df)
    assert model.device_.type == "cuda" and next(model.network_.parameters()).is_cuda
    blob = pickle.dumps(model)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = pickle.loads(blob)
    assert loaded.device_.type == "cpu"
    out = loaded.sample(20, random_state=0)
    assert isinstance(out, pd.DataFrame) and out.dtypes.equals(df.dtypes)


@cuda
def test_cuda_same_seed_same_samples():
    df = load_credit().head(200)
    a = DiffusionSampler(**TINY, device="cuda", random_state=1).fit(df).sample(30, random_state=0)
    b = DiffusionSampler(**TINY, device="cuda", random_state=1).fit(df).sample(30, random_state=0)
    pd.testing.assert_frame_equal(a, b)


# ----------------------------------------------------------------- precision and compile (CPU paths)
@pytest.mark.parametrize("kind", ["diffusion", "gan"])
def test_bf16_autocast_trains_on_cpu(kind, monkeypatch):
    from synthaug.datasets import load_credit

    from _tiny import tiny

    seen = []
    original = torch.autocast

    def spy(*args, **kwargs):
        seen.append(kwargs.get("dtype"))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "autocast", spy)
    data = load_credit().head(150)
    model = tiny(kind, precision="bf16", random_state=0).fit(data)
    assert seen and set(seen) == {torch.bfloat16}
    assert np.isfinite(model.history_["critic" if kind == "gan" else "loss"]).all()
    seen.clear()
    tiny(kind, random_state=0).fit(data)       # "auto" on a CPU: fp32, no autocast
    assert not seen


def test_precision_and_compile_refused_under_dp():
    from synthaug.datasets import load_credit

    from _tiny import tiny

    data = load_credit().head(150)
    with pytest.raises(ValueError, match="bf16"):
        tiny("diffusion", precision="bf16", epsilon=3.0).fit(data)
    with pytest.raises(ValueError, match="compile=True"):
        tiny("diffusion", compile=True, epsilon=3.0).fit(data)


def test_compile_trains_the_same_parameters():
    pytest.importorskip("torch._inductor")
    import shutil

    if shutil.which("g++") is None and shutil.which("cc") is None:
        pytest.skip("torch.compile on CPU needs a C++ compiler")
    from synthaug.datasets import load_credit

    from _tiny import tiny

    data = load_credit().head(150)
    model = tiny("diffusion", compile=True, random_state=0).fit(data)
    assert not any("_orig_mod" in k for k in model.network_.state_dict())   # the plain module is kept
    assert np.isfinite(model.history_["loss"]).all() and len(model.sample(5)) == 5
