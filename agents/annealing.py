"""Simulated annealing over bit-swaps (the paper's suggested future work, Sec. 5).

Each step proposes ``batch`` random swaps, scores them, and considers them in order by the
Metropolis rule on the validation loss (or the error rate): a proposal that lowers the energy is
accepted; one that raises it by ``delta`` is accepted with probability ``exp(-delta / T)``. The
first accepted proposal is committed (the rest were scored against a network that no longer
exists, and are dropped; their evaluations still count).

Temperature schedule (geometric in the spent budget fraction ``f`` in [0, 1])::

    T(f) = t_start * (t_end / t_start) ** f

With an evaluation budget ``f`` is the fraction of evaluations spent, so the schedule, like the
trajectory, does not depend on the machine's speed; with only a time budget it is the fraction
of the time spent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import gymnasium as gym

from agents.base import SearchAgent

Energy = Literal["loss", "error"]


class SimulatedAnnealing(SearchAgent):
    """Metropolis acceptance of random swaps under a geometric temperature schedule.

    Args:
        t_start: Initial temperature (in units of the energy: mean cross-entropy or error rate).
        t_end: Final temperature.
        energy: ``"loss"`` (validation cross-entropy) or ``"error"`` (1 - validation accuracy).
        batch: Proposals scored per step.
        layer_weights: Odds of each layer for proposals; default: uniform over first neighbours.
        seed: Seed of the agent's generator (acceptance draws).
    """

    name = "annealing"

    def __init__(
        self,
        t_start: float = 2e-3,
        t_end: float = 1e-5,
        energy: Energy = "loss",
        batch: int = 16,
        layer_weights: Sequence[float] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        if not t_start > 0 or not t_end > 0:
            raise ValueError(f"temperatures must be positive, got t_start={t_start}, t_end={t_end}")
        if energy not in ("loss", "error"):
            raise ValueError(f"energy must be 'loss' or 'error', got {energy!r}")
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.t_start, self.t_end = float(t_start), float(t_end)
        self.energy = energy
        self.batch = int(batch)
        self.layer_weights = layer_weights

    def temperature(self) -> float:
        f = 0.0 if self.budget is None else self.budget.fraction(self.evals, self.wall_time())
        return self.t_start * (self.t_end / self.t_start) ** f

    def _search_step(self, env: gym.Env) -> tuple[str, int, bool]:
        u = env.unwrapped
        swaps = self._propose(env, self.batch, self.layer_weights)
        scores = u.evaluate_swaps(swaps)
        energy = scores.loss if self.energy == "loss" else 1.0 - scores.accuracy
        current = u.loss if self.energy == "loss" else 1.0 - u.accuracy
        temperature = self.temperature()
        draws = self.rng.random(len(swaps))  # one draw per proposal, used or not: a fixed stream
        for i in range(len(swaps)):
            delta = float(energy[i] - current)
            if delta <= 0.0 or draws[i] < math.exp(-delta / temperature):
                env.step(swaps[i])
                return u.network.layer_names[int(swaps[i][0])], len(swaps), True
        return u.network.layer_names[int(swaps[0][0])], len(swaps), False
