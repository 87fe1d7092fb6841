"""A conditional GAN over model-space rows: how the generator's output becomes a row.

:class:`TabularGAN` is a plain object, like
:class:`~synthaug.diffusion.GaussianDiffusion`: it holds no weights, and its
methods take the networks as arguments. It defines

* the generator's input — noise plus the conditioning (the mask of given
  columns and the given cells, GAIN-style), so one generator serves
  unconditional, conditional and class-conditional sampling and imputation;
* the output head — continuous scores squashed into the encoder's range,
  one-hot blocks as Gumbel-softmax relaxations while training and drawn
  levels while sampling, allowed-level and interval constraints, and the
  given cells written back;
* the critic's input — the row plus the mask, so the critic judges the
  conditional distribution;
* optionally, the space the scores are generated in: with a
  :class:`~synthaug.residual.GaussianResidual`, each free score is generated
  as the residual of its Gaussian conditional mean given the row's known
  scores (:meth:`TabularGAN.to_model` maps real rows there for the critic,
  :meth:`TabularGAN.sample` maps generated rows back), so the near-linear
  part of the dependence between numeric columns is exact when cells are
  given. With no score given the map is the identity. The same Gaussian's
  linear-discriminant log-probabilities of the categorical levels given the
  known scores (:meth:`~synthaug.residual.GaussianResidual.moments`) extend
  the generator's condition (:meth:`TabularGAN.generator_condition`), so a
  level that follows many given numbers is generated from them — as the
  diffusion model's denoiser gets them.
"""

from __future__ import annotations

import numpy as np
import torch

from ..encoding.layout import Layout

__all__ = ["TabularGAN", "truncate_scores"]


def truncate_scores(z, low, high):
    """Map normal scores into the union of intervals ``[low_k, high_k]`` by their quantile.

    ``low``/``high`` carry one more trailing dimension than ``z``: the ``K``
    intervals of each score (an empty one, e.g. ``(inf, inf)``, has no
    mass). With one interval the map is Φ⁻¹(Φ(lo) + Φ(z)(Φ(hi) − Φ(lo))); with
    several, Φ(z) picks the point at that share of the union's normal mass.
    If ``z`` is standard normal the result is the normal truncated to the
    union, and the map is increasing, so each row keeps its rank: an interval
    (or a list of exact values) becomes exact without rejection.

    Examples
    --------
    >>> import torch
    >>> out = truncate_scores(torch.tensor([-3.0, 0.0, 3.0]), torch.tensor([0.0]), torch.tensor([1.0]))
    >>> bool(((out >= 0) & (out <= 1)).all() and (out.diff() > 0).all())
    True
    >>> two = truncate_scores(torch.tensor([-1.0, 1.0]), torch.tensor([-2.0, 1.0]), torch.tensor([-1.0, 2.0]))
    >>> two.tolist() == [-two[1].item(), two[1].item()] and 1 <= two[1].item() <= 2
    True
    """
    dtype = z.dtype
    # float64: Φ⁻¹ is ill-conditioned in the tails
    z, low, high = torch.broadcast_tensors(z.double().unsqueeze(-1), low.double(), high.double())
    z = z[..., 0]
    empty = ~(low < high)
    lo = torch.where(empty, 0.0, torch.special.ndtr(low))
    mass = torch.where(empty, 0.0, torch.special.ndtr(high) - lo)
    below = mass.cumsum(-1) - mass                                      # mass of the intervals before each
    target = (torch.special.ndtr(z) * mass.sum(-1)).unsqueeze(-1)
    k = ((below <= target) & (mass > 0)).long().cumsum(-1).argmax(-1, keepdim=True)   # last interval started
    u = (lo.gather(-1, k) + (target - below.gather(-1, k)).clamp(min=0)).clamp(1e-300, 1 - 1e-16)
    inside = torch.special.ndtri(u).clamp(low.gather(-1, k).clamp(min=-1e30), high.gather(-1, k).clamp(max=1e30))
    return inside.squeeze(-1).to(dtype)


class TabularGAN:
    """Heads and inputs of a conditional tabular GAN over a :class:`Layout`.

    Parameters
    ----------
    layout : Layout
    clip : float, default=None
        Continuous outputs are squashed to ``(-clip, clip)`` by a scaled tanh.
    tau : float, default=0.2
        Gumbel-softmax temperature of the one-hot blocks while training.
    residual : GaussianResidual, default=None
        A fitted :class:`~synthaug.residual.GaussianResidual` of the scores:
        the generator then makes each free score as its residual given the
        known scores (see the module docstring).

    Examples
    --------
    >>> import torch
    >>> from synthaug.encoding import Layout
    >>> from synthaug.nn import ResidualMLP
    >>> layout = Layout(1, (3,), ((0, None), (None, 0)))
    >>> gan = TabularGAN(layout)
    >>> net = ResidualMLP(4, layout.width, cond_dim=gan.cond_dim, width=8, depth=1, time_dim=0)
    >>> x, codes = gan.sample(net, torch.randn(5, 4))
    >>> x.shape, codes.shape
    (torch.Size([5, 4]), torch.Size([5, 1]))
    """

    def __init__(self, layout: Layout, *, clip=None, tau=0.2, residual=None):
        self.layout = layout
        self.clip = clip
        self.tau = tau
        self.residual = residual
        self._tensors = {}

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_tensors"] = {}
        return state

    @property
    def n_features(self):
        """Width of the level features at the end of the condition (0 without a ``residual``)."""
        return 0 if self.residual is None else self.residual.n_features

    @property
    def feature_dims(self):
        """Model-space dims ``(n_features,)`` of the levels the features predict."""
        return np.zeros(0, np.int64) if not self.n_features else self.residual.feature_dims_

    @property
    def cond_dim(self):
        """Width of the generator's conditioning input: column mask + given cells + level features."""
        return self.layout.n_columns + self.layout.width + self.n_features

    @property
    def critic_dim(self):
        """Width of one critic input row: the row + the column mask."""
        return self.layout.width + self.layout.n_columns

    def _tables(self, device):
        key = str(device)
        if key not in self._tensors:
            with torch.inference_mode(False):   # built once, then used by sampling and by training alike
                self._tensors[key] = self._build_tables(device)
        return self._tensors[key]

    def _build_tables(self, device):
        layout = self.layout
        lt = layout.tensors(device)
        # a numeric column with modes keeps its score only in its continuous mode (code 0);
        # gate the score by that level so spikes/missing rows carry 0, as in the encoded data
        gate_cont, gate_dim = [], []
        for ci, di in layout.column_parts:
            if ci is not None and di is not None:
                gate_cont.append(ci)
                gate_dim.append(int(layout.offsets[di]))
        gates = (torch.as_tensor(np.array(gate_cont, dtype=np.int64), device=device),
                 torch.as_tensor(np.array(gate_dim, dtype=np.int64), device=device))
        return lt, gates

    # ----------------------------------------------------------- inputs
    def generator_condition(self, cols, given=None, x_given=None, features=None):
        """Generator conditioning ``(B, cond_dim)``: the mask, the given cells (0 elsewhere) and the level features.

        ``features`` ``(B, n_features)``: the residual's log level
        probabilities given the known scores (:meth:`moments`); by default
        the levels' frequencies (nothing known).
        """
        b = cols.shape[0]
        cells = torch.zeros((b, self.layout.width), device=cols.device) if given is None \
            else torch.where(given, x_given, 0.0)
        parts = [cols.float(), cells]
        if self.n_features:
            parts.append(self.residual.prior_features(b, cols.device) if features is None else features)
        return torch.cat(parts, dim=1)

    def critic_input(self, x, cols):
        """Critic input ``(B, width + n_columns)``: the row and the mask of given columns."""
        return torch.cat([x, cols.to(x.dtype)], dim=1)

    def moments(self, x_given, given, *, features=False):
        """The residual's ``(μ, ratio, features or None)`` of rows whose ``given`` (B, width) cells are ``x_given``.

        None without a ``residual`` or without ``given``; the features (the
        log level probabilities given the known scores, for
        :meth:`generator_condition`) only with ``features`` and when
        :attr:`n_features` > 0 (they cost a second solve per row).
        """
        if self.residual is None or given is None:
            return None
        if not (features and self.n_features):
            return (*self.residual.moments(x_given, given), None)
        return self.residual.moments(x_given, given, features=True)

    def to_model(self, x, given, *, features=False):
        """Real rows ``x`` (B, width) in the space the generator makes them: free scores as residuals.

        ``given`` (B, width) marks the given dims. Without a ``residual`` (or
        with no score given) the rows are returned as they are. With
        ``features=True`` the pair ``(rows, level features or None)``, the
        features as :meth:`generator_condition` takes them.
        """
        moments = self.moments(x, given, features=features)
        if moments is None:
            return (x, None) if features else x
        mu, ratio, feats = moments
        x = self._with_scores(x, self.residual.to_residual(x, given, mu, ratio)[:, : self.layout.n_continuous])
        return (x, feats) if features else x

    def from_model(self, x, given, x_given, moments=None):
        """Generated rows ``x`` back from the residual space of :meth:`to_model` (given cells kept).

        ``moments``: :meth:`moments` of ``x_given`` and ``given``, if already computed.
        """
        moments = self.moments(x_given, given) if moments is None else moments
        if moments is None:
            return x
        mu, ratio, _ = moments
        return self._with_scores(x, self.residual.from_residual(x, given, mu, ratio))

    def _with_scores(self, x, scores):
        """Rows ``x`` with their scores replaced by ``scores`` (B, n_continuous), gated by ``x``'s blocks."""
        flat = x[:, self.layout.n_continuous:]
        return torch.cat([self._gate(scores, flat), flat], dim=1)

    # ------------------------------------------------------------ heads
    def _continuous(self, out, constraints):
        nc = self.layout.n_continuous
        z = out[:, :nc]
        if self.clip is not None:
            z = self.clip * torch.tanh(z / self.clip)
        if constraints is not None and constraints.bounded:
            z = truncate_scores(z, *constraints.intervals(z.dtype))
        return z

    def _gate(self, z, flat):
        """Scores ``z`` (B, n_continuous) set to 0 where the ±1 blocks ``flat`` put a column outside its
        continuous mode (a spike or a missing cell carries a placeholder 0, as in the encoded data)."""
        _, (gate_cont, gate_dim) = self._tables(z.device)
        if not gate_cont.numel():
            return z
        gate = (flat[:, gate_dim - self.layout.n_continuous] + 1) / 2
        return z.index_copy(1, gate_cont, z.index_select(1, gate_cont) * gate)

    def _finish(self, z, flat, given, x_given, device):
        """Gate scores by their continuous mode, assemble the row, write the given cells back."""
        x = torch.cat([self._gate(z, flat), flat], dim=1)
        if given is not None:
            x = torch.where(given, x_given, x)
        return x

    def relaxed(self, network, noise, cols, *, given=None, x_given=None, features=None, generator=None,
                return_logits=False):
        """Differentiable generated rows (B, width) for training: Gumbel-softmax blocks at ``tau``.

        ``features``: the level features of :meth:`generator_condition`.
        ``return_logits`` adds the network's raw outputs (B, width), whose
        discrete dims are the level logits the blocks are relaxed draws of.
        """
        out = network(noise, None, self.generator_condition(cols, given, x_given, features))
        lt, _ = self._tables(noise.device)
        z = self._continuous(out, None)
        if not self.layout.n_discrete:
            x = self._finish(z, out[:, :0], given, x_given, noise.device)
            return (x, out) if return_logits else x
        soft = []
        for logits in lt.block_logits(out):
            u = torch.rand(logits.shape, generator=generator, device=noise.device, dtype=logits.dtype)
            gumbel = -torch.log(-torch.log(u.clamp(1e-10, 1 - 1e-7)))
            soft.append(torch.softmax((logits + gumbel) / self.tau, dim=lt.LEVELS))
        x = self._finish(z, 2 * lt.blocks_to_flat(soft) - 1, given, x_given, noise.device)
        return (x, out) if return_logits else x

    @torch.inference_mode()
    def sample(self, network, noise, *, cols=None, given=None, x_given=None, cond=None, constraints=None,
               generator=None, return_probs=False, return_log_mass=False):
        """Generated rows for release: ``(x (B, width) with exact ±1 blocks, codes (B, n_disc) or None)``.

        Each block's level is drawn from the softmax of its logits (the
        ``tau → 0`` limit of training), restricted to the allowed levels.
        ``cond`` is what ``network`` receives as its condition, by default
        :meth:`generator_condition` of ``cols``, ``given`` and ``x_given``
        (a caller with precomputed conditions passes its own).
        ``return_probs`` adds a third output: the probabilities every level
        was drawn with, ``(B, width - n_continuous)`` (None without discrete
        blocks). ``return_log_mass`` adds a last output ``(B, n_discrete)``:
        the log-probability that a level drawn from a block's unrestricted
        logits would have been allowed by ``constraints`` (0 for given
        blocks), the weight that makes a restricted draw a draw given the
        constraints (see :meth:`synthaug.GANSampler._generate`). With a ``residual``
        the scores are mapped back from the residual space they were
        generated in.
        """
        b, device = noise.shape[0], noise.device
        if cols is None:
            cols = torch.zeros((b, self.layout.n_columns), dtype=torch.bool, device=device)
        # one solve per row serves the condition and the map back (the features only if the condition is built here)
        moments = self.moments(x_given, given, features=cond is None)
        if cond is None:
            cond = self.generator_condition(cols, given, x_given, None if moments is None else moments[2])
        out = network(noise, None, cond)
        lt, _ = self._tables(device)
        z = self._continuous(out, constraints)
        extra = [None] if return_probs else []
        if not self.layout.n_discrete:
            x = self.from_model(self._finish(z, out[:, :0], given, x_given, device), given, x_given, moments)
            return x, None, *extra, *([z.new_zeros((b, 0))] if return_log_mass else [])
        logits = lt.block_logits(out)
        masked = lt.mask_logits(logits, constraints)
        probs = lt.softmax(masked)
        codes = lt.draw_codes(probs, generator)
        if given is not None:
            codes = torch.where(given[:, lt.offsets], lt.block_codes(x_given), codes)
        x = self.from_model(self._finish(z, lt.codes_to_flat(codes), given, x_given, device), given, x_given,
                            moments)
        if return_probs:
            extra = [lt.blocks_to_flat(probs)]
        if return_log_mass:
            mass = lt.log_mass(masked, logits) if masked is not logits else z.new_zeros((b, self.layout.n_discrete))
            extra.append(mass if given is None else mass.masked_fill(given[:, lt.offsets], 0.0))
        return x, codes, *extra
