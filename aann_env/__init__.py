"""aann: the search for sparse ternary networks as a Gymnasium environment.

Importing the package registers the environment ids with Gymnasium. The folders are the
architecture, each importing only from those before it:

- ``core``: architectures, the ternary network and its swaps, the file format, forward + loss;
- ``evaluation``: the exact incremental evaluator;
- ``tasks``: MNIST and car racing, their data and one verified cache;
- ``nets``: the shipped p-SIREN networks;
- ``runs``: run directories (config, lock, history, checkpoints);
- ``training``: p-SIREN;
- ``envs``: the Gymnasium environments;
- ``viz``: plots.
"""

from __future__ import annotations

from aann_env.core.architecture import CAR, MNIST, Architecture, LayerSpec, default_scales
from aann_env.core.network import Swap, TernaryNetwork, random_network
from aann_env.envs.registration import ENV_IDS, register_envs
from aann_env.errors import AANNError, CheckpointError, DataError, SwapError

__version__ = "0.1.0"

register_envs()

__all__ = [
    "AANNError",
    "Architecture",
    "CAR",
    "CheckpointError",
    "DataError",
    "ENV_IDS",
    "LayerSpec",
    "MNIST",
    "Swap",
    "SwapError",
    "TernaryNetwork",
    "default_scales",
    "random_network",
]
