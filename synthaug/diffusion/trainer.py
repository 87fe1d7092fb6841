"""One optimisation step of a conditional diffusion model: over encoded rows, or over images."""

from __future__ import annotations

import contextlib

import torch

from ..conditioning import random_given_columns
from ..optim import clip_grad_norm
from ..privacy.dp_sgd import private_backward
from .masks import random_pixel_masks

__all__ = ["DiffusionStep", "ImageDiffusionStep", "stratified_timesteps"]

#: Distinct timesteps of a training batch of rows (:func:`stratified_timesteps`).
TIMESTEP_LEVELS = 128


def stratified_timesteps(n_rows, n_timesteps, *, n_levels=TIMESTEP_LEVELS, logit_normal=None, generator=None,
                         device=None):
    """Timesteps ``(n_rows,)`` of a training batch: ``n_levels`` stratified draws shared among the rows.

    ``[0, 1)`` is cut into ``n_levels`` equal strata; one fraction ``u`` is
    drawn uniformly in each and mapped to a timestep, and each row takes one
    of them at random. The batch covers the distribution evenly, and the
    network's time path runs once per distinct value (see
    :class:`~synthaug.nn.mlp.ResidualMLP`).

    With ``logit_normal=None`` the timestep is ``⌊u T⌋``, uniform on
    ``{0, …, T − 1}``. With ``logit_normal=(m, s)`` it is ``⌊σ(m + s Φ⁻¹(u)) T⌋``:
    ``t / T`` follows a logit-normal distribution (the inverse-CDF map keeps
    the stratification), which spends the training on the middle of the
    chain rather than evenly (Esser et al. 2024 sample rectified-flow times
    this way).

    Examples
    --------
    >>> import torch
    >>> t = stratified_timesteps(512, 1000, generator=torch.Generator().manual_seed(0))
    >>> t.shape, int(t.unique().numel()) <= TIMESTEP_LEVELS, bool((t >= 0).all() and (t < 1000).all())
    (torch.Size([512]), True, True)
    >>> t = stratified_timesteps(512, 1000, logit_normal=(0.0, 0.5), generator=torch.Generator().manual_seed(0))
    >>> 300 < float(t.double().median()) < 700, bool((t >= 0).all() and (t < 1000).all())
    (True, True)
    """
    k = max(1, min(n_levels, n_rows, n_timesteps))
    u = torch.rand(k, generator=generator, device=device, dtype=torch.float64)
    if logit_normal is None:
        levels = ((torch.arange(k, device=device, dtype=torch.float64) + u) * (n_timesteps / k)).long()
    else:
        location, scale = logit_normal
        frac = (torch.arange(k, device=device, dtype=torch.float64) + u) / k
        levels = (torch.sigmoid(location + scale * torch.special.ndtri(frac)) * n_timesteps).long()
    levels = levels.clamp_(max=n_timesteps - 1)
    return levels.index_select(0, torch.randint(k, (n_rows,), generator=generator, device=device))


class _Step:
    """What every diffusion step shares: the optimiser update (plain or DP-SGD), the schedule and the EMA."""

    def __init__(self, process, network, optimizer, scheduler, ema, *, generator, autocast=False, private=False):
        self.process = process
        self.network = network
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.ema = ema
        self.generator = generator
        self.autocast = autocast
        self.private = private
        self._parameters = list(network.parameters())   # listed once, not a module-tree walk every step

    def _context(self, device):
        return torch.autocast(device.type, dtype=torch.bfloat16) if self.autocast else contextlib.nullcontext()

    def _update(self, per_row):
        """One optimiser step on the per-row losses; returns the mean loss (detached)."""
        self.optimizer.zero_grad(set_to_none=True)
        if self.private:
            # DP-SGD: each row's gradient clipped, then noise, over the expected batch size
            private_backward(self.network, self.optimizer, per_row)
            loss = per_row.detach().sum() / max(per_row.shape[0], 1)
        else:
            loss = per_row.mean()
            loss.backward()
            clip_grad_norm(self._parameters, 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.ema.update(self.network)
        return {"loss": loss.detach()}


class DiffusionStep(_Step):
    """Callable ``step(index) -> {"loss": tensor}`` for :func:`synthaug.training.train`.

    Each call builds the model-space rows of ``index`` on the device, draws a
    random conditioning mask (some columns given clean, the rest generated),
    random timesteps and noise, and takes one optimiser step on the
    diffusion loss; the EMA copy follows. With a ``residual``
    (:class:`~synthaug.residual.GaussianResidual`) the free scores
    are first mapped to residuals of their Gaussian conditional mean given
    the known ones, and the network's condition (the mask of given columns)
    is extended by the Gaussian's log-probabilities of the categorical
    levels given the known scores, which the network's skip adds to those
    levels' logits. With ``private=True`` the network
    and optimizer are Opacus' wrappers (DP-SGD) and the batches are Poisson
    samples.
    """

    def __init__(self, process, network, optimizer, scheduler, ema, data, layout_tensors, *,
                 generator, p_unconditional=0.5, always_column=None, residual=None, logit_normal=None, autocast=False,
                 private=False):
        super().__init__(process, network, optimizer, scheduler, ema, generator=generator, autocast=autocast,
                         private=private)
        self.continuous, self.discrete = data
        self.logit_normal = logit_normal
        self.lt = layout_tensors
        self.p_unconditional = p_unconditional
        self.always_column = always_column
        self.residual = residual

    def __call__(self, index):
        g, device = self.generator, self.continuous.device
        x0 = self.lt.gather(self.continuous, self.discrete, index)
        b = x0.shape[0]
        cols = random_given_columns(b, self.lt.layout.n_columns, generator=g, device=device,
                                    p_unconditional=self.p_unconditional, always=self.always_column)
        given = cols.index_select(1, self.lt.dim_to_column)
        cond = cols.float()
        if self.residual is not None:
            mu, ratio, predicted = self.residual.moments(x0, given, features=True)
            x0 = self.residual.to_residual(x0, given, mu, ratio)
            cond = torch.cat([cond, predicted], dim=1)
        t = stratified_timesteps(b, self.process.n_timesteps, logit_normal=self.logit_normal, generator=g,
                                 device=device)
        with self._context(device):
            per_row = self.process.training_loss(self.network, x0, t, given=given, cond=cond, generator=g)
        return self._update(per_row)


class ImageDiffusionStep(_Step):
    """Callable ``step(index) -> {"loss": tensor}`` training an image denoiser.

    The images of ``index`` (``(B, C, H, W)`` in [-1, 1], on the device) get
    random timesteps and noise; their class labels are replaced by the "no
    class" index ``n_classes`` with probability ``label_dropout`` (so the
    network also learns the unconditional prediction that classifier-free
    guidance needs), and a share ``1 − p_unconditional`` of them gets a
    random mask of pixels given clean (so the same network inpaints).
    """

    def __init__(self, process, network, optimizer, scheduler, ema, images, labels, *, n_classes, generator,
                 label_dropout=0.1, p_unconditional=0.8, autocast=False, private=False):
        super().__init__(process, network, optimizer, scheduler, ema, generator=generator, autocast=autocast,
                         private=private)
        self.images, self.labels, self.n_classes = images, labels, n_classes
        self.label_dropout, self.p_unconditional = label_dropout, p_unconditional

    def __call__(self, index):
        g, device = self.generator, self.images.device
        x0 = self.images[index]
        b, c, h, w = x0.shape
        labels = None
        if self.labels is not None:
            drop = torch.rand(b, generator=g, device=device) < self.label_dropout
            labels = torch.where(drop, self.n_classes, self.labels[index])
        mask = random_pixel_masks(b, h, w, generator=g, device=device, p_unconditional=self.p_unconditional)
        t = torch.randint(self.process.n_timesteps, (b,), generator=g, device=device)
        with self._context(device):
            per_row = self.process.training_loss(self.network, x0, t, given=mask.bool().expand(b, c, h, w),
                                                 cond=(labels, mask), generator=g)
        return self._update(per_row)
