"""Noise schedules: pure functions of the number of steps, float64 arrays."""

from __future__ import annotations

import numpy as np

__all__ = ["cosine_betas", "linear_betas", "get_betas", "SCHEDULES"]


def cosine_betas(n_timesteps, s=0.008, max_beta=0.999):
    """Cosine schedule (Nichol & Dhariwal 2021): ᾱ(t) = cos²((t + s)/(1 + s) · π/2).

    Examples
    --------
    >>> betas = cosine_betas(10)
    >>> betas.shape, bool((betas > 0).all() and (betas < 1).all())
    ((10,), True)
    """
    t = np.linspace(0.0, 1.0, n_timesteps + 1, dtype=np.float64)
    alpha_bar = np.cos((t + s) / (1 + s) * np.pi / 2) ** 2
    return np.clip(1.0 - alpha_bar[1:] / alpha_bar[:-1], 1e-8, max_beta)


def linear_betas(n_timesteps, beta_start=None, beta_end=None):
    """Linear schedule of Ho et al. (2020), rescaled so any ``n_timesteps`` spans the same noise."""
    scale = 1000.0 / n_timesteps
    beta_start = scale * 1e-4 if beta_start is None else beta_start
    beta_end = min(scale * 0.02, 0.999) if beta_end is None else beta_end
    return np.linspace(beta_start, beta_end, n_timesteps, dtype=np.float64)


SCHEDULES = {"cosine": cosine_betas, "linear": linear_betas}


def get_betas(name, n_timesteps):
    """Betas of the named schedule; unknown names raise ``ValueError``."""
    try:
        return SCHEDULES[name](n_timesteps)
    except KeyError:
        raise ValueError(f"Unknown noise schedule {name!r}; choose one of {sorted(SCHEDULES)}.") from None
