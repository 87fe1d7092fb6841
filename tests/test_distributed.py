"""Two processes, gloo on CPU: one model trained with torch.distributed matches one process's quality."""

import pickle
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from synthaug.datasets import load_credit

STEPS = 300
PARAMS = {"diffusion": dict(max_steps=STEPS, width=64, depth=2, verbose=False, random_state=0),
          "gan": dict(max_steps=STEPS // 2, width=32, critic_width=32, batch_size=200, verbose=False,
                      random_state=0)}
pytestmark = pytest.mark.skipif(not dist.is_available() or sys.platform == "win32",
                                reason="needs torch.distributed with gloo")


def _data():
    return load_credit().sample(1_000, random_state=0).reset_index(drop=True)


def _model(kind, **params):
    from synthaug import DiffusionSampler, GANSampler

    return {"diffusion": DiffusionSampler, "gan": GANSampler}[kind](**{**PARAMS[kind], **params})


def _worker(rank, kind, folder):
    """One process of the group: fit, record the rows it trained on, pickle the model."""
    from synthaug.diffusion.trainer import DiffusionStep
    from synthaug.gan.trainer import GANStep

    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=2)
    seen = []
    cls = DiffusionStep if kind == "diffusion" else GANStep
    original = cls.__call__

    def spy(self, index):
        seen.append(index.clone())
        return original(self, index)

    cls.__call__ = spy
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # unseeded, with numpy's global stream (where random_state=None draws from) different in each process:
        # they must still share rank 0's seed
        np.random.seed(rank)
        model = _model(kind, random_state=None).fit(_data())
    np.save(f"{folder}/rows_{rank}.npy", torch.cat(seen).numpy())
    with open(f"{folder}/model_{rank}.pkl", "wb") as fh:
        pickle.dump(model, fh)
    dist.destroy_process_group()


def _quality(model, data):
    from synthaug import evaluate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return evaluate(data, model.sample(len(data), random_state=0)).scores["quality"]


@pytest.mark.parametrize("kind", ["diffusion", "gan"])
def test_two_gloo_processes_train_one_model(kind, tmp_path):
    mp.spawn(_worker, args=(kind, str(tmp_path)), nprocs=2, join=True)
    rows = [set(np.load(tmp_path / f"rows_{r}.npy").tolist()) for r in range(2)]
    assert rows[0] and rows[1] and not rows[0] & rows[1]                 # each rank its own shard
    assert all(i % 2 == r for r in range(2) for i in rows[r])
    models = [pickle.loads((tmp_path / f"model_{r}.pkl").read_bytes()) for r in range(2)]
    net = "network_" if kind == "diffusion" else "generator_"
    for a, b in zip(*(getattr(m, net).state_dict().values() for m in models)):
        torch.testing.assert_close(a, b)      # one model: same start, gradients all-reduced, rank 0's BatchNorm
    # the calibrations after training agree too: both processes sample the same rows
    pd.testing.assert_frame_equal(models[0].sample(200, random_state=1), models[1].sample(200, random_state=1))
    data = _data()
    single = _model(kind).fit(data)
    assert abs(_quality(models[0], data) - _quality(single, data)) < 0.03


def test_a_restored_stream_splits_again_per_process(monkeypatch):
    """A checkpoint holds rank 0's stream: after a resume each process must draw its own noise again."""
    import synthaug.distributed as distributed

    def stream(rank):
        monkeypatch.setattr(distributed, "world", lambda: (rank, 2))
        generator = torch.Generator().manual_seed(123)               # the restored state, the same everywhere
        distributed.split_stream(generator)
        return torch.rand(5, generator=generator)

    assert not torch.equal(stream(0), stream(1))
    torch.testing.assert_close(stream(1), stream(1))                  # and reproducibly so
    monkeypatch.setattr(distributed, "world", lambda: (0, 1))
    one = torch.Generator().manual_seed(123)
    distributed.split_stream(one)                                     # one process: the stream goes on untouched
    fresh = torch.Generator().manual_seed(123)
    torch.testing.assert_close(torch.rand(5, generator=one), torch.rand(5, generator=fresh))
