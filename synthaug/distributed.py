"""One model trained by several processes with ``torch.distributed``, launched by ``torchrun``.

Every process reads the whole table and fits the same encoder (same seed),
then trains on its own shard of rows (``rank::world_size``) with its own
random streams, each batch being ``batch_size / world_size`` rows, so a step
computes as much as one process would. Gradients are all-reduced: the
diffusion denoiser is wrapped in ``DistributedDataParallel``; the GAN's two
networks, whose steps need several forward passes (and, for WGAN-GP, a
double backward) per update, average their gradients with one bucketed
``all_reduce`` after each backward. The backend is NCCL on GPUs and gloo on
CPUs. Only rank 0 writes checkpoints and (through the CLI) the model.

Launch::

    torchrun --nproc_per_node 2 -m synthaug fit data.csv --out model.pkl

or, from Python, call :func:`init_from_env` in each process started by
``torchrun`` and fit as usual: the estimators see the process group.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

__all__ = ["world", "init_from_env", "shard_rows", "data_parallel", "allreduce_gradients", "shared_seed",
           "broadcast_module", "split_stream", "join_streams"]


def world():
    """``(rank, world_size)`` of the initialised default process group, or ``(0, 1)``."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(backend=None):
    """Join the process group ``torchrun`` describes (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, …).

    Returns True when running distributed (``WORLD_SIZE`` > 1). The backend
    defaults to ``"nccl"`` when CUDA is available, else ``"gloo"``; on CUDA
    each process takes the GPU ``LOCAL_RANK``.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_initialized():
        if backend is None:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":  # CUDA only: one GPU per process
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
    return True


def shard_rows(n_rows, device):
    """Row indices this process trains on: ``rank, rank + world_size, …`` (None in one process)."""
    rank, size = world()
    if size == 1:
        return None
    if n_rows < size:
        raise ValueError(f"{n_rows} rows cannot be shared among {size} processes.")
    return torch.arange(rank, n_rows, size, device=device)


def data_parallel(module, device):
    """``DistributedDataParallel(module)`` when distributed, else the module."""
    if world()[1] == 1:
        return module
    ids = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)


def allreduce_gradients(module):
    """Average the gradients of ``module`` over the processes (one flattened ``all_reduce``)."""
    size = world()[1]
    if size == 1:
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= size
    offset = 0
    for g in grads:
        g.copy_(flat[offset: offset + g.numel()].view_as(g))
        offset += g.numel()


def shared_seed(seed):
    """``seed`` as rank 0 drew it, in every process (itself in one process).

    An unseeded fit draws its seed from the OS in each process; the
    processes must still initialise the same networks and fit the same
    encoder.
    """
    if world()[1] == 1:
        return seed
    box = [seed]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def broadcast_module(module):
    """Rank 0's parameters and buffers in every process (BatchNorm statistics are gathered per process)."""
    if world()[1] == 1:
        return
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor, src=0)


def split_stream(generator):
    """Reseed ``generator``, in the same state in every process, to a stream of its own per process.

    A checkpoint holds rank 0's training stream; restored everywhere it would
    give every process the same batches' noise. Each process draws the same
    number from it and adds its rank.
    """
    rank, size = world()
    if size == 1 or generator is None:
        return generator
    seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
    return generator.manual_seed(seed + rank)


def join_streams(generator):
    """Undo the per-process offset of a training stream (seeded ``seed + rank``): one stream in every process.

    What follows training (calibrations, anchor weights) must agree across
    the processes; in one process the stream simply goes on.
    """
    rank, size = world()
    if size == 1 or generator is None:
        return generator
    return generator.manual_seed(generator.initial_seed() - rank + 1)
