"""The schedule-control formulation: a policy picks the layer and the neighbourhood size of each
SENSE step, and an episode is a budget of evaluation cost.

**Cost model.** Scoring one neighbour costs ``LAYER_COSTS[layer]`` units: the relative CPU cost
of scoring one swap in that layer with the incremental evaluator (MNIST's from
``benchmarks/neighbor_eval.py``: a conv ``1.0`` swap about 1,200 output-layer swaps, a conv ``2.0``
swap about 40; the car net's convs are taken to cost what MNIST's do, and an ``fc1`` swap about
twice an output-layer swap). The numbers are fixed, not measured, so episodes are deterministic
and do not depend on the machine. A SENSE step of ``K`` neighbours in layer ``l`` costs
``K * LAYER_COSTS[l]``; a direct swap costs one neighbour of its layer.

**Actions.** ``Discrete(n_layers * n_sizes)``: action ``a`` is layer ``l = a // n_sizes`` with
the ``a % n_sizes``-th of that layer's neighbourhood sizes. Sizes are one tuple for every layer, or
one tuple per layer name (all of one length); the default, :data:`LAYER_SIZES`, scales them with
the layer's cost, so that no single step of an expensive layer eats a large share of a budget.

**Decisions.** By default an action is one SENSE step. With ``decisions=D`` (and a budget ``B``)
an action runs SENSE steps of its layer and size until ``B / D`` of cost is spent (at least one
step; the last may overshoot), so an episode is about ``D`` decisions whatever the budget: a
horizon that policy-gradient methods assign credit over, where one SENSE step per action would
make episodes of thousands of steps.

**Budgets.** ``budget`` is one evaluation cost, or a ``(low, high)`` range from which each
episode draws its budget log-uniformly (with the env's generator), so that one policy learns
schedules for short and long searches.

**Observation.** The summary of :mod:`aann_env.envs.observations`, whose fraction feature is the
fraction of the budget spent, followed by one feature per layer: ``tanh(GAIN_SCALE * g)`` with
``g`` the layer's reward over its last steps divided by their cost (recent gain per unit of cost;
0 before the layer's first step), and last the episode's budget on a log scale
(:func:`budget_feature`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces

from aann_env.core.architecture import Architecture
from aann_env.core.network import TernaryNetwork
from aann_env.envs.observations import HISTORY, StepHistory, summary

LAYER_COSTS: dict[str, float] = {"1.0": 1200.0, "2.0": 40.0, "fc": 1.0, "fc1": 2.0, "fc2": 1.0}
"""Relative cost of scoring one neighbour in each layer (layers not named cost 1)."""

DEFAULT_SIZES: tuple[int, ...] = (16, 64, 256)
"""Neighbourhood sizes of a layer that :data:`LAYER_SIZES` does not name."""

LAYER_SIZES: dict[str, tuple[int, ...]] = {
    "1.0": (2, 8, 32),
    "2.0": (8, 32, 128),
    "fc": (64, 256, 1024),
    "fc1": (64, 256, 1024),
    "fc2": (64, 256, 1024),
}
"""Default neighbourhood sizes per layer: a quarter, one and four times the SENSE agent's default
neighbourhood (``aann search``'s ``fc=256,2.0=32,1.0=8``)."""

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


Sizes = Sequence[int] | Mapping[str, Sequence[int]]


def size_table(arch: Architecture, sizes: Sizes | None = None) -> np.ndarray:
    """The neighbourhood sizes of each layer: (n_layers, n_sizes) int64.

    Args:
        arch: The architecture.
        sizes: One tuple for every layer, or one per layer name (layers not named get
            :data:`DEFAULT_SIZES`); None: :data:`LAYER_SIZES`.
    """
    table = LAYER_SIZES if sizes is None else sizes
    if isinstance(table, Mapping):
        unknown = sorted(set(table) - set(arch.layer_names))
        if unknown and sizes is not None:  # the defaults name every task's layers
            raise ValueError(
                f"neighborhood_sizes names layers {unknown} that {arch.name!r} lacks; layers: "
                f"{list(arch.layer_names)}"
            )
        rows = [tuple(table.get(name, DEFAULT_SIZES)) for name in arch.layer_names]
    else:
        rows = [tuple(table)] * len(arch.layer_names)
    if len({len(r) for r in rows}) != 1 or not rows[0]:
        raise ValueError(f"every layer needs the same positive number of sizes, got {sizes}")
    if not all(isinstance(k, (int, np.integer)) and k >= 1 for r in rows for k in r):
        raise ValueError(f"neighborhood_sizes must be positive integers, got {sizes}")
    return np.array(rows, dtype=np.int64)


def action_space(n_layers: int, n_sizes: int) -> spaces.Discrete:
    return spaces.Discrete(n_layers * n_sizes)


def decode(action: int, n_sizes: int) -> tuple[int, int]:
    """(layer index, size index) of a schedule action."""
    return int(action) // n_sizes, int(action) % n_sizes


def observation_space(n_layers: int) -> spaces.Box:
    return spaces.Box(-1.0, 1.0, (5 * n_layers + 4 + HISTORY,), np.float32)


def budget_feature(budget: float | None) -> float:
    """``(log10(budget) - 6) / 2`` clipped to [-1, 1] (1e6 maps to 0, 1e4 to -1, 1e8 to 1); 0
    without a budget."""
    if budget is None:
        return 0.0
    return float(np.clip((np.log10(budget) - 6.0) / 2.0, -1.0, 1.0))


def check_budget(budget: float | Sequence[float] | None) -> tuple[float, float] | None:
    """``(low, high)`` of a budget or budget range (equal for one budget); None for none."""
    if budget is None:
        return None
    if isinstance(budget, (int, float, np.number)):
        low = high = float(budget)
    else:
        values = tuple(float(b) for b in budget)
        if len(values) != 2:
            raise ValueError(f"a budget range is (low, high), got {tuple(budget)}")
        low, high = values
    if not (low > 0 and high >= low and np.isfinite(high)):
        raise ValueError(
            f"budget must be a positive evaluation cost or a range 0 < low <= high, got {budget}"
        )
    return low, high


def check_decisions(
    decisions: int | None, action_mode: str, budget_range: tuple[float, float] | None
) -> None:
    """``decisions`` needs the schedule action mode, a budget, and to be at least 1."""
    if decisions is not None and (
        decisions < 1 or action_mode != "schedule" or budget_range is None
    ):
        raise ValueError(
            f"decisions={decisions} needs action_mode='schedule', a budget and decisions >= 1"
        )


def draw_budget(budget_range: tuple[float, float], rng: np.random.Generator) -> float:
    """The budget of an episode: ``low`` if the range is one value, else log-uniform in it."""
    low, high = budget_range
    if low == high:
        return low
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def gain_rates(rewards: Sequence[deque[float]], costs: Sequence[deque[float]]) -> np.ndarray:
    """Per layer: tanh(GAIN_SCALE * recent reward / recent cost), 0 where nothing was spent."""
    out = np.zeros(len(rewards), dtype=np.float32)
    for i, (r, c) in enumerate(zip(rewards, costs, strict=True)):
        spent = float(sum(c))
        if spent > 0:
            out[i] = np.tanh(GAIN_SCALE * float(sum(r)) / spent)
    return out


@dataclass
class Decision:
    """One schedule decision in progress: SENSE steps of one layer and size until the decision's
    share of the budget is spent (:data:`Decision.done`). The schedule env runs a decision within
    one step; the schedule agent (:class:`agents.rl.agent.RLSchedule`) one SENSE step per agent
    step, with this very rule.

    Attributes:
        layer: The layer index.
        k: Neighbours per SENSE step.
        start: Cost spent before the decision.
        before: Accuracy and loss when the decision was taken.
        spent: Cost the decision has spent so far.
    """

    layer: int
    k: int
    start: float
    before: list[float] = field(default_factory=list)
    spent: float = 0.0

    def add(self, cost: float, share: float, budget: float | None) -> bool:
        """Count a SENSE step's ``cost``; return whether the decision is done: its ``share`` of
        the budget is spent, or the whole ``budget`` is."""
        self.spent += cost
        return self.spent >= share or (budget is not None and self.start + self.spent >= budget)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (the schedule agent's checkpoints)."""
        return {
            "layer": self.layer,
            "k": self.k,
            "start": self.start,
            "spent": self.spent,
            "before": list(self.before),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Decision:
        return cls(int(d["layer"]), int(d["k"]), d["start"], list(d["before"]), d["spent"])


def observation(
    net: TernaryNetwork,
    accuracy: float,
    loss: float,
    fraction: float,
    budget: float | None,
    history: StepHistory,
) -> np.ndarray:
    """The schedule observation (see the module docstring); the env and the RL search agent
    (``agents.rl.agent``) both build it here, so a policy sees the same vector in either.

    Args:
        net, accuracy, loss: The current network and its accuracy and loss on the scoring images.
        fraction: The fraction of the budget spent.
        budget: The episode's budget (None: none).
        history: The rewards and costs of the last actions.
    """
    obs = summary(net, accuracy, loss, fraction, history.rewards, history.layer_rewards)
    rates = gain_rates(history.layer_rewards, history.layer_spent)
    return np.concatenate([obs, rates, [budget_feature(budget)]]).astype(np.float32)
