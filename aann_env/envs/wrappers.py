"""Wrappers that every registered AANN environment carries."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from aann_env.envs.observations import weights_space


class EpisodeTestAccuracy(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds ``info["test_accuracy"]`` when an episode ends, by termination or by truncation.

    Registered AANN envs get this wrapper outside Gymnasium's ``TimeLimit``, so it sees the
    truncation that the unwrapped env cannot. It also tells the env the episode length (the
    wrapped spec's ``max_episode_steps``), which the summary observation reports as the fraction
    of the episode done.
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        spec = env.spec
        if spec is not None and spec.max_episode_steps is not None:
            self.env.unwrapped.horizon = spec.max_episode_steps  # type: ignore[attr-defined]

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        wanted = getattr(self.env.unwrapped, "test_at_episode_end", True)
        if (terminated or truncated) and wanted and "test_accuracy" not in info:
            info["test_accuracy"] = self.env.unwrapped.test_accuracy()  # type: ignore[attr-defined]
        return obs, reward, terminated, truncated, info


class WeightsObservation(gym.ObservationWrapper):
    """Observe every weight: ``Box(-1, 1, (n_weights,), int8)``, layers in order, each flattened
    in torch layout (``observation_mode="weights"``).

    The registration applies it inside the registered wrappers; it adds nothing to the env's
    spec, whose ``observation_mode="weights"`` keyword already makes it again.
    """

    observation_mode = "weights"

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.observation_space = weights_space(env.unwrapped.task.arch.n_weights)  # type: ignore[attr-defined]

    def observation(self, observation: Any) -> np.ndarray:
        return self.env.unwrapped.network.flat_weights()  # type: ignore[attr-defined]

    @property
    def spec(self) -> EnvSpec | None:
        return self.env.spec
