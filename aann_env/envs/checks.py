"""Checks of the env's arguments: each names what was wrong and what it must be."""

from __future__ import annotations


def check_modes(
    action_mode: str, observation_mode: str, reward: str, render_mode: str | None, metadata: dict
) -> None:
    """Raise ValueError for an unknown action, observation, reward or render mode."""
    for name, value, allowed in (
        ("action_mode", action_mode, ("swap", "layer", "schedule", "proposal")),
        ("observation_mode", observation_mode, ("summary", "weights")),
        ("reward", reward, ("accuracy", "loss")),
        ("render_mode", render_mode, (None, *metadata["render_modes"])),
    ):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    if action_mode == "proposal" and observation_mode != "summary":
        raise ValueError(
            "the proposal action mode observes candidates: use observation_mode='summary'"
        )


def check_numbers(sparsity: float, neighborhood_size: int, n_candidates: int) -> None:
    """Raise ValueError for a sparsity, neighbourhood size or candidate count out of range."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    if neighborhood_size < 1:
        raise ValueError(f"neighborhood_size must be >= 1, got {neighborhood_size}")
    if n_candidates < 1:
        raise ValueError(f"n_candidates must be >= 1, got {n_candidates}")
