"""DP-SGD wiring: per-sample gradients, clipping and noise from Opacus; Poisson-sampled batches.

The training loop keeps the encoded table on the device and draws row
indices; with privacy on, each row joins a batch independently with
probability ``sample_rate`` (Poisson sampling, which the accountant assumes),
so batch sizes vary and may be empty.
"""

from __future__ import annotations

import contextlib
import warnings

import torch

from .bookkeeping import BookkeepingClipping

__all__ = ["make_private", "private_backward", "release", "poisson_sample", "poisson_batches", "check_private_module",
           "quiet_hooks"]

# Layers that mix the rows of a batch: per-sample gradients do not exist for them.
_CROSS_SAMPLE = (torch.nn.modules.batchnorm._BatchNorm,)


def check_private_module(module):
    """Raise ``ValueError`` if ``module`` holds a layer that mixes rows (BatchNorm)."""
    for name, sub in module.named_modules():
        if isinstance(sub, _CROSS_SAMPLE):
            raise ValueError(f"Layer {name!r} ({type(sub).__name__}) mixes the rows of a batch and cannot be "
                             "trained with differential privacy.")


def make_private(module, optimizer, *, noise_multiplier, max_grad_norm, expected_batch_size, generator=None,
                 bookkeeping=False):
    """Wrap ``module`` and ``optimizer`` for DP-SGD with Opacus' ghost clipping (or book-keeping clipping).

    Ghost clipping computes each row's gradient norm without materialising
    per-row gradients (for a linear layer, the product of the norms of its
    input and of its output gradient), then backpropagates the loss
    re-weighted by each row's clipping factor: the clipped sum in two
    backward passes, a fraction of the cost of materialising per-row
    gradients (``benchmarks/dp_step.py`` times them). With
    ``bookkeeping=True`` and a network of linear and layer-norm layers, the
    same clipped sum comes from one backward pass instead
    (:class:`~synthaug.privacy.bookkeeping.BookkeepingClipping`). Call
    :func:`private_backward` with the per-row losses; the optimizer adds the
    noise and divides by ``expected_batch_size`` (so an empty Poisson batch
    still takes a noise-only step, as the accountant assumes).

    Returns
    -------
    module : GradSampleModuleFastGradientClipping or BookkeepingClipping
    optimizer : opacus.optimizers.DPOptimizerFastGradientClipping
    """
    from opacus.grad_sample import GradSampleModuleFastGradientClipping
    from opacus.optimizers import DPOptimizerFastGradientClipping

    check_private_module(module)
    for layer in module.modules():   # per-sample gradients: no computation shared across rows
        if getattr(layer, "shared_time", False):
            layer.shared_time = False
    if bookkeeping and BookkeepingClipping.supports(module):
        wrapped = BookkeepingClipping(module, max_grad_norm=max_grad_norm)
    else:
        wrapped = GradSampleModuleFastGradientClipping(module, loss_reduction="sum", max_grad_norm=max_grad_norm,
                                                       use_ghost_clipping=True)
    dp_optimizer = DPOptimizerFastGradientClipping(optimizer, noise_multiplier=noise_multiplier,
                                                   max_grad_norm=max_grad_norm,
                                                   expected_batch_size=expected_batch_size, loss_reduction="mean",
                                                   generator=generator)
    return wrapped, dp_optimizer


def private_backward(module, optimizer, per_row):
    """Backpropagate the clipped sum of the per-row losses ``per_row`` (shape ``(B,)``) into ``.grad``."""
    from opacus.utils.fast_gradient_clipping_utils import DPTensorFastGradientClipping

    if isinstance(module, BookkeepingClipping):
        module.clipped_backward(per_row)
        return
    DPTensorFastGradientClipping(module, optimizer, per_row, loss_reduction="sum").backward()


def release(wrapped):
    """The plain module inside an Opacus wrapper, with its hooks and per-sample buffers removed."""
    return wrapped.to_standard_module()


def poisson_sample(n_rows, sample_rate, generator, device):
    """Indices of a Poisson sample: each row in independently with ``sample_rate``."""
    keep = torch.rand(n_rows, generator=generator, device=device) < sample_rate
    return keep.nonzero().squeeze(1)   # one host sync per step: the batch size is random


def poisson_batches(n_rows, sample_rate, generator, device):
    """Endless stream of Poisson-sampled index tensors (:func:`poisson_sample`)."""
    while True:
        yield poisson_sample(n_rows, sample_rate, generator, device)


@contextlib.contextmanager
def quiet_hooks():
    """Silence the backward-hook notice that Opacus' per-sample gradients raise on every step."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True to a scalar")
        yield
