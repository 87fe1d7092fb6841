"""synthaug: data augmentation and tabular synthesis with diffusion models and GANs."""

from .evaluation import EvaluationReport, evaluate
from .samplers import DiffusionSampler

__version__ = "0.1.0.dev0"

__all__ = ["DiffusionSampler", "evaluate", "EvaluationReport", "__version__"]
