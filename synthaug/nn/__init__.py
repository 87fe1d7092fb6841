"""Pure ``torch.nn`` modules: they map tensors to tensors and know nothing of training or sampling."""

from .embeddings import timestep_embedding
from .mlp import ResidualMLP

__all__ = ["ResidualMLP", "timestep_embedding"]
