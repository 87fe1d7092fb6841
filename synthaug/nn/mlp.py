"""Residual MLP denoiser for rows in model space."""

from __future__ import annotations

import copy

import torch
from torch import nn

from .embeddings import timestep_embedding

__all__ = ["ResidualMLP", "FoldedResidualMLP"]


class _Block(nn.Module):
    """Pre-norm residual block: h + W₂·drop(SiLU(W₁·SiLU(LN(h)) + E·temb))."""

    def __init__(self, width, time_dim, dropout):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width)
        self.time = nn.Linear(time_dim, width) if time_dim else None
        self.fc2 = nn.Linear(width, width)
        self.drop = nn.Dropout(dropout)

    def forward(self, h, temb, rows=None):
        z = self.fc1(nn.functional.silu(self.norm(h)))
        if temb is not None:
            tt = self.time(temb)
            z = z + (tt if rows is None else tt.index_select(0, rows))
        return h + self.fc2(self.drop(nn.functional.silu(z)))


class ResidualMLP(nn.Module):
    """Map ``(x, t, cond)`` to a vector of the same width as ``x``.

    A pure network: it knows nothing of noise schedules or sampling. ``cond``
    (e.g. the mask of given columns) is concatenated to ``x``.

    Parameters
    ----------
    d_in : int
        Width of ``x``.
    d_out : int
        Width of the output.
    cond_dim : int, default=0
        Width of ``cond``.
    width : int, default=256
    depth : int, default=3
        Number of residual blocks.
    time_dim : int, default=128
        Width of the sinusoidal time embedding; 0 for a network without time
        (a GAN generator), whose ``t`` is then ignored.
    dropout : float, default=0.0
    zero_out : bool, default=True
        Initialise the output layer at zero.
    skip_dim : int, default=0
        Width of extra features after the first ``cond_dim`` columns of
        ``cond`` that bypass the blocks: a linear map of them is added to
        the outputs ``skip_outputs``. Features that already predict those
        outputs (a simpler model's log-probabilities of a category's
        levels, added to its logits) are then a starting point the blocks
        correct, and the blocks never see them.
    skip_outputs : sequence of int, optional
        Output indices the skip map reaches (default all ``d_out``).
    skip_init : float, default=0.0
        The skip map starts as this multiple of the identity (``skip_dim``
        must then equal the number of ``skip_outputs``); 0 starts it at zero.

    Examples
    --------
    >>> import torch
    >>> net = ResidualMLP(5, 5, cond_dim=2, width=16, depth=1)
    >>> net(torch.zeros(3, 5), torch.tensor([0, 5, 9]), torch.ones(3, 2)).shape
    torch.Size([3, 5])
    """

    #: Run the time path once per distinct timestep of the batch (see :meth:`_time`); per-sample gradients
    #: (DP-SGD) need one row per sample in every layer, so :func:`~synthaug.privacy.dp_sgd.make_private` turns it off.
    shared_time = True

    def __init__(self, d_in, d_out, *, cond_dim=0, width=256, depth=3, time_dim=128, dropout=0.0, zero_out=True,
                 skip_dim=0, skip_outputs=None, skip_init=0.0):
        super().__init__()
        self.cond_dim = cond_dim
        self.time_dim = time_dim
        self.skip_dim = skip_dim
        if skip_dim:
            outputs = torch.arange(d_out) if skip_outputs is None else torch.as_tensor(skip_outputs, dtype=torch.long)
            self.register_buffer("skip_outputs", outputs)
            self.skip = nn.Linear(skip_dim, len(outputs), bias=False)
            with torch.no_grad():
                self.skip.weight.copy_(skip_init * torch.eye(len(outputs), skip_dim) if skip_init else 0.0)
        self.inp = nn.Linear(d_in + cond_dim, width)
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim)) \
            if time_dim else None
        self.blocks = nn.ModuleList(_Block(width, time_dim, dropout) for _ in range(depth))
        self.out_norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, d_out)
        if zero_out:  # a denoiser starts as the identity-in-expectation; a generator must not start constant
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x, t=None, cond=None):
        if self.cond_dim:
            x = torch.cat([x, cond[:, : self.cond_dim].to(x.dtype)], dim=1)
        temb, rows = self._time(t) if self.time_dim else (None, None)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, temb, rows)
        out = self.out(nn.functional.silu(self.out_norm(h)))
        if self.skip_dim:
            out = out.index_add(1, self.skip_outputs, self.skip(cond[:, self.cond_dim:].to(out.dtype)))
        return out

    def _time(self, t):
        """Time embedding and, when it is computed per distinct timestep, each row's index into it.

        On CPU a batch with repeated timesteps (a training batch of 512 rows
        shares at most 128, :func:`~synthaug.diffusion.trainer.stratified_timesteps`)
        runs the time path once per distinct value: three of the seven matrix
        products of a one-block network. On CUDA (``unique`` would wait for the device) and
        for a single timestep the path runs as given.
        """
        if self.shared_time and t.numel() > 1 and not t.is_cuda:
            levels, rows = torch.unique(t.reshape(-1), return_inverse=True)
            if levels.numel() < t.numel():
                return self.time_mlp(timestep_embedding(levels, self.time_dim)), rows
        return self.time_mlp(timestep_embedding(t, self.time_dim)), None

    def folded(self):
        """An inference copy with the outputs of ``self.eval()``; see :class:`FoldedResidualMLP`."""
        return FoldedResidualMLP(self)


class FoldedResidualMLP(nn.Module):
    """Inference form of a :class:`ResidualMLP`: the same function in fewer passes over memory.

    A sampler calls the denoiser many times on the same rows with the same
    condition and one timestep for the whole batch. So the input layer's
    weight is split into its ``x`` and ``cond`` parts and the condition's
    part (with the bias) is computed once per batch (:meth:`condition_part`);
    a block's time term and first bias are one vector per call, added by the
    matrix product itself; the second product accumulates into the residual
    stream in place; activations run in place. Nothing is concatenated. The
    outputs equal ``network.eval()(x, t, cond)`` up to float rounding.

    Parameters
    ----------
    network : ResidualMLP

    Examples
    --------
    >>> import torch
    >>> net = ResidualMLP(4, 4, cond_dim=2, width=8, depth=2).eval()
    >>> x, c, t = torch.randn(5, 4), torch.randn(5, 2), torch.tensor([7])
    >>> torch.allclose(net.folded()(x, t, c), net(x, t, c), atol=1e-5)
    True
    >>> torch.allclose(net.folded()(x, t, c, outputs=slice(1, 3)), net(x, t, c)[:, 1:3], atol=1e-5)
    True
    """

    def __init__(self, network: ResidualMLP):
        super().__init__()
        network = copy.deepcopy(network).eval().requires_grad_(False)
        self.cond_dim, self.time_dim = network.cond_dim, network.time_dim
        d_x = network.inp.in_features - self.cond_dim
        weight = network.inp.weight
        self.register_buffer("w_x", weight[:, :d_x].t().contiguous())
        self.register_buffer("w_cond", weight[:, d_x:].t().contiguous())
        self.register_buffer("b_in", network.inp.bias.clone())
        self.time_mlp = network.time_mlp
        self.norms = nn.ModuleList(block.norm for block in network.blocks)
        self.times = nn.ModuleList(block.time for block in network.blocks) if self.time_dim else None
        for k, block in enumerate(network.blocks):
            self.register_buffer(f"w1_{k}", block.fc1.weight.t().contiguous())
            self.register_buffer(f"b1_{k}", block.fc1.bias.clone())
            self.register_buffer(f"w2_{k}", block.fc2.weight.t().contiguous())
            self.register_buffer(f"b2_{k}", block.fc2.bias.clone())
        self.out_norm = network.out_norm
        self.register_buffer("w_out", network.out.weight.t().contiguous())
        self.register_buffer("b_out", network.out.bias.clone())
        self.skip_dim, self.width = network.skip_dim, network.inp.out_features
        if self.skip_dim:   # the skip map as a (skip_dim, d_out) matrix: its product is a per-row output bias
            w_skip = torch.zeros(self.skip_dim, network.out.out_features)
            w_skip[:, network.skip_outputs] = network.skip.weight.t()
            self.register_buffer("w_skip", w_skip)

    def condition_part(self, cond):
        """The input layer's bias plus the condition's product, ``(B, width)``; see :meth:`forward`.

        With skip features, the output bias they give is appended: ``(B, width + d_out)``.
        """
        if not self.cond_dim and not self.skip_dim:
            return self.b_in.unsqueeze(0)
        cond = cond.to(self.b_in.dtype)
        part = torch.addmm(self.b_in, cond[:, : self.cond_dim], self.w_cond) if self.cond_dim \
            else self.b_in.expand(len(cond), -1)
        if self.skip_dim:
            part = torch.cat([part, torch.addmm(self.b_out, cond[:, self.cond_dim:], self.w_skip)], dim=1)
        return part

    def forward(self, x, t=None, cond=None, *, cond_part=None, outputs=None):
        """Output ``(B, d_out)``; ``cond_part`` (from :meth:`condition_part`) replaces ``cond``.

        ``outputs``, a slice, computes only those outputs (the last layer's
        product restricted to them).
        """
        if cond_part is None:
            cond_part = self.condition_part(cond)
        out_bias = None
        if self.skip_dim:
            cond_part, out_bias = cond_part[:, : self.width], cond_part[:, self.width:]
        h = torch.addmm(cond_part.to(x.dtype), x, self.w_x)
        return self.after_input(h, t, out_bias=out_bias, outputs=outputs)

    def after_input(self, h, t=None, *, out_bias=None, outputs=None):
        """The network after its input layer, from ``h = x @ w_x + condition_part`` (``h`` is overwritten).

        A caller that changes a few input columns at a time can keep ``h``
        up to date with products of those columns only.
        """
        out_bias = self.b_out if out_bias is None else out_bias
        w_out = self.w_out
        if outputs is not None:
            w_out, out_bias = w_out[:, outputs], out_bias[..., outputs]
        return torch.addmm(out_bias.to(h.dtype), self.penultimate(h, t), w_out)

    def penultimate(self, h, t=None):
        """The activations ``(B, width)`` the output layer reads, from ``h`` as in :meth:`after_input`.

        The outputs are ``penultimate(h) @ w_out + b_out``; a caller may take
        that product in another layout (outputs × rows).
        """
        silu = nn.functional.silu
        temb = self.time_mlp(timestep_embedding(t, self.time_dim)) if self.time_dim else None
        for k, norm in enumerate(self.norms):
            bias = getattr(self, f"b1_{k}")
            if temb is not None:
                bias = bias + self.times[k](temb)
            z = silu(torch.addmm(bias, silu(norm(h), inplace=True), getattr(self, f"w1_{k}")), inplace=True)
            h = h.addmm_(z, getattr(self, f"w2_{k}")).add_(getattr(self, f"b2_{k}"))
        return silu(self.out_norm(h), inplace=True)
