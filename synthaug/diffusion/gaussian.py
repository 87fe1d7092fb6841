"""Gaussian diffusion over model space, for continuous and one-hot dimensions.

The forward process is the DDPM one (Ho et al. 2020) on every dimension:

    q(x_t | x_0) = N(√ᾱ_t · x_0, (1 − ᾱ_t) · I)

Continuous dimensions are learnt by ε-prediction (mean squared error on the
noise). A discrete column lives in model space as a ±1 one-hot block (analog
bits); for those blocks the network outputs *logits* and is trained with the
cross-entropy of the clean level — an x₀-parameterisation (score
interpolation, as in CDCD, Dieleman et al. 2022, and CDTD, Mueller et al.
2023): the denoised estimate of a block is the probability-weighted one-hot,
x̂₀ = 2·softmax(logits) − 1, and ε̂ follows from x̂₀. At the last sampling step
each block's level is drawn from its softmax.

Conditioning is by inpainting with a trained model (CSDI-style): dimensions
flagged ``given`` are fed clean (``x_given``) at every step and are excluded
from the loss; the network also receives ``cond`` (here, the mask of given
columns). Constraints on free dimensions — a set of allowed levels, an
interval for a continuous score — are enforced on x̂₀ at every step, so every
sample satisfies them with no rejection. A level outside the set gets
probability zero. An interval ``[a, b]`` replaces a score's x̂₀ by the mean
of ``N(x̂₀, 1 − ᾱ_t)`` truncated to ``[a, b]`` (:func:`truncated_normal_mean`):
for unit-variance Gaussian data ``N(x̂₀, 1 − ᾱ_t)`` is the exact posterior
of x₀ given x_t, and its truncated mean is Tweedie's estimate of x₀ given
x_t *and* x₀ ∈ [a, b] — the analytic classifier guidance of the condition,
which steers each trajectory into the interval from the first steps on.
Clamping x̂₀ to ``[a, b]`` instead would leave the trajectories headed
outside the interval on its edges: the rows piled up on the bounds.

The process is a plain object, not an ``nn.Module``: its methods take the
network as an argument (improved-diffusion style).
"""

from __future__ import annotations

import numpy as np
import torch

from ..encoding.layout import Constraints, Layout
from ..noise import rand, randn

__all__ = ["GaussianDiffusion", "Constraints", "ddim_timesteps", "draw_into_intervals", "truncated_normal_mean"]


def _log_snr(alpha_bar):
    """λ = log(α / σ) = ½ log(ᾱ / (1 − ᾱ))."""
    return 0.5 * np.log(alpha_bar / (1 - alpha_bar))


def ddim_timesteps(n_timesteps, steps, *, spacing="trailing"):
    """Decreasing timesteps ``(steps,)`` at which the few-step sampler evaluates the network.

    ``"trailing"`` (default) spaces them evenly from ``T − 1`` down to
    ``T / steps − 1``; the sample is the denoised estimate x̂₀ of the last
    one. ``"linspace"`` spaces them from ``T − 1`` down to 0, whose x_t is
    already clean to the schedule's smallest noise (√(1 − ᾱ₀) ≈ 0.01 for the
    cosine schedule), so its evaluation re-denoises an almost clean row and
    the other steps are spaced wider (as Lin et al. 2024, "Common diffusion
    noise schedules and sample steps are flawed", point out).

    Examples
    --------
    >>> ddim_timesteps(1000, 5).tolist()
    [999, 799, 599, 399, 199]
    >>> ddim_timesteps(1000, 5, spacing="linspace").tolist()
    [999, 749, 500, 250, 0]
    """
    if not 1 <= steps <= n_timesteps:
        raise ValueError(f"sampling steps must be in [1, {n_timesteps}], got {steps}.")
    if spacing == "trailing":
        ts = np.round(n_timesteps - np.arange(steps) * (n_timesteps / steps)).astype(np.int64) - 1
        return np.unique(ts)[::-1].copy()
    if spacing == "linspace":
        # from T − 1 (pure noise) down to 0
        return np.unique(np.linspace(n_timesteps - 1, 0, steps).round().astype(np.int64))[::-1].copy()
    raise ValueError(f"spacing must be 'trailing' or 'linspace', got {spacing!r}.")


def _truncated_moments(mean, low, high, scale):
    """``(mean, log Z)`` of ``N(mean, scale²)`` truncated to ``[low, high]``, float64; Z = its mass there.

    On the log scale and on the side of the mean where both normal CDFs are
    small, so that a ``mean`` far outside the interval gives a point just
    inside the nearer bound, not NaN. An empty interval (low ≥ high, or
    both infinite on one side) has log Z = −inf.
    """
    mean, low, high, scale = (v.to(torch.float64) for v in torch.broadcast_tensors(mean, low, high, scale))
    empty = ~(low < high)
    low, high = torch.where(empty, -1.0, low), torch.where(empty, 1.0, high)
    a, b = (low - mean) / scale, (high - mean) / scale
    # Z = Φ(b) − Φ(a) = Φ(−a) − Φ(−b): taken where both arguments are ≤ 0 at the upper end
    flip = a > 0
    lo_arg, hi_arg = torch.where(flip, -b, a), torch.where(flip, -a, b)
    log_hi = torch.special.log_ndtr(hi_arg)
    log_z = log_hi + torch.log1p(-torch.exp(torch.special.log_ndtr(lo_arg) - log_hi).clamp(max=1.0))
    log_pdf = lambda x: -0.5 * x * x - 0.5 * np.log(2 * np.pi)   # noqa: E731  (−inf at ±inf)
    shift = torch.exp(log_pdf(a) - log_z) - torch.exp(log_pdf(b) - log_z)
    out = (mean + scale * torch.nan_to_num(shift, nan=0.0)).clamp(low, high)
    return torch.where(empty, 0.0, out), torch.where(empty, -torch.inf, log_z)


def truncated_normal_mean(mean, low, high, scale):
    """Mean of ``N(mean, scale²)`` truncated to the union of ``K`` intervals ``[low_k, high_k]``.

    ``low`` and ``high`` have one more trailing dimension than ``mean``
    (``K``, the intervals of each entry; the rest broadcasts); an empty
    interval, e.g. ``(inf, inf)``, is ignored. Infinite bounds are allowed.
    Returned in ``mean``'s dtype.

    Examples
    --------
    >>> import torch
    >>> m = truncated_normal_mean(torch.tensor([0.0, 0.0, 9.0]), torch.tensor([[-torch.inf], [0.0], [0.0]]),
    ...                           torch.tensor([[torch.inf], [torch.inf], [1.0]]), torch.tensor(1.0))
    >>> [round(v, 4) for v in m.tolist()]      # unchanged; √(2/π); just below the bound
    [0.0, 0.7979, 0.8788]
    >>> u = truncated_normal_mean(torch.tensor([0.0]), torch.tensor([[-2.0, 1.0]]), torch.tensor([[-1.0, 2.0]]),
    ...                           torch.tensor(1.0))
    >>> round(float(u), 6)                     # two mirrored intervals: the mean stays at 0
    0.0
    """
    dtype = torch.result_type(mean, scale)
    means, log_z = _truncated_moments(mean.unsqueeze(-1), low, high, torch.as_tensor(scale).unsqueeze(-1))
    weights = torch.softmax(log_z, dim=-1).nan_to_num(0.0)     # each interval's share of the mass
    return (weights * means).sum(-1).to(dtype)


def draw_into_intervals(x, low, high, scale, u):
    """``x`` where it lies in one of its intervals; elsewhere a draw of ``N(x, scale²)`` truncated to the nearest.

    ``low``/``high`` as in :func:`truncated_normal_mean`; ``u`` uniform(0, 1)
    of ``x``'s shape. The draw is the inverse of the normal's survival
    function on the interval's side away from ``x``, in float64, so a point
    far outside lands just inside the nearer bound rather than on it (nor
    at NaN); clamping instead would put every such point exactly on the
    bound.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([0.5, 3.0, -2.0])
    >>> out = draw_into_intervals(x, torch.tensor([[0.0]]), torch.tensor([[1.0]]), torch.tensor(0.2),
    ...                           torch.full((3,), 0.5))
    >>> out[0].item(), bool(0.9 < out[1] < 1.0), bool(0.0 < out[2] < 0.1)
    (0.5, True, True)
    """
    dtype = x.dtype
    xx, low, high = torch.broadcast_tensors(x.double().unsqueeze(-1), low.double(), high.double())
    empty = ~(low <= high)
    distance = torch.where(empty, torch.inf, (torch.maximum(torch.minimum(xx, high), low) - xx).abs())
    k = distance.argmin(-1, keepdim=True)
    lo, hi = low.gather(-1, k).squeeze(-1), high.gather(-1, k).squeeze(-1)
    x64, scale = xx[..., 0], torch.as_tensor(scale, dtype=torch.float64, device=x.device)
    below = x64 < lo
    # distances in units of scale to the near and the far bound, on the side away from x
    near = torch.where(below, lo - x64, x64 - hi) / scale
    far = torch.where(below, hi - x64, x64 - lo) / scale
    # the survival function S(z) = Φ(−z) on the log scale (Φ itself rounds to 0 below about −8):
    # S(z) = S(near) − u (S(near) − S(far))
    log_near = torch.special.log_ndtr(-near)
    log_s = log_near + torch.log1p(-u.double() * -torch.expm1(torch.special.log_ndtr(-far) - log_near))
    z = -torch.special.ndtri(torch.exp(log_s).clamp(min=1e-300))
    z = torch.minimum(torch.maximum(z, near), far)
    drawn = torch.where(below, x64 + scale * z, x64 - scale * z)
    inside = distance.gather(-1, k).squeeze(-1) == 0
    return torch.where(inside, x64, drawn).to(dtype)


class GaussianDiffusion:
    """DDPM forward process, its training loss and DDIM / ancestral samplers.

    Parameters
    ----------
    betas : array-like of shape (T,)
        Noise schedule (see :mod:`synthaug.diffusion.schedules`).
    layout : Layout, default=None
        Which model-space dimensions are one-hot blocks. None: all continuous
        (e.g. images).
    clip : float, default=None
        Clamp continuous x̂₀ to ``[-clip, clip]`` while sampling.

    Examples
    --------
    >>> import torch
    >>> from synthaug.diffusion import GaussianDiffusion, cosine_betas
    >>> proc = GaussianDiffusion(cosine_betas(100))
    >>> x0 = torch.zeros(4, 3)
    >>> proc.q_sample(x0, torch.tensor([0, 10, 50, 99]), torch.ones(4, 3)).shape
    torch.Size([4, 3])
    """

    def __init__(self, betas, *, layout: Layout | None = None, clip=None):
        self.betas = np.asarray(betas, dtype=np.float64)
        if self.betas.ndim != 1 or not np.all((self.betas > 0) & (self.betas <= 1)):
            raise ValueError("betas must be a 1-D array in (0, 1].")
        self.n_timesteps = len(self.betas)
        self.alphas_cumprod = np.cumprod(1.0 - self.betas)
        self.layout = layout
        self.clip = clip
        self._tensors = {}

    # ----------------------------------------------------------- helpers
    def _tables(self, device, dtype=torch.float32):
        key = (str(device), dtype)
        if key not in self._tensors:
            ab = torch.as_tensor(self.alphas_cumprod, dtype=dtype, device=device)
            blocks = self.layout.tensors(device) if self.layout is not None and self.layout.n_discrete else None
            self._tensors[key] = (ab, blocks)
        return self._tensors[key]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_tensors"] = {}
        return state

    def _ab(self, t, x):
        """ᾱ_t gathered per row, shaped to broadcast against ``x``; t = −1 gives 1."""
        ab, _ = self._tables(x.device, x.dtype if x.dtype.is_floating_point else torch.float32)
        t = t.reshape(-1)
        out = torch.where(t >= 0, ab.index_select(0, t.clamp(min=0)), torch.ones((), device=x.device, dtype=ab.dtype))
        return out.view(-1, *([1] * (x.dim() - 1)))

    @property
    def n_continuous(self):
        return self.layout.n_continuous if self.layout is not None else None

    # ------------------------------------------------------------ forward
    def q_sample(self, x0, t, noise):
        """Draw x_t ~ q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I) with the given ``noise``."""
        ab = self._ab(t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def training_loss(self, model, x0, t, *, given=None, cond=None, noise=None, generator=None):
        """Per-row loss (B,): ε-MSE on continuous dims + cross-entropy on one-hot blocks.

        Dimensions flagged in ``given`` (B, width) are fed clean and excluded.
        The loss of a row is the mean over its free items (one per continuous
        dim, one per discrete block).
        """
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        x_t = self.q_sample(x0, t, noise)
        if given is not None:
            x_t = torch.where(given, x0, x_t)
        out = model(x_t, t, cond)
        free = torch.ones_like(x0, dtype=torch.bool) if given is None else ~given
        _, blocks = self._tables(x0.device)
        nc = x0.shape[1] if blocks is None else self.layout.n_continuous
        sq = (out[:, :nc] - noise[:, :nc]) ** 2
        # torch.where, not a product: a non-finite output on a given dim must not reach the loss
        total = torch.where(free[:, :nc], sq, 0.0).flatten(1).sum(1)
        count = free[:, :nc].flatten(1).sum(1)
        if blocks is not None:
            ce = blocks.cross_entropy(out, blocks.block_codes(x0))
            block_free = free.index_select(1, blocks.offsets)
            total = total + torch.where(block_free, ce, 0.0).sum(1)
            count = count + block_free.sum(1)
        return total / count.clamp(min=1)

    # ---------------------------------------------------------- reverse
    @staticmethod
    def _with_given(x, given, x_given):
        return x if given is None else torch.where(given, x_given, x)

    def _mean_estimate(self, model, x_t, t, cond, constraints, given, x_given, *, final=False, generator=None):
        """x̂₀ with each block at its probability-weighted mean (given dims written back), and the probabilities."""
        x0_c, probs = self._denoise(model, x_t, t, cond, constraints, final=final, generator=generator)
        if probs is not None:
            _, blocks = self._tables(x_t.device)
            x0_c = torch.cat([x0_c, 2 * blocks.blocks_to_flat(probs) - 1], dim=1)
        return self._with_given(x0_c, given, x_given), probs

    def _denoise(self, model, x_t, t, cond, constraints, *, final=False, generator=None):
        """One network call: continuous x̂₀ (B, n_continuous) and block probabilities, or None.

        ``final``: x̂₀ is the sample; a score outside its intervals is drawn
        into the nearest from N(x̂₀, 1 − ᾱ_t) (:func:`draw_into_intervals`).
        """
        out = model(x_t, t, cond).to(x_t.dtype)
        ab = self._ab(t, x_t)
        _, blocks = self._tables(x_t.device)
        nc = x_t.shape[1] if blocks is None else self.layout.n_continuous
        x0_c = (x_t[:, :nc] - (1 - ab).sqrt() * out[:, :nc]) / ab.sqrt()
        if self.clip is not None:
            x0_c = x0_c.clamp(-self.clip, self.clip)
        if constraints is not None and constraints.bounded:
            # x̂₀ given x_t and the interval: the truncated posterior's mean (see the module's description)
            low, high = constraints.intervals(x0_c.dtype)
            scale = (1 - ab).sqrt().clamp(min=1e-6)
            if final:
                u = rand(x0_c.shape, generator, device=x0_c.device, dtype=x0_c.dtype)
                x0_c = draw_into_intervals(x0_c, low, high, scale, u)
            else:
                x0_c = truncated_normal_mean(x0_c, low, high, scale)
        if blocks is None:
            return x0_c, None
        return x0_c, blocks.softmax(blocks.mask_logits(blocks.block_logits(out), constraints))

    @torch.inference_mode()
    def sample(self, model, noise, *, steps=50, solver="dpm++2m", eta=0.0, categorical="sample", given=None,
               x_given=None, cond=None, constraints=None, generator=None, return_probs=False):
        """Few-step sampler over ``steps`` network evaluations.

        ``solver="ddim"`` is DDIM (Song et al. 2021, eq. 12; ``eta`` > 0 adds
        the eq. 16 noise, ``eta=1`` is ancestral-like). ``solver="dpm++2m"`` is
        the second-order multistep DPM-Solver++ (Lu et al. 2022, Alg. 2) in
        data-prediction form: with λ = log(α/σ), α = √ᾱ, σ = √(1 − ᾱ) and
        h_i = λ_i − λ_{i−1},

            x_i = (σ_i / σ_{i−1}) x_{i−1} − α_i (e^{−h_i} − 1) D_i,
            D_i = (1 + 1/(2 r_i)) x̂₀_{i−1} − 1/(2 r_i) x̂₀_{i−2},  r_i = h_{i−1} / h_i,

        its first step being DDIM. Both reach in ~10–20 steps what DDPM
        needs hundreds for.

        With DDIM and ``categorical="sample"`` (default) each one-hot block's
        x̂₀ is a level drawn from its softmax at every step rather than the
        probability-weighted mean (``"mean"``); DPM-Solver++ always uses the mean.

        Parameters
        ----------
        model : callable ``(x_t, t, cond) -> output``
        noise : torch.Tensor (B, width)
            x_T; also fixes shape, dtype and device.

        Returns
        -------
        x0 : torch.Tensor (B, width)
            Final sample in model space (discrete blocks exactly ±1).
        codes : torch.LongTensor (B, n_discrete) or None
            Level of each discrete block.
        probs : torch.Tensor (B, width - n_continuous) or None
            Only with ``return_probs``: the probability of every level at the
            last step, the distribution ``codes`` were drawn from (None
            without discrete blocks).
        """
        if solver not in ("ddim", "dpm++2m"):
            raise ValueError(f"Unknown solver {solver!r}; choose 'ddim' or 'dpm++2m'.")
        if categorical not in ("sample", "mean"):
            raise ValueError(f"categorical must be 'sample' or 'mean', got {categorical!r}.")
        x = noise
        ts = ddim_timesteps(self.n_timesteps, steps)
        ab_table = self.alphas_cumprod
        prev_x0, prev_h = None, None
        draw = solver == "ddim" and categorical == "sample" and self.layout is not None and self.layout.n_discrete
        fixed = self._given_codes(given, x_given) if self.layout is not None and self.layout.n_discrete else None
        for i, t_now in enumerate(ts):
            # one timestep for the whole batch: shape (1,), broadcast by the network and the tables
            t = torch.full((1,), int(t_now), device=x.device, dtype=torch.long)
            last = i + 1 == len(ts)
            x = self._with_given(x, given, x_given)
            if draw and not last:
                # Plug a *drawn* level into each block instead of its mean: with η = 1 the step
                # is then a draw from Σ_k p(k | x_t) q(x_{t−1} | x_t, x₀ = e_k), the exact
                # reverse kernel of one categorical variable at any step size (the mean
                # plug-in drifts towards majority levels when steps are few).
                x0_c, probs = self._denoise(model, x, t, cond, constraints)
                x0, _ = self._draw_blocks(x0_c, probs, given, x_given, fixed, generator)
            else:
                x0, logits = self._mean_estimate(model, x, t, cond, constraints, given, x_given, final=last,
                                                 generator=generator)
            if last:
                break
            ab, ab_prev = float(ab_table[t_now]), float(ab_table[ts[i + 1]])
            if solver == "ddim":
                # DDIM eq. 12/16, x_{t−1} = √ᾱ_{t−1} x̂₀ + √(1 − ᾱ_{t−1} − σ_t²) ε̂ + σ_t z with
                # σ_t = η √((1 − ᾱ_{t−1}) / (1 − ᾱ_t)) √(1 − ᾱ_t / ᾱ_{t−1}); ε̂ = (x_t − √ᾱ_t x̂₀) / √(1 − ᾱ_t)
                # is substituted, so the step is two scaled sums over the batch
                sigma = eta * np.sqrt(max(0.0, (1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)))
                c = np.sqrt(max(0.0, 1 - ab_prev - sigma ** 2) / (1 - ab))
                new = x0.mul(np.sqrt(ab_prev) - c * np.sqrt(ab)).add_(x, alpha=c)
                if sigma > 0:
                    new.add_(randn(x.shape, generator, device=x.device, dtype=x.dtype), alpha=sigma)
                x = new
                continue
            lam, lam_prev = _log_snr(ab), _log_snr(ab_prev)
            h = lam_prev - lam
            d = x0
            if prev_x0 is not None:
                r = prev_h / h
                d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * prev_x0
            x = np.sqrt((1 - ab_prev) / (1 - ab)) * x - np.sqrt(ab_prev) * np.expm1(-h) * d
            prev_x0, prev_h = x0, h
        if logits is None:
            return (x0, None, None) if return_probs else (x0, None)
        x0, codes = self._draw_blocks(x0, logits, given, x_given, fixed, generator)
        if not return_probs:
            return x0, codes
        return x0, codes, self._tables(x0.device)[1].blocks_to_flat(logits)

    def ddim_sample(self, model, noise, *, steps=50, eta=0.0, **kwargs):
        """DDIM sampling; see :meth:`sample`."""
        return self.sample(model, noise, steps=steps, solver="ddim", eta=eta, **kwargs)

    def _given_codes(self, given, x_given):
        """``(which blocks are given (B, n_disc), their codes)`` for the whole sampling loop, or None."""
        if given is None:
            return None
        _, blocks = self._tables(x_given.device)
        return given.index_select(1, blocks.offsets), blocks.block_codes(x_given)

    def _draw_blocks(self, x0, probs, given, x_given, fixed, generator):
        """Draw each free block's level from its probabilities; ``(x0 with ±1 blocks and given dims, codes)``.

        ``fixed`` (from :meth:`_given_codes`) keeps the given blocks' levels.
        """
        _, blocks = self._tables(x0.device)
        codes = blocks.draw_codes(probs, generator)
        if fixed is not None:
            codes = torch.where(fixed[0], fixed[1], codes)
        x0 = blocks.to_model(x0[:, : self.layout.n_continuous], codes)
        return self._with_given(x0, given, x_given), codes
