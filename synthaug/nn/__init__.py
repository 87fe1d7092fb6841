"""Pure ``torch.nn`` modules: they map tensors to tensors and know nothing of training or sampling."""

from .critic import PackedCritic
from .dcgan import ConvCritic, ConvGenerator
from .embeddings import timestep_embedding
from .generator import DenseGenerator, FoldedGenerator
from .mlp import FoldedResidualMLP, ResidualMLP
from .unet import UNet

__all__ = ["ResidualMLP", "FoldedResidualMLP", "PackedCritic", "DenseGenerator", "FoldedGenerator",
           "timestep_embedding", "UNet", "ConvGenerator", "ConvCritic"]
