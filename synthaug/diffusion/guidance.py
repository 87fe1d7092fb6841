"""Classifier-free guidance (Ho & Salimans 2022) as a wrapper around a class-conditional network."""

from __future__ import annotations

import torch

from ..noise import randn

__all__ = ["ClassifierFreeGuidance", "ColumnGuidance"]


class ClassifierFreeGuidance:
    """A callable model ``(x_t, t, cond) -> ε̃`` with ε̃ = (1 + w)·ε(x_t, c) − w·ε(x_t, ∅).

    The network is trained with the class label dropped (replaced by the
    "no class" index ``null_label``) for a share of rows, so one network
    gives both the conditional and the unconditional prediction; both come
    from one batched forward pass. ``scale`` w = 0 is plain conditional
    sampling (one pass); larger w trades diversity for class fidelity.

    ``cond`` is the ``(labels, mask)`` pair of :class:`~synthaug.nn.UNet`.

    Examples
    --------
    >>> import torch
    >>> from synthaug.nn import UNet
    >>> net = UNet(1, (8, 8), width=16, n_blocks=1, n_classes=2)
    >>> guided = ClassifierFreeGuidance(net, scale=2.0, null_label=2)
    >>> guided(torch.zeros(3, 1, 8, 8), torch.tensor([10]), (torch.tensor([0, 1, 1]), None)).shape
    torch.Size([3, 1, 8, 8])
    """

    def __init__(self, model, *, scale, null_label):
        self.model, self.scale, self.null_label = model, float(scale), int(null_label)

    def __call__(self, x, t, cond):
        labels, mask = cond
        if self.scale == 0 or labels is None:
            return self.model(x, t, cond)
        null = torch.full_like(labels, self.null_label)
        mask2 = None if mask is None else torch.cat([mask, mask])
        out = self.model(torch.cat([x, x]), t, (torch.cat([labels, null]), mask2))
        conditional, unconditional = out.chunk(2)
        return conditional + self.scale * (conditional - unconditional)


class ColumnGuidance:
    """Classifier-free guidance on one given column of a table denoiser (the class of ``sample(n, y=...)``).

    A table denoiser learns, through its random conditioning masks, both the
    prediction with the column given clean and the one with the column
    generated along with the rest (noised to the same timestep). Guidance
    extrapolates from the second to the first,

        ε̃ = (1 + w)·ε(x_t, column given) − w·ε(x_t', column generated)

    (the whole output alike: the ε of scores, the logits of categorical
    levels), where ``x_t'`` is ``x_t`` with the column's dimensions drawn from
    q(x_t | x₀ = the given value), as the network saw a generated column in
    training. The column being itself noised, the two predictions part at
    high noise (where a row's class-typical shape is decided) and meet as
    t → 0. Every row has the column given.

    Parameters
    ----------
    conditional, free : callable ``(x_t, t, cond) -> output``
        The denoiser with the column flagged given, and flagged generated.
    process : GaussianDiffusion
        Its forward process (for q(x_t | x₀)).
    scale : float
        Guidance weight w; 0 is plain conditional sampling.
    dims : sequence of int
        The column's model-space dimensions.
    x_given : torch.Tensor (B, width)
        The given values (model space).
    generator : torch.Generator, optional

    Examples
    --------
    >>> import numpy as np, torch
    >>> from synthaug.diffusion import GaussianDiffusion
    >>> process = GaussianDiffusion(np.linspace(1e-4, 0.02, 100))
    >>> net = lambda x, t, cond: x.clone()                  # any (x_t, t, cond) -> output
    >>> guided = ColumnGuidance(net, net, process, scale=1.0, dims=[2, 3], x_given=torch.ones(4, 4))
    >>> out = guided(torch.zeros(4, 4), torch.tensor([99]), None)
    >>> bool((out[:, :2] == 0).all()), out.shape            # only the column's dims differ between the two
    (True, torch.Size([4, 4]))
    """

    def __init__(self, conditional, free, process, *, scale, dims, x_given, generator=None):
        self.conditional, self.free, self.process = conditional, free, process
        self.scale, self.generator = float(scale), generator
        self.dims = torch.as_tensor(dims, dtype=torch.long, device=x_given.device)
        self.x0 = x_given.index_select(1, self.dims)

    def __call__(self, x, t, cond):
        out = self.conditional(x, t, cond)
        if self.scale == 0:
            return out
        noise = randn(self.x0.shape, self.generator, device=x.device, dtype=x.dtype)
        x_free = x.clone()
        x_free[:, self.dims] = self.process.q_sample(self.x0.to(x.dtype), t, noise)
        return out.add_(out - self.free(x_free, t, cond), alpha=self.scale)
