"""Pure ``torch.nn`` modules: they map tensors to tensors and know nothing of training or sampling."""

from .critic import PackedCritic
from .embeddings import timestep_embedding
from .generator import DenseGenerator
from .mlp import ResidualMLP

__all__ = ["ResidualMLP", "PackedCritic", "DenseGenerator", "timestep_embedding"]
