"""synthaug: data augmentation and tabular synthesis with diffusion models and GANs."""

from .evaluation import EvaluationReport, evaluate
from .gan import ModeCollapseWarning
from .imputer import GenerativeImputer
from .samplers import DiffusionSampler, GANSampler

__version__ = "0.1.0.dev0"

__all__ = ["DiffusionSampler", "GANSampler", "GenerativeImputer", "ModeCollapseWarning", "evaluate",
           "EvaluationReport", "__version__"]
