"""Behaviour cloning: start a schedule policy from a hand rule before reinforcement learning.

A policy-gradient learner that starts from a random policy spends its first thousands of
decisions finding out what a hand rule already knows (climb the output layer first, move on when
it stalls), and on this env a decision costs seconds. So ``aann rl train --teacher rule:RATE``
first rolls the teacher out in the training envs (:func:`collect`: observations, the teacher's
actions and the returns), fits the policy's action head to the teacher's actions and its value
head to the returns (:func:`fit`), and only then runs PPO from there (Shala et al., PPSN 2020,
start step-size policies from the hand rule they are to beat).

The demonstrations are saved after every finished episode (``clone.npz`` in the run directory),
so an interrupted run resumes its collection where it stopped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from aann_env.atomic import atomic_write


class Teacher(Protocol):
    def predict(self, obs: np.ndarray, deterministic: bool = True) -> tuple[np.ndarray, Any]: ...


@dataclass
class Demonstrations:
    """The teacher's decisions: observations, actions, returns-to-go, and the episode of each."""

    obs: np.ndarray
    actions: np.ndarray
    returns: np.ndarray
    episodes: np.ndarray

    @property
    def n_episodes(self) -> int:
        return int(self.episodes.max()) + 1 if len(self.episodes) else 0

    @classmethod
    def empty(cls, obs_dim: int) -> Demonstrations:
        return cls(
            np.zeros((0, obs_dim), np.float32),
            np.zeros(0, np.int64),
            np.zeros(0, np.float32),
            np.zeros(0, np.int64),
        )

    def add(self, obs: list[np.ndarray], actions: list[int], returns: list[float]) -> None:
        """Append one episode."""
        n = self.n_episodes
        self.obs = np.concatenate([self.obs, np.asarray(obs, np.float32)])
        self.actions = np.concatenate([self.actions, np.asarray(actions, np.int64)])
        self.returns = np.concatenate([self.returns, np.asarray(returns, np.float32)])
        self.episodes = np.concatenate([self.episodes, np.full(len(obs), n, np.int64)])

    def save(self, path: str | os.PathLike[str]) -> None:
        arrays = {k: getattr(self, k) for k in ("obs", "actions", "returns", "episodes")}
        atomic_write(Path(path), lambda fh: np.savez(fh, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Demonstrations:
        """Raises ``ValueError`` for a file that is not such a save."""
        try:
            with np.load(path) as z:
                demos = cls(z["obs"], z["actions"], z["returns"], z["episodes"])
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(
                f"{path} is not a demonstrations file of aann rl train ({exc}); remove it to "
                "collect the demonstrations again"
            ) from exc
        if not len(demos.obs) == len(demos.actions) == len(demos.returns) == len(demos.episodes):
            raise ValueError(f"{path}: its arrays differ in length; remove it to collect again")
        return demos


def collect(
    venv: VecEnv,
    teacher: Teacher,
    episodes: int,
    gamma: float = 1.0,
    demos: Demonstrations | None = None,
    save: str | os.PathLike[str] | None = None,
) -> Demonstrations:
    """Roll ``teacher`` out in ``venv`` until ``demos`` holds ``episodes`` whole episodes.

    Args:
        venv: The training envs (their episodes' starts are the training starts).
        teacher: Acts on a batch of observations (SB3's ``predict``).
        episodes: Episodes to hold at the end.
        gamma: Discount of the returns-to-go (the value targets).
        demos: Demonstrations collected before (resumed).
        save: Save the demonstrations here after each finished episode.
    """
    obs_dim = int(np.prod(venv.observation_space.shape or (1,)))
    demos = demos if demos is not None else Demonstrations.empty(obs_dim)
    open_obs: list[list[np.ndarray]] = [[] for _ in range(venv.num_envs)]
    open_acts: list[list[int]] = [[] for _ in range(venv.num_envs)]
    open_rews: list[list[float]] = [[] for _ in range(venv.num_envs)]
    obs = venv.reset()
    while demos.n_episodes < episodes:
        actions, _ = teacher.predict(obs, deterministic=True)
        actions = np.asarray(actions).reshape(venv.num_envs)
        next_obs, rewards, dones, _ = venv.step(actions)
        for i in range(venv.num_envs):
            open_obs[i].append(np.asarray(obs[i], np.float32))
            open_acts[i].append(int(actions[i]))
            open_rews[i].append(float(rewards[i]))
            if dones[i] and demos.n_episodes < episodes:
                demos.add(open_obs[i], open_acts[i], returns_to_go(open_rews[i], gamma))
                open_obs[i], open_acts[i], open_rews[i] = [], [], []
                if save is not None:
                    demos.save(save)
            elif dones[i]:
                open_obs[i], open_acts[i], open_rews[i] = [], [], []
        obs = next_obs
    return demos


def returns_to_go(rewards: list[float], gamma: float) -> list[float]:
    out, total = [], 0.0
    for r in reversed(rewards):
        total = r + gamma * total
        out.append(total)
    return out[::-1]


def fit(
    model: BaseAlgorithm,
    demos: Demonstrations,
    epochs: int = 300,
    learning_rate: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
) -> dict[str, float]:
    """Fit the policy's actions to the teacher's (cross-entropy) and its value to the returns.

    Returns:
        ``agreement`` (share of the demonstrations where the policy's deterministic action is
        the teacher's), ``nll`` and ``value_mse`` after the last epoch, ``samples``.

    Raises:
        ValueError: No demonstrations.
    """
    if len(demos.obs) == 0:
        raise ValueError("no demonstrations to clone from")
    policy = model.policy
    device = policy.device
    obs = torch.as_tensor(demos.obs, device=device)
    actions = torch.as_tensor(demos.actions, device=device)
    returns = torch.as_tensor(demos.returns, device=device)
    optimiser = torch.optim.Adam(policy.parameters(), lr=learning_rate)
    gen = torch.Generator().manual_seed(seed)
    policy.set_training_mode(True)
    for _ in range(epochs):
        order = torch.randperm(len(obs), generator=gen).to(device)
        for start in range(0, len(obs), batch_size):
            idx = order[start : start + batch_size]
            values, log_prob, _ = policy.evaluate_actions(obs[idx], actions[idx])
            loss = -log_prob.mean() + 0.5 * torch.mean((values.flatten() - returns[idx]) ** 2)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    policy.set_training_mode(False)
    with torch.no_grad():
        values, log_prob, _ = policy.evaluate_actions(obs, actions)
        chosen = policy.get_distribution(obs).get_actions(deterministic=True)
    return {
        "agreement": float((chosen == actions).float().mean()),
        "nll": float(-log_prob.mean()),
        "value_mse": float(torch.mean((values.flatten() - returns) ** 2)),
        "samples": float(len(obs)),
    }


__all__ = ["Demonstrations", "Teacher", "collect", "fit", "returns_to_go"]
