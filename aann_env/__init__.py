"""aann: the search for sparse ternary networks as a Gymnasium environment.

Importing the package registers the environment ids with Gymnasium.
"""

from __future__ import annotations

from aann_env.architecture import CAR, MNIST, Architecture, LayerSpec, default_scales
from aann_env.errors import AANNError, CheckpointError, DataError, SwapError
from aann_env.network import Swap, TernaryNetwork, random_network

__version__ = "0.1.0"

__all__ = [
    "AANNError",
    "Architecture",
    "CAR",
    "CheckpointError",
    "DataError",
    "LayerSpec",
    "MNIST",
    "Swap",
    "SwapError",
    "TernaryNetwork",
    "default_scales",
    "random_network",
]
