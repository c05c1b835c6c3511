"""SENSE, stochastic search and succeed (Talukder, Raghavan, Yue 2020, Sec. 4.3).

Per neighbourhood: draw K legal swaps in the scheduled layer, score them all, and commit the best
unless it makes the network worse: one SENSE step of the env's search core
(:meth:`aann_env.envs.core.FamilySearch.sense_step`, ``env.unwrapped.search``), the step the
env's ``"layer"`` action takes too. Layer schedules from the paper:

| schedule | paper | layers |
|---|---|---|
| ``"alternate"`` | Fig. 6 | ``block`` neighbourhoods in each layer in order (1.0, 2.0, fc), repeated |
| ``"fc"`` | Fig. 7 | the last layer only |
| ``"random-block"`` | Fig. 8 | a random layer for ``block`` neighbourhoods (3 in the paper), then another |
| ``"uniform"`` | - | a random layer per neighbourhood (``layer_weights`` sets the odds) |
| ``"adaptive"`` | - | the layer whose recent neighbourhoods gained the most accuracy per unit of scoring cost (epsilon-greedy) |
| ``"handoff"`` | - | the last layer until its gain per unit of cost falls below ``handoff_rate``, then ``"adaptive"`` |

The adaptive schedule keeps, per layer, an exponential average of the gain per neighbourhood
(in the criterion's units: accuracy, or loss decrease) divided by its nominal cost, ``K * layer_costs[layer]``. The costs are fixed
numbers (by default the relative cost of scoring one swap in each MNIST layer on the CPU), not
measured times, so the trajectory stays reproducible and resumable. With probability
``epsilon`` a step explores instead: by default (``explore="cost"``) it draws a layer with odds
inversely proportional to its neighbourhood's cost, so that exploration spends about the same
cost on every layer (uniform draws, ``explore="uniform"``, spend most of a search's time
exploring conv ``1.0``, whose neighbourhood costs about 40 fc ones).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from aann_env.envs.cost_model import CostModel
from aann_env.envs.schedule import LAYER_COSTS
from aann_env.envs.selection import AcceptRule, Criterion, check_rules
from agents.base import SearchAgent

Schedule = Literal["alternate", "fc", "random-block", "uniform", "adaptive", "handoff"]

SCHEDULES = ("alternate", "fc", "random-block", "uniform", "adaptive", "handoff")
LEARNING = ("adaptive", "handoff")
"""The schedules that learn each layer's gain per cost."""

TASK_NEIGHBORHOODS: dict[str, dict[str, int]] = {
    "mnist": {"fc": 256, "2.0": 32, "1.0": 8},
    "car": {"fc2": 64, "fc1": 256, "2.0": 32, "1.0": 8},
}
"""SENSE's default swaps per neighbourhood and layer, per task (``aann search``'s defaults)."""

DEFAULT_LAYER_COSTS = LAYER_COSTS
"""Relative cost of scoring one swap per layer: the env's cost model (aann_env.envs.schedule)."""


class SENSE(SearchAgent):
    """Stochastic search and succeed.

    The defaults are the best configuration measured (the README's results): the adaptive
    schedule, neighbours ranked by loss, the task's neighbourhood sizes
    (:data:`TASK_NEIGHBORHOODS`). The paper's runs are presets of ``aann search``
    (``--preset paper-fig6|paper-fig7|paper-fig8``).

    Args:
        neighborhood_size: Swaps scored per neighbourhood: one number, or a mapping from layer
            name to number (a conv ``1.0`` swap costs far more to score than an fc one); None:
            the env's task's sizes in :data:`TASK_NEIGHBORHOODS`.
        schedule: Which layer each neighbourhood searches (see the module docstring).
        block: Neighbourhoods per layer visit for ``"alternate"`` and ``"random-block"``.
        layer_weights: Odds of each layer for ``"uniform"`` (default: equal).
        criterion: Rank neighbours by validation ``"accuracy"`` (loss breaks ties) or ``"loss"``.
        layer_costs: ``"adaptive"``: relative cost of scoring one swap per layer name (layers
            not named cost 1).
        epsilon: ``"adaptive"``: probability of an exploring step.
        explore: ``"adaptive"``: how an exploring step draws its layer: ``"cost"`` (odds inversely
            proportional to the neighbourhood's cost) or ``"uniform"``.
        memory: ``"adaptive"``: weight of the newest gain in the running averages.
        handoff_rate: ``"handoff"``: the last layer's running gain per unit of cost (criterion
            units) below which the schedule hands over to ``"adaptive"`` (tuned on training
            seeds: ``aann rl proxy``).
        accept: Commit the best neighbour if it is ``"no_worse"`` than the current network by the
            criterion, only if ``"better"``, or ``"always"``.
        seed: Seed of the agent's generator (layer draws).
    """

    name = "sense"

    def __init__(
        self,
        neighborhood_size: int | Mapping[str, int] | None = None,
        schedule: Schedule = "adaptive",
        block: int = 3,
        layer_weights: Sequence[float] | None = None,
        criterion: Criterion = "loss",
        accept: AcceptRule = "no_worse",
        layer_costs: Mapping[str, float] | None = None,
        epsilon: float = 0.1,
        memory: float = 0.2,
        explore: Literal["cost", "uniform"] = "cost",
        handoff_rate: float = 3e-6,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        if not handoff_rate >= 0.0:
            raise ValueError(f"handoff_rate must be >= 0, got {handoff_rate}")
        self.handoff_rate = float(handoff_rate)
        self._handed_off = False  # handoff: the last layer's phase is over
        if explore not in ("cost", "uniform"):
            raise ValueError(f"explore must be 'cost' or 'uniform', got {explore!r}")
        self.explore = explore
        if not 0.0 <= epsilon <= 1.0 or not 0.0 < memory <= 1.0:
            raise ValueError(f"need 0 <= epsilon <= 1 and 0 < memory <= 1, got {epsilon}, {memory}")
        if layer_costs is not None:  # a model of neighbour costs only
            self.cost_model = CostModel(
                "custom", dict(layer_costs), source="SENSE(layer_costs=...)"
            )
        self.epsilon = float(epsilon)
        self.memory = float(memory)
        self._gain_rate: list[float | None] | None = None  # adaptive: running gain per cost
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        check_rules(criterion, accept)
        if block < 1:
            raise ValueError(f"block must be >= 1, got {block}")
        sizes = (
            neighborhood_size.values()
            if isinstance(neighborhood_size, Mapping)
            else []
            if neighborhood_size is None
            else [neighborhood_size]
        )
        if any(int(k) < 1 for k in sizes):
            raise ValueError(f"neighbourhood sizes must be >= 1, got {neighborhood_size}")
        self.neighborhood_size = neighborhood_size
        self.schedule = schedule
        self.block = int(block)
        self.layer_weights = None if layer_weights is None else [float(w) for w in layer_weights]
        self.criterion = criterion
        self.accept = accept
        self._block_layer: int | None = None  # the current layer of "random-block"

    def _layer_for_step(self, n_layers: int, sizes: list[int] | None = None) -> int:
        t = self.steps
        if self.schedule == "fc":
            return n_layers - 1
        if self.schedule == "alternate":
            return (t // self.block) % n_layers
        if self.schedule in LEARNING:
            if self._gain_rate is None:
                self._gain_rate = [None] * n_layers
            if self.schedule == "handoff" and not self._handed_off:
                rate = self._gain_rate[-1]
                if rate is None or rate >= self.handoff_rate:
                    return n_layers - 1
                self._handed_off = True
            untried = [i for i, g in enumerate(self._gain_rate) if g is None]
            explore = self.rng.random() < self.epsilon  # drawn every step: a fixed stream
            if untried:
                return untried[0]
            if explore:
                if self.explore == "uniform" or sizes is None:
                    return int(self.rng.integers(n_layers))
                odds = 1.0 / np.asarray(sizes, dtype=float)
                return int(self.rng.choice(n_layers, p=odds / odds.sum()))
            return int(np.argmax(self._gain_rate))
        if self.schedule == "random-block":
            if t % self.block == 0 or self._block_layer is None:
                others = [i for i in range(n_layers) if i != self._block_layer]
                self._block_layer = int(self.rng.choice(others))
            return self._block_layer
        weights = (
            np.ones(n_layers)
            if self.layer_weights is None
            else np.asarray(self.layer_weights, dtype=float)
        )
        if weights.shape != (n_layers,) or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"layer_weights must be {n_layers} non-negative numbers, not all zero")
        return int(self.rng.choice(n_layers, p=weights / weights.sum()))

    def _size(self, layer_name: str, task: str) -> int:
        sizes = self.neighborhood_size
        if sizes is None:
            if task not in TASK_NEIGHBORHOODS:
                raise ValueError(
                    f"no default neighbourhood sizes for task {task!r}: pass neighborhood_size"
                )
            sizes = TASK_NEIGHBORHOODS[task]
        if isinstance(sizes, Mapping):
            if layer_name not in sizes:
                raise ValueError(f"neighborhood_size has no entry for layer {layer_name!r}")
            return int(sizes[layer_name])
        return int(sizes)

    def _search_step(self, env: gym.Env) -> tuple[str, int, bool]:
        u = env.unwrapped
        names, task = u.network.layer_names, u.task.name
        costs = (  # only the adaptive schedule explores (and may visit every layer)
            [self.cost_model.step_cost(n, self._size(n, task)) for n in names]
            if self.schedule in LEARNING
            else None
        )
        layer = self._layer_for_step(u.n_layers, costs)
        name = names[layer]
        # The core draws, scores and selects; the commit goes through env.step, so that
        # wrappers see every move.
        step = u.search.sense_step(
            layer, self._size(name, task), self.criterion, self.accept, commit=env.step
        )
        if self.schedule in LEARNING:  # gain in the criterion's own units
            cost = self.cost_model.step_cost(name, step.evals, step.accepted)
            self._learn(layer, cost, step.before, u.accuracy, u.loss)
        return name, step.evals, step.accepted

    def _learn(
        self,
        layer: int,
        cost: float,
        before: tuple[float, float],
        accuracy: float,
        loss: float,
    ) -> None:
        """Fold a step's gain per unit of its ``cost`` into the layer's running average."""
        assert self._gain_rate is not None
        gained = accuracy - before[0] if self.criterion == "accuracy" else before[1] - loss
        rate = gained / cost
        old = self._gain_rate[layer]
        self._gain_rate[layer] = (
            rate if old is None else (1 - self.memory) * old + self.memory * rate
        )

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["block_layer"] = self._block_layer
        state["gain_rate"] = self._gain_rate
        if self.schedule == "handoff":  # the other schedules' states stay as they were
            state["handed_off"] = self._handed_off
        return state

    def load_state_dict(self, state: dict[str, Any], best_network: Any) -> None:
        super().load_state_dict(state, best_network)
        self._block_layer = state.get("block_layer")
        self._gain_rate = state.get("gain_rate")
        self._handed_off = bool(state.get("handed_off", False))
