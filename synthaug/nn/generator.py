"""Generator network for rows: densely connected Linear–BatchNorm–ReLU layers."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DenseGenerator", "FoldedGenerator"]


class _Dense(nn.Module):
    def __init__(self, d_in, width):
        super().__init__()
        self.fc = nn.Linear(d_in, width)
        self.bn = nn.BatchNorm1d(width)

    def forward(self, h):
        # concatenate the layer's output to its input: every layer sees the noise and the condition
        return torch.cat([nn.functional.relu(self.bn(self.fc(h))), h], dim=1)


class DenseGenerator(nn.Module):
    """Map noise and a condition to a row: ``(z, t, cond) → (B, d_out)``.

    Each hidden layer is Linear → BatchNorm → ReLU and its output is
    concatenated to its input (as in CTGAN's generator), so the noise and the
    condition reach every layer and the output. Batch normalisation keeps the
    generator's outputs spread out early in adversarial training; the
    generator never sees real data, so it stays outside any privacy budget.
    ``t`` is accepted and ignored, for the signature shared with the
    denoisers.

    Parameters
    ----------
    d_in : int
        Noise dimension.
    d_out : int
    cond_dim : int, default=0
    width : int, default=256
    depth : int, default=2
    skip_outputs : sequence of int, optional
        The last ``len(skip_outputs)`` condition inputs are features that
        already predict these outputs (e.g. log-probabilities of levels):
        the output layer, which reads the condition directly, starts as
        the identity from each of them to its output, and is trained with
        the rest.

    Examples
    --------
    >>> import torch
    >>> net = DenseGenerator(4, 3, cond_dim=2, width=8)
    >>> net(torch.zeros(5, 4), None, torch.ones(5, 2)).shape
    torch.Size([5, 3])
    >>> skip = DenseGenerator(4, 3, cond_dim=2, width=8, skip_outputs=[2])   # condition input 1 → output 2
    >>> skip.out.weight[:, -1].tolist()
    [0.0, 0.0, 1.0]
    """

    def __init__(self, d_in, d_out, *, cond_dim=0, width=256, depth=2, skip_outputs=None):
        super().__init__()
        self.cond_dim = cond_dim
        layers, d = [], d_in + cond_dim
        for _ in range(depth):
            layers.append(_Dense(d, width))
            d += width
        self.layers = nn.Sequential(*layers)
        self.out = nn.Linear(d, d_out)
        if skip_outputs is not None and len(skip_outputs):
            k = len(skip_outputs)
            if k > cond_dim:
                raise ValueError(f"{k} skip outputs need as many condition inputs; cond_dim={cond_dim}.")
            with torch.no_grad():   # the output layer's input ends with the condition (see _Dense)
                self.out.weight[:, -k:] = 0.0
                self.out.weight[torch.as_tensor(skip_outputs), torch.arange(d - k, d)] = 1.0

    def forward(self, z, t=None, cond=None):
        h = torch.cat([z, cond.to(z.dtype)], dim=1) if self.cond_dim else z
        return self.out(self.layers(h))

    def folded(self):
        """An inference copy with the outputs of ``self.eval()``; see :class:`FoldedGenerator`."""
        return FoldedGenerator(self)


class FoldedGenerator(nn.Module):
    """Inference form of a :class:`DenseGenerator`: the same function, fewer passes over memory.

    Every layer is affine in the blocks of its (concatenated) input, so
    its weight is split by block: the noise and condition parts of *all*
    layers become one matrix product each, computed up front; each hidden
    layer then adds only the products of the hidden outputs before it, and
    nothing is concatenated. BatchNorm, in evaluation mode, is folded into
    the weights. The outputs equal ``generator.eval()(z, t, cond)`` up to
    float rounding.

    Parameters
    ----------
    generator : DenseGenerator

    Examples
    --------
    >>> import torch
    >>> net = DenseGenerator(4, 3, cond_dim=2, width=8).eval()
    >>> z, c = torch.randn(5, 4), torch.randn(5, 2)
    >>> torch.allclose(net.folded()(z, None, c), net(z, None, c), atol=1e-5)
    True
    """

    def __init__(self, generator: DenseGenerator):
        super().__init__()
        layers = list(generator.layers)
        self.cond_dim = generator.cond_dim
        self.widths = [layer.fc.out_features for layer in layers]
        d_noise = (layers[0].fc if layers else generator.out).in_features - self.cond_dim
        weights, biases = [], []
        with torch.no_grad():
            for k, layer in enumerate(layers):
                bn = layer.bn
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                weights.append(layer.fc.weight * scale[:, None])
                biases.append((layer.fc.bias - bn.running_mean) * scale + bn.bias)
            weights.append(generator.out.weight)
            biases.append(generator.out.bias)
            weights = [w.detach() for w in weights]     # buffers, not parameters: no autograd history
            for k, w in enumerate(weights):
                n_hidden = sum(self.widths[:k])      # layer k reads [h_k, …, h_1, z, cond]
                self.register_buffer(f"w_hidden_{k}", w[:, :n_hidden].t().contiguous())
            first = torch.cat([w[:, sum(self.widths[:k]):] for k, w in enumerate(weights)]).t()
            self.register_buffer("w_noise", first[:d_noise].contiguous())
            self.register_buffer("w_cond", first[d_noise:].contiguous())
            self.register_buffer("bias", torch.cat(biases).clone())

    def condition_part(self, cond):
        """The biases plus the condition's contribution to every layer, ``(B, total width)``; see :meth:`forward`.

        Without a condition, the biases alone ``(1, total width)``.
        """
        if not self.cond_dim:
            return self.bias.unsqueeze(0)
        return torch.addmm(self.bias, cond.to(self.w_cond.dtype), self.w_cond)

    def forward(self, z, t=None, cond=None, *, cond_part=None, rows=None):
        """Rows ``(B, d_out)``; ``cond_part`` (from :meth:`condition_part`) replaces ``cond``.

        When a batch holds few distinct conditions, their parts can be
        computed once and ``rows`` (B,) picks each row's: the gathered parts
        then take the noise's product in place, which saves the condition's
        matrix product and a pass over the pre-activations.
        """
        part = self.condition_part(cond) if cond_part is None else cond_part
        if rows is not None:
            pre = part.index_select(0, rows).addmm_(z, self.w_noise)   # a fresh gather: accumulated in place
        else:
            pre = torch.addmm(part, z, self.w_noise)
        hs, start = [], 0
        for k, width in enumerate(self.widths + [None]):
            stop = pre.shape[1] if width is None else start + width
            a, w, done = pre[:, start:stop], getattr(self, f"w_hidden_{k}"), 0
            for h in hs:                         # newest first, as the concatenation
                a = torch.addmm(a, h, w[done: done + h.shape[1]])
                done += h.shape[1]
            if width is None:
                return a if hs else a.contiguous()
            hs.insert(0, torch.relu(a))
            start = stop
