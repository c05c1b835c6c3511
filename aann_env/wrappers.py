"""Wrappers that every registered AANN environment carries."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium.wrappers import TimeLimit


class EpisodeTestAccuracy(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds ``info["test_accuracy"]`` when an episode ends, by termination or by truncation.

    Registered AANN envs get this wrapper outside Gymnasium's ``TimeLimit``, so it sees the
    truncation that the unwrapped env cannot. It also hands the step limit to the env, whose
    summary observation reports the fraction of the episode done.
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        inner: gym.Env = env
        while isinstance(inner, gym.Wrapper):
            if isinstance(inner, TimeLimit):
                env.unwrapped.horizon = inner._max_episode_steps  # type: ignore[attr-defined]
                break
            inner = inner.env

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if (terminated or truncated) and "test_accuracy" not in info:
            info["test_accuracy"] = self.env.unwrapped.test_accuracy()  # type: ignore[attr-defined]
        return obs, reward, terminated, truncated, info
