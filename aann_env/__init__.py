"""aann: the search for sparse ternary networks as a Gymnasium environment.

Importing the package registers the environment ids with Gymnasium.
"""

from __future__ import annotations

import gymnasium as gym

from aann_env.architecture import CAR, MNIST, Architecture, LayerSpec, default_scales
from aann_env.errors import AANNError, CheckpointError, DataError, SwapError
from aann_env.network import Swap, TernaryNetwork, random_network

__version__ = "0.1.0"

ENV_IDS = {"AANN-MNIST-v0": "mnist", "AANN-CarRacing-v0": "car"}
"""Registered environment ids and their tasks."""

for _env_id, _task in ENV_IDS.items():
    if _env_id not in gym.registry:
        gym.register(
            id=_env_id,
            entry_point="aann_env.env:AANNEnv",  # a string: importing aann_env stays cheap
            kwargs={"task": _task},
            max_episode_steps=1000,
            additional_wrappers=(
                gym.envs.registration.WrapperSpec(
                    "EpisodeTestAccuracy", "aann_env.wrappers:EpisodeTestAccuracy", {}
                ),
            ),
        )

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
