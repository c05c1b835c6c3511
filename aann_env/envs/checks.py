"""Checks of the env's arguments: each names what was wrong and what it must be."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ACTION_MODES: tuple[str, ...] = ("swap", "layer", "schedule", "proposal")
OBSERVATION_MODES: tuple[str, ...] = ("summary", "weights")
REWARD_MODES: tuple[str, ...] = ("accuracy", "loss")
SCHEDULE_REWARDS: tuple[str, ...] = (*REWARD_MODES, "held_out", "reference")
"""The schedule formulation's rewards (``aann_env.envs.schedule_v2``)."""


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> None:
    """Raise ValueError unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")


def check_modes(
    action_mode: str, observation_mode: str, reward: str, render_mode: str | None, metadata: dict
) -> None:
    """Raise ValueError for an unknown action, observation, reward or render mode."""
    check_choice("action_mode", action_mode, ACTION_MODES)
    check_choice("observation_mode", observation_mode, OBSERVATION_MODES)
    check_choice("reward", reward, SCHEDULE_REWARDS if action_mode == "schedule" else REWARD_MODES)
    check_choice("render_mode", render_mode, (None, *metadata["render_modes"]))
    if action_mode == "proposal" and observation_mode != "summary":
        raise ValueError(
            "the proposal action mode observes candidates: use observation_mode='summary'"
        )


def check_sparsity(sparsity: float) -> None:
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")


def check_numbers(sparsity: float, neighborhood_size: int, n_candidates: int) -> None:
    """Raise ValueError for a sparsity, neighbourhood size or candidate count out of range."""
    check_sparsity(sparsity)
    if neighborhood_size < 1:
        raise ValueError(f"neighborhood_size must be >= 1, got {neighborhood_size}")
    if n_candidates < 1:
        raise ValueError(f"n_candidates must be >= 1, got {n_candidates}")
