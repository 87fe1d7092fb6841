"""Classifier-free guidance (Ho & Salimans 2022) as a wrapper around a class-conditional network."""

from __future__ import annotations

import torch

__all__ = ["ClassifierFreeGuidance"]


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
