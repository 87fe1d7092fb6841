"""Diffusion processes (plain objects that take the network as an argument) and schedules."""

from .guidance import ClassifierFreeGuidance
from .gaussian import Constraints, GaussianDiffusion, ddim_timesteps
from .schedules import SCHEDULES, cosine_betas, get_betas, linear_betas

__all__ = ["GaussianDiffusion", "Constraints", "ddim_timesteps", "cosine_betas", "linear_betas",
           "get_betas", "SCHEDULES",
           "ClassifierFreeGuidance"]
