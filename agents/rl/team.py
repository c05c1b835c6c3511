"""A shared-policy PPO on the layer team (:mod:`aann_env.envs.layer_team`) with Stable-Baselines3,
through SuperSuit's vector-env conversion.

Every agent of the team is one slot of an SB3 ``VecEnv``: SuperSuit's
``pettingzoo_env_to_vec_env_v1`` turns the Parallel env into a Gymnasium vector env of
``n_agents`` slots (all agents share one observation and one action space, as the team's do), and
``concat_vec_envs_v1`` stacks ``n_envs`` copies of it, so one SB3 policy acts for every layer of
every copy. The agents' identity is in their observations (a one-hot layer id), so the shared
policy can still act differently per layer.

**Why SuperSuit, with one fix.** SuperSuit 3.11.0 works with Gymnasium 1.x, PettingZoo 1.27 and
SB3 2.9 except for seeding: its SB3 wrapper (``concat_vec_envs_v1(...,
base_class="stable_baselines3")``) hands ``VecEnv.seed`` to the Gymnasium vector env, which has
no ``seed`` since Gymnasium 1.0, so ``PPO(..., seed=0)`` fails with ``AttributeError:
'ConcatVecEnv' object has no attribute 'seed'``; and its ``reset`` never passes a seed on, so
without a seed the envs draw their starts from fresh entropy. :class:`SeededSB3VecEnv` is that
same wrapper with the seed kept until the next reset and handed to the envs there (copy ``i``
is reset with ``seed + i``), so a training run is reproducible from its seed. An adapter of
our own would be about as long as SuperSuit's two wrappers; SuperSuit is the route PettingZoo
documents.

Two behaviours of the conversion to know: when an episode ends, the infos SB3 sees are the last
step's with the next episode's reset infos written over them (SuperSuit merges the two); and
SuperSuit reports the truncation at ``max_cycles`` or the budget as ``done`` without SB3's
``TimeLimit.truncated`` flag, so PPO does not bootstrap there. That is right for this env: the
end of the episode is the end of the search, and the observation carries the fraction of the
episode done.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import supersuit as ss
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv, VecMonitor
from supersuit.vector.sb3_vector_wrapper import SB3VecEnvWrapper

from aann_env.envs.layer_team import LayerTeamEnv


class SeededSB3VecEnv(SB3VecEnvWrapper):
    """SuperSuit's SB3 wrapper of a (concatenated) vector env, with seeds that reach the envs.

    Args:
        venv: ``supersuit.concat_vec_envs_v1(..., base_class="gymnasium")``.
    """

    def __init__(self, venv: Any) -> None:
        super().__init__(venv)
        self._seed: int | None = None

    def seed(self, seed: int | None = None) -> list[int | None]:
        """Seed the next reset: copy ``i`` of the env is reset with ``seed + i``.

        Returns:
            The base seed, once per slot.
        """
        self._seed = seed
        return [seed] * self.num_envs

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> np.ndarray:
        seed = self._seed if seed is None else seed
        self._seed = None
        observations, self.reset_infos = self.venv.reset(seed=seed, options=options)
        return observations

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """An attribute of the vector env, once per slot (SB3 asks for ``render_mode``; the
        Gymnasium vector env has no ``get_attr`` of its own)."""
        return [getattr(self.venv, attr_name)] * len(self._get_indices(indices))


def make_team_vec_env(n_envs: int = 1, **env_kwargs: Any) -> VecEnv:
    """An SB3 ``VecEnv`` of ``n_envs`` copies of the layer team, one slot per agent of each copy
    (``n_envs * n_agents`` slots), with SB3's ``VecMonitor`` for episode returns.

    Seed it with ``venv.seed(seed)`` (SB3 algorithms do, given a ``seed``) before the first reset.

    Args:
        n_envs: Copies of the team env.
        **env_kwargs: Arguments of :class:`~aann_env.envs.layer_team.LayerTeamEnv`.
    """
    if n_envs < 1:
        raise ValueError(f"n_envs must be at least 1, got {n_envs}")
    slots = ss.pettingzoo_env_to_vec_env_v1(LayerTeamEnv(**env_kwargs))
    copies = ss.concat_vec_envs_v1(slots, n_envs, num_cpus=0, base_class="gymnasium")
    return VecMonitor(SeededSB3VecEnv(copies))


def train_team_ppo(
    timesteps: int,
    seed: int = 0,
    n_envs: int = 1,
    ppo_kwargs: Mapping[str, Any] | None = None,
    **env_kwargs: Any,
) -> PPO:
    """Train one PPO policy shared by every agent of the layer team.

    Args:
        timesteps: Agent steps to train for (each env step counts once per agent and copy).
        seed: Seed of the policy and of the envs (copy ``i`` starts from ``seed + i``).
        n_envs: Copies of the team env.
        ppo_kwargs: Keyword arguments of SB3's ``PPO`` (``n_steps``, ``batch_size``, ...).
        **env_kwargs: Arguments of :class:`~aann_env.envs.layer_team.LayerTeamEnv`.

    Returns:
        The trained model; ``team_actions(model, obs)`` acts with it in the Parallel env.
    """
    venv = make_team_vec_env(n_envs, **env_kwargs)
    model = PPO("MlpPolicy", venv, seed=seed, verbose=0, **dict(ppo_kwargs or {}))
    model.learn(total_timesteps=timesteps)
    venv.close()
    return model


def team_actions(
    model: PPO, observations: Mapping[str, np.ndarray], deterministic: bool = True
) -> dict[str, int]:
    """The shared policy's action for every agent with an observation."""
    agents = list(observations)
    batch = np.stack([observations[a] for a in agents])  # (n_agents, N_FEATURES)
    actions, _ = model.predict(batch, deterministic=deterministic)
    return {a: int(act) for a, act in zip(agents, actions, strict=True)}


__all__ = ["SeededSB3VecEnv", "make_team_vec_env", "team_actions", "train_team_ppo"]
