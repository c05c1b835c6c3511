"""The schedule-control formulation: a policy picks the layer and the neighbourhood size of each
SENSE step, and an episode is a budget of evaluation cost.

**Cost model.** Scoring one neighbour costs ``LAYER_COSTS[layer]`` units: the relative CPU cost
of scoring one swap in that layer with the incremental evaluator (MNIST's from
``benchmarks/neighbor_eval.py``: a conv ``1.0`` swap about 1,200 output-layer swaps, a conv ``2.0``
swap about 40; the car net's convs are taken to cost what MNIST's do, and an ``fc1`` swap about
twice an output-layer swap). The numbers are fixed, not measured, so episodes are deterministic
and do not depend on the machine. A SENSE step of ``K`` neighbours in layer ``l`` costs
``K * LAYER_COSTS[l]``; a direct swap costs one neighbour of its layer.

**Actions.** ``Discrete(n_layers * len(sizes))``: action ``a`` is layer ``a // len(sizes)`` with
``sizes[a % len(sizes)]`` neighbours.

**Observation.** The summary of :mod:`aann_env.envs.observations`, whose fraction feature is the
fraction of the budget spent, followed by one feature per layer: ``tanh(GAIN_SCALE * g)`` with
``g`` the layer's reward over its last steps divided by their cost (recent gain per unit of cost;
0 before the layer's first step).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

import numpy as np
from gymnasium import spaces

from aann_env.core.architecture import Architecture
from aann_env.envs.observations import HISTORY

LAYER_COSTS: dict[str, float] = {"1.0": 1200.0, "2.0": 40.0, "fc": 1.0, "fc1": 2.0, "fc2": 1.0}
"""Relative cost of scoring one neighbour in each layer (layers not named cost 1)."""

DEFAULT_SIZES: tuple[int, ...] = (16, 64, 256)
"""Neighbourhood sizes a schedule action chooses from."""

GAIN_SCALE = 1e5
"""Gain per unit of cost is multiplied by this before the tanh (an fc neighbourhood of 256 that
gains 0.1 points of accuracy maps to tanh(0.39))."""


def layer_costs(arch: Architecture, costs: Mapping[str, float] | None = None) -> np.ndarray:
    """The cost of one neighbour of each layer, in layer order: (n_layers,) float64."""
    table = LAYER_COSTS if costs is None else costs
    out = np.array([float(table.get(name, 1.0)) for name in arch.layer_names])
    if (out <= 0).any() or not np.isfinite(out).all():
        raise ValueError(
            f"layer costs must be positive numbers, got {dict(zip(arch.layer_names, out, strict=True))}"
        )
    return out


def check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    out = tuple(int(k) for k in sizes)
    if not out or any(k < 1 for k in out):
        raise ValueError(f"neighborhood_sizes must be positive integers, got {tuple(sizes)}")
    return out


def action_space(n_layers: int, n_sizes: int) -> spaces.Discrete:
    return spaces.Discrete(n_layers * n_sizes)


def decode(action: int, n_sizes: int) -> tuple[int, int]:
    """(layer index, size index) of a schedule action."""
    return int(action) // n_sizes, int(action) % n_sizes


def observation_space(n_layers: int) -> spaces.Box:
    return spaces.Box(-1.0, 1.0, (5 * n_layers + 3 + HISTORY,), np.float32)


def gain_rates(rewards: Sequence[deque[float]], costs: Sequence[deque[float]]) -> np.ndarray:
    """Per layer: tanh(GAIN_SCALE * recent reward / recent cost), 0 where nothing was spent."""
    out = np.zeros(len(rewards), dtype=np.float32)
    for i, (r, c) in enumerate(zip(rewards, costs, strict=True)):
        spent = float(sum(c))
        if spent > 0:
            out[i] = np.tanh(GAIN_SCALE * float(sum(r)) / spent)
    return out
