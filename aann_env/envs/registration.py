"""Registration of the AANN environment ids with Gymnasium (run on ``import aann_env``).

Entry points are strings, so registering imports nothing heavy; spawned vector-env workers use
the id ``"aann_env:AANN-MNIST-v0"`` so that they import the package and so register the ids.
"""

from __future__ import annotations

import gymnasium as gym

ENV_IDS = {"AANN-MNIST-v0": "mnist", "AANN-CarRacing-v0": "car"}
"""Registered environment ids and their tasks."""

TASK_ENV_IDS = {task: env_id for env_id, task in ENV_IDS.items()}
"""The environment id of each task."""

MAX_EPISODE_STEPS = 1000
"""Registered episode length (override it with ``gym.make(..., max_episode_steps=N)``)."""


def register_envs() -> None:
    """Register every id in :data:`ENV_IDS` (a no-op for ids already registered)."""
    for env_id, task in ENV_IDS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point="aann_env.envs.factory:make_env",
            kwargs={"task": task},
            max_episode_steps=MAX_EPISODE_STEPS,
            additional_wrappers=(
                gym.envs.registration.WrapperSpec(
                    "EpisodeTestAccuracy", "aann_env.envs.wrappers:EpisodeTestAccuracy", {}
                ),
            ),
        )
