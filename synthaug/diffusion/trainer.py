"""One optimisation step of a conditional diffusion model over encoded rows."""

from __future__ import annotations

import contextlib

import torch

from ..conditioning import random_given_columns
from ..privacy.dp_sgd import private_backward

__all__ = ["DiffusionStep"]


class DiffusionStep:
    """Callable ``step(index) -> {"loss": tensor}`` for :func:`synthaug.training.train`.

    Each call builds the model-space rows of ``index`` on the device, draws a
    random conditioning mask (some columns given clean, the rest generated),
    random timesteps and noise, and takes one optimiser step on the
    diffusion loss; the EMA copy follows. With ``private=True`` the network
    and optimizer are Opacus' wrappers (DP-SGD) and the batches are Poisson
    samples.
    """

    def __init__(self, process, network, optimizer, scheduler, ema, data, layout_tensors, *,
                 generator, p_unconditional=0.5, always_column=None, autocast=False, private=False):
        self.process = process
        self.network = network
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.ema = ema
        self.continuous, self.discrete = data
        self.lt = layout_tensors
        self.generator = generator
        self.p_unconditional = p_unconditional
        self.always_column = always_column
        self.autocast = autocast
        self.private = private

    def __call__(self, index):
        g, device = self.generator, self.continuous.device
        x0 = self.lt.to_model(self.continuous[index], self.discrete[index])
        b = x0.shape[0]
        cols = random_given_columns(b, self.lt.layout.n_columns, generator=g, device=device,
                                    p_unconditional=self.p_unconditional, always=self.always_column)
        given = cols[:, self.lt.dim_to_column]
        t = torch.randint(self.process.n_timesteps, (b,), generator=g, device=device)
        ctx = torch.autocast(device.type, dtype=torch.bfloat16) if self.autocast else contextlib.nullcontext()
        with ctx:
            per_row = self.process.training_loss(self.network, x0, t, given=given, cond=cols.float(), generator=g)
        self.optimizer.zero_grad(set_to_none=True)
        if self.private:
            # DP-SGD: each row's gradient clipped, then noise, over the expected batch size
            private_backward(self.network, self.optimizer, per_row)
            loss = per_row.detach().sum() / max(b, 1)
        else:
            loss = per_row.mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.network.parameters(), 1.0, foreach=True)
        self.optimizer.step()
        self.scheduler.step()
        self.ema.update(self.network)
        return {"loss": loss.detach()}
