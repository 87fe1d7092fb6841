"""GAN losses as pure functions of critic scores.

Each ``kind`` names a pair (critic loss, generator loss) over the raw critic
outputs ``real`` and ``fake`` (any shape, averaged):

``"wgan-gp"``  Wasserstein GAN (Arjovsky et al. 2017) with the gradient
               penalty of Gulrajani et al. (2017):
               critic  E[D(fake)] − E[D(real)] (+ λ·GP),  generator  −E[D(fake)].
``"hinge"``    Geometric/hinge GAN (Lim & Ye 2017; Miyato et al. 2018):
               critic  E[relu(1 − D(real))] + E[relu(1 + D(fake))],
               generator  −E[D(fake)].
``"bce"``      The original minimax game (Goodfellow et al. 2014) with logits:
               the discriminator maximises log σ(D(real)) + log(1 − σ(D(fake))),
               i.e. minimises softplus(−D(real)) + softplus(D(fake)); the
               generator uses the non-saturating loss −log σ(D(fake)) =
               softplus(−D(fake)).

:func:`gradient_penalty` is separate so that any loss can use it.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["LOSSES", "critic_loss", "energy_score", "generator_loss", "gradient_penalty"]

LOSSES = ("wgan-gp", "hinge", "bce")


def _check(kind):
    if kind not in LOSSES:
        raise ValueError(f"Unknown GAN loss {kind!r}; choose one of {LOSSES}.")


def critic_loss(kind, real, fake, *, reduction="mean"):
    """Loss the critic minimises, from its scores on real and generated rows.

    ``reduction="none"`` returns the per-row losses (real rows, then
    generated rows) instead of averaging each side: DP-SGD clips each row's
    gradient.

    Examples
    --------
    >>> import torch
    >>> critic_loss("wgan-gp", torch.tensor([2.0]), torch.tensor([-1.0]))
    tensor(-3.)
    >>> critic_loss("hinge", torch.tensor([2.0]), torch.tensor([-1.0]))
    tensor(0.)
    """
    _check(kind)
    if kind == "wgan-gp":
        parts = (-real, fake)
    elif kind == "hinge":
        parts = (F.relu(1 - real), F.relu(1 + fake))
    else:
        parts = (F.softplus(-real), F.softplus(fake))
    if reduction == "none":
        return torch.cat([p.reshape(-1) for p in parts])
    return parts[0].mean() + parts[1].mean()


def generator_loss(kind, fake):
    """Loss the generator minimises, from the critic's scores on its rows.

    Examples
    --------
    >>> import torch
    >>> generator_loss("bce", torch.tensor([0.0]))  # −log σ(0) = log 2
    tensor(0.6931)
    """
    _check(kind)
    if kind == "bce":
        return F.softplus(-fake).mean()
    return -fake.mean()


def gradient_penalty(critic, real, fake, *, generator=None, pac=1):
    """Gulrajani et al. (2017): E[(‖∇ D(x̂)‖₂ − 1)²] on random interpolates x̂.

    One mixing weight per packed group of ``pac`` rows (the critic scores
    groups, so the norm is of the gradient with respect to a whole group).

    Parameters
    ----------
    critic : callable ``(x) -> scores``
    real, fake : torch.Tensor of shape (B, d)
        ``B`` a multiple of ``pac``; ``fake`` is detached here.
    generator : torch.Generator, default=None
    pac : int, default=1

    Returns
    -------
    torch.Tensor
        Scalar penalty (differentiable with respect to the critic).

    Examples
    --------
    >>> import torch
    >>> critic = torch.nn.Linear(3, 1)
    >>> with torch.no_grad():
    ...     _ = critic.weight.copy_(torch.tensor([[0.6, 0.8, 0.0]]))
    >>> float(gradient_penalty(lambda x: critic(x), torch.zeros(4, 3), torch.ones(4, 3)).detach())
    0.0
    """
    groups = real.shape[0] // pac
    w = torch.rand(groups, 1, 1, generator=generator, device=real.device, dtype=real.dtype)
    mixed = (w * real.reshape(groups, pac, -1) + (1 - w) * fake.detach().reshape(groups, pac, -1))
    mixed = mixed.reshape(real.shape).requires_grad_(True)
    scores = critic(mixed)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norms = grad.reshape(groups, -1).norm(dim=1)
    return ((norms - 1) ** 2).mean()


def energy_score(fake, other, real, free):
    """Energy score of two generated rows per condition against the real one: ½‖f − x‖ + ½‖f′ − x‖ − ½‖f − f′‖.

    A strictly proper scoring rule (Gneiting & Raftery, 2007): its
    expectation over conditions is least when the generator's conditional
    distribution is the data's, so unlike a squared error it does not pull
    the rows toward their conditional mean. Only the ``free`` dims (not
    given) count.

    Parameters
    ----------
    fake, other : torch.Tensor of shape (B, d)
        Two generated rows per condition, from independent noise.
    real : torch.Tensor of shape (B, d)
        The real row each condition was taken from.
    free : torch.Tensor of shape (B, d), bool
        Dims the generator made (not given).

    Returns
    -------
    torch.Tensor
        The mean score over the rows (differentiable in ``fake`` and ``other``).

    Examples
    --------
    >>> import torch
    >>> x, free = torch.zeros(1, 2), torch.ones(1, 2, dtype=torch.bool)
    >>> round(float(energy_score(torch.tensor([[3.0, 4.0]]), torch.tensor([[3.0, 4.0]]), x, free)), 4)  # ‖(3, 4)‖
    5.0
    >>> round(float(energy_score(torch.tensor([[1.0, 0.0]]), torch.tensor([[-1.0, 0.0]]), x, free)), 4)  # 1 − ½·2
    0.0
    """
    w = free.to(fake.dtype)

    def norm(a, b):   # the gradient of a norm at 0 is undefined: keep the square root off 0
        return (((a - b) * w) ** 2).sum(dim=1).add(1e-12).sqrt()

    return (0.5 * (norm(fake, real) + norm(other, real)) - 0.5 * norm(fake, other)).mean()
