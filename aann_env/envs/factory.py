"""``gym.make("AANN-MNIST-v0", action_mode=..., observation_mode=...)``: the keyword picks the
formulation's class, and ``observation_mode="weights"`` wraps it.

| ``action_mode`` | class | module |
|---|---|---|
| ``"swap"`` (default) | :class:`~aann_env.envs.swap_env.SwapEnv` | ``aann_env.envs.swap_env`` |
| ``"layer"`` | :class:`~aann_env.envs.layer_env.LayerEnv` | ``aann_env.envs.layer_env`` |
| ``"schedule"`` | :class:`~aann_env.envs.schedule_env.ScheduleEnv` | ``aann_env.envs.schedule_env`` |
| ``"proposal"`` | :class:`~aann_env.envs.proposal_env.ProposalEnv` | ``aann_env.envs.proposal_env`` |

Every keyword of every formulation is accepted and checked, as the one env class before them
took them all; those the chosen formulation does not use are dropped.
"""

from __future__ import annotations

from typing import Any, Unpack

import gymnasium as gym

from aann_env.envs import schedule
from aann_env.envs.checks import check_modes, check_numbers
from aann_env.envs.layer_env import LayerEnv
from aann_env.envs.proposal_env import ProposalEnv
from aann_env.envs.schedule_env import ScheduleEnv
from aann_env.envs.search_env import AANNEnv, ActionMode, ObservationMode, SharedArgs
from aann_env.envs.swap_env import SwapEnv
from aann_env.envs.wrappers import WeightsObservation

FORMULATIONS: dict[str, type[AANNEnv]] = {
    "swap": SwapEnv,
    "layer": LayerEnv,
    "schedule": ScheduleEnv,
    "proposal": ProposalEnv,
}
"""The env class of each ``action_mode``."""


def make_env(
    action_mode: ActionMode = "swap",
    observation_mode: ObservationMode = "summary",
    *,
    neighborhood_size: int = 64,
    neighborhood_sizes: schedule.Sizes | None = None,
    decisions: int | None = None,
    observation_version: int = 1,
    budget_end: str = "truncated",
    n_candidates: int = 16,
    proposal_layer: str = "last",
    **shared: Unpack[SharedArgs],
) -> gym.Env:
    """The env of ``action_mode``, observing ``observation_mode`` (the registered entry point).

    Args:
        action_mode: The formulation (see the module docstring).
        observation_mode: ``"summary"``, or ``"weights"`` (:class:`WeightsObservation`).
        neighborhood_size: ``"layer"``: swaps per step.
        neighborhood_sizes: ``"schedule"``: the sizes an action chooses from.
        decisions: ``"schedule"`` with a budget: decisions per episode.
        observation_version: ``"schedule"``: 1 or 2 (:mod:`aann_env.envs.schedule_v2`).
        budget_end: ``"schedule"``: a spent budget ``"truncated"`` or ``"terminated"``.
        n_candidates: ``"proposal"``: candidates per step.
        proposal_layer: ``"proposal"``: where candidates are drawn.
        **shared: The arguments every formulation takes (:class:`AANNEnv`).
    """
    check_modes(
        action_mode,
        observation_mode,
        shared.get("reward", "accuracy"),
        shared.get("render_mode"),
        AANNEnv.metadata,
    )
    check_numbers(shared.get("sparsity", 0.8), neighborhood_size, n_candidates)
    schedule.check_decisions(decisions, action_mode, schedule.check_budget(shared.get("budget")))
    own: dict[str, Any] = {
        "swap": {},
        "layer": {"neighborhood_size": neighborhood_size},
        "schedule": {
            "neighborhood_sizes": neighborhood_sizes,
            "decisions": decisions,
            "observation_version": observation_version,
            "budget_end": budget_end,
        },
        "proposal": {"n_candidates": n_candidates, "proposal_layer": proposal_layer},
    }[action_mode]
    env: gym.Env = FORMULATIONS[action_mode](**own, **shared)
    return WeightsObservation(env) if observation_mode == "weights" else env


make_env.metadata = AANNEnv.metadata  # type: ignore[attr-defined]  (gym.make checks render modes)

__all__ = ["FORMULATIONS", "make_env"]
