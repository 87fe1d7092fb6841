"""Per-sample clipping in one backward pass ("book-keeping"), for networks of linear and layer-norm layers.

DP-SGD needs ``Σ_i c_i ∇ℓ_i`` with ``c_i = min(1, C / ‖∇ℓ_i‖)``. For a layer
``y = a Wᵀ + b`` applied to one vector per row, row *i*'s gradient is the
outer product ``g_i a_iᵀ`` of its output gradient and its input, so

* its norm is ``‖g_i‖ ‖a_i‖`` (the "ghost norm": no per-row gradient is
  materialised), and
* the clipped sum is ``(c ⊙ G)ᵀ A``: one matrix product, the one a plain
  backward pass would do for the weight anyway.

Layer norm's affine parameters are similar (``g_i ⊙ x̂_i`` and ``g_i``). So
one pass that computes the gradient of the loss with respect to every layer
*output* (not the weights), then the norms, then the clipped products, gives
exactly what Opacus' ghost clipping gives with a second backward pass over
the re-weighted loss (Bu et al. 2023, "Differentially private optimization on
large model at small cost"). The result goes to ``.grad``; Opacus'
``DPOptimizerFastGradientClipping`` then adds the noise and divides by the
expected batch size, as with ghost clipping.

Only networks whose parameters all sit in :class:`torch.nn.Linear` or
:class:`torch.nn.LayerNorm` layers applied once per forward pass to
``(rows, features)`` inputs are supported (the table denoiser); anything else
stays with Opacus.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BookkeepingClipping"]

_SUPPORTED = (nn.Linear, nn.LayerNorm)


class BookkeepingClipping(nn.Module):
    """Wrap ``module`` so that :meth:`clipped_backward` writes the per-row clipped gradient sum to ``.grad``.

    Parameters
    ----------
    module : nn.Module
        Every parameter in a ``Linear`` or ``LayerNorm`` layer (see
        :meth:`supports`).
    max_grad_norm : float
        Clipping norm ``C``.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    >>> wrapped = BookkeepingClipping(net, max_grad_norm=1.0)
    >>> per_row = wrapped(torch.randn(8, 3)).squeeze(1) ** 2
    >>> wrapped.clipped_backward(per_row)
    >>> net[0].weight.grad.shape
    torch.Size([4, 3])
    """

    def __init__(self, module, *, max_grad_norm):
        super().__init__()
        if not self.supports(module):
            raise ValueError("BookkeepingClipping needs every parameter in a Linear or LayerNorm layer.")
        self._module = module
        self.max_grad_norm = float(max_grad_norm)
        self._records = []
        self._handles = [layer.register_forward_hook(self._record) for layer in module.modules()
                         if isinstance(layer, _SUPPORTED) and any(p.requires_grad for p in layer.parameters())]

    @staticmethod
    def supports(module):
        """True when every parameter of ``module`` belongs to a ``Linear`` or ``LayerNorm`` layer."""
        owned = {id(p) for layer in module.modules() if isinstance(layer, _SUPPORTED)
                 for p in layer.parameters(recurse=False)}
        return all(id(p) in owned for p in module.parameters())

    def _record(self, layer, inputs, output):
        if not torch.is_grad_enabled():
            return
        x = inputs[0]
        if x.dim() != 2:
            raise ValueError(f"{type(layer).__name__} got an input of shape {tuple(x.shape)}; book-keeping "
                             "clipping handles one (rows, features) vector per row.")
        if any(layer is r[0] for r in self._records):
            raise ValueError(f"{type(layer).__name__} ran twice in one forward pass: its per-row gradient is "
                             "not an outer product; use Opacus' clipping for this network.")
        self._records.append((layer, x, output))

    def forward(self, *args, **kwargs):
        self._records = []
        return self._module(*args, **kwargs)

    def clipped_backward(self, per_row):
        """``Σ_i min(1, C/‖∇ℓ_i‖) ∇ℓ_i`` into the parameters' ``.grad`` for the per-row losses ``(B,)``.

        Call it once after each forward pass.
        """
        records, self._records = self._records, []
        if not records:
            raise RuntimeError("clipped_backward needs a forward pass with gradients enabled first.")
        grads = torch.autograd.grad(per_row.sum(), [r[2] for r in records], allow_unused=True)
        n = per_row.shape[0]
        sq = per_row.new_zeros(n, dtype=torch.float32)
        parts = []
        for (layer, x, out), g in zip(records, grads):
            g = torch.zeros_like(out) if g is None else g
            x, g = x.detach().float(), g.float()
            g_sq = g.square().sum(1)
            if isinstance(layer, nn.Linear):
                sq += g_sq * (x.square().sum(1) if layer.weight.requires_grad else 0.0)
            else:   # layer norm: its weight multiplies the normalised input
                x = nn.functional.layer_norm(x, layer.normalized_shape, eps=layer.eps)
                if layer.weight is not None and layer.weight.requires_grad:
                    sq += (g * x).square().sum(1)
            if layer.bias is not None and layer.bias.requires_grad:
                sq += g_sq
            parts.append((layer, x, g))
        # the same clipping factor as Opacus: C / (‖∇ℓ_i‖ + 1e-6), at most 1
        factor = (self.max_grad_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)
        for layer, x, g in parts:
            gc = g * factor[:, None]
            if layer.weight is not None and layer.weight.requires_grad:
                w = gc.t() @ x if isinstance(layer, nn.Linear) else (gc * x).sum(0)
                _accumulate(layer.weight, w)
            if layer.bias is not None and layer.bias.requires_grad:
                _accumulate(layer.bias, gc.sum(0))

    def to_standard_module(self):
        """The wrapped module with the hooks removed."""
        for handle in self._handles:
            handle.remove()
        self._handles, self._records = [], []
        return self._module


def _accumulate(param, grad):
    grad = grad.to(param.dtype).view_as(param)
    param.grad = grad if param.grad is None else param.grad + grad
