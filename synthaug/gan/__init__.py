"""Conditional tabular GANs: losses (pure functions), the conditional GAN heads, training-by-sampling, the step."""

from .conditional_rows import ConditionalRowSampler
from .consistency import LevelConsistency
from .coverage import ModeCollapseWarning, ModeCoverage, warn_if_collapsed
from .losses import LOSSES, critic_loss, energy_score, generator_loss, gradient_penalty
from .tabular import TabularGAN, truncate_scores
from .image_trainer import ImageGANStep
from .trainer import GANStep

__all__ = ["TabularGAN", "GANStep", "ImageGANStep", "ConditionalRowSampler", "LevelConsistency", "ModeCoverage",
           "ModeCollapseWarning", "warn_if_collapsed", "LOSSES", "critic_loss", "energy_score", "generator_loss",
           "gradient_penalty", "truncate_scores"]
