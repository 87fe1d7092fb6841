"""Device handling: CPU everywhere, CUDA paths when a GPU is present."""

import pickle

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
