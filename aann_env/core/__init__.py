"""The model: architectures, the ternary network and its bit-swaps, the network file format, and
the reference forward pass and loss that every evaluator must reproduce bit for bit."""

from aann_env.core.architecture import CAR, MNIST, Architecture, LayerSpec, default_scales
from aann_env.core.network import Swap, TernaryNetwork, random_network

__all__ = [
    "CAR",
    "MNIST",
    "Architecture",
    "LayerSpec",
    "Swap",
    "TernaryNetwork",
    "default_scales",
    "random_network",
]
