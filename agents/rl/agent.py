"""A trained schedule policy as a search agent (``aann search --agent rl``).

The agent runs the SENSE steps that a schedule policy (:mod:`aann_env.envs.schedule`) chooses:
before each decision it builds the very observation the schedule env would show (with
:func:`aann_env.envs.schedule.observation`), asks the policy for a layer and a neighbourhood
size, and runs SENSE steps there until the decision's share of the budget is spent, exactly as
the env's ``decisions`` option does. Driven through a ``"swap"``-mode env with the same seed and
budget, it makes the same moves as the policy in the schedule env, one SENSE step per agent step,
so runs get the usual history, checkpoints, resume and plots. It needs a cost budget
(``Budget(cost=...)``, ``aann search --budget-cost``): the policy observes the fraction spent.

Loading a policy unpickles code from its file (see :mod:`agents.rl.policy`).
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np

from aann_env.envs import schedule
from aann_env.envs.observations import HISTORY
from aann_env.envs.selection import select
from agents.base import SearchAgent
from agents.rl.policy import Policy, load_policy


class RLSchedule(SearchAgent):
    """SENSE steps scheduled by a trained policy.

    Args:
        policy: ``"shipped"`` (the policy that ships with aann, hash-checked) or a policy file
            with its provenance (:mod:`agents.rl.policy`).
        seed: Seed of the agent's generator (unused: the policy acts deterministically).
    """

    name = "rl"

    def __init__(self, policy: str | os.PathLike[str] = "shipped", seed: int | None = None) -> None:
        super().__init__(seed)
        self.policy_spec = str(policy)
        self.policy: Policy = load_policy(policy)
        cfg = self.policy.config
        if cfg.formulation != "schedule":
            raise ValueError(
                f"{self.policy.path} is a {cfg.formulation!r} policy; the search agent runs "
                "schedule policies"
            )
        self.criterion = cfg.criterion
        self.reward_mode = cfg.reward
        self.decisions = cfg.decisions
        self._rewards: deque[float] = deque(maxlen=HISTORY)
        self._layer_rewards: list[deque[float]] = []
        self._layer_spent: list[deque[float]] = []
        self._decision: dict[str, Any] | None = None  # layer, k, start cost, spent, before
        self._tables: tuple[np.ndarray, np.ndarray] | None = None  # sizes and costs per layer

    def _ready(self, env: gym.Env) -> tuple[np.ndarray, np.ndarray]:
        """The size table and the layer costs of the env's architecture (built and checked at
        the first step, not at every one)."""
        if self._tables is not None:
            return self._tables
        u = env.unwrapped
        arch = u.network.arch
        table = schedule.size_table(arch, self.policy.config.neighborhood_sizes)
        if not self._layer_rewards:
            self._layer_rewards = [deque(maxlen=HISTORY) for _ in range(u.n_layers)]
            self._layer_spent = [deque(maxlen=HISTORY) for _ in range(u.n_layers)]
        expected = schedule.observation_space(u.n_layers).shape
        if self.policy.model.observation_space.shape != expected:
            raise ValueError(
                f"{self.policy.path} observes {self.policy.model.observation_space.shape}, but "
                f"{arch.name!r} schedule observations are {expected}: a policy of another task"
            )
        costs = np.array([self.layer_costs.get(name, 1.0) for name in arch.layer_names])
        self._tables = (table, costs)
        return self._tables

    def _budget_cost(self) -> float:
        if self.budget is None or self.budget.cost is None:
            raise ValueError(
                "the rl agent needs a cost budget (Budget(cost=...), aann search --budget-cost): "
                "its policy observes the fraction of the budget spent"
            )
        return float(self.budget.cost)

    def _decide(self, env: gym.Env, table: np.ndarray) -> dict[str, Any]:
        u = env.unwrapped
        budget = self._budget_cost()
        obs = schedule.observation(
            u.network,
            u.accuracy,
            u.loss,
            self.cost / budget,
            budget,
            self._rewards,
            self._layer_rewards,
            self._layer_spent,
        )
        layer, size = schedule.decode(self.policy.act(obs), table.shape[1])
        return {
            "layer": layer,
            "k": int(table[layer, size]),
            "start": self.cost,
            "spent": 0.0,
            "before": [u.accuracy, u.loss],
        }

    def _search_step(self, env: gym.Env) -> tuple[str, int, bool]:
        u = env.unwrapped
        table, costs = self._ready(env)
        if self._decision is None:
            self._decision = self._decide(env, table)
        d = self._decision
        layer, k = int(d["layer"]), int(d["k"])
        swaps = u.sample_swaps(k, layer=layer)
        scores = u.evaluate_swaps(swaps)
        choice = select(
            scores.accuracy, scores.loss, u.accuracy, u.loss, self.criterion, "no_worse"
        )
        if choice.accept:
            env.step(swaps[choice.index])
        d["spent"] += k * float(costs[layer])
        budget = self._budget_cost()
        if d["spent"] >= budget / self.decisions or d["start"] + d["spent"] >= budget:
            self._close_decision(env)
        return u.network.layer_names[layer], k, choice.accept

    def _close_decision(self, env: gym.Env) -> None:
        """Record the finished decision's reward and cost (the env's observation history)."""
        u, d = env.unwrapped, self._decision
        assert d is not None
        acc, loss = d["before"]
        reward = float(u.accuracy - acc) if self.reward_mode == "accuracy" else float(loss - u.loss)
        self._rewards.appendleft(reward)
        self._layer_rewards[d["layer"]].appendleft(reward)
        self._layer_spent[d["layer"]].appendleft(float(d["spent"]))
        self._decision = None

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["policy_sha256"] = self.policy.provenance.get("sha256")
        state["rewards"] = list(self._rewards)
        state["layer_rewards"] = [list(d) for d in self._layer_rewards]
        state["layer_spent"] = [list(d) for d in self._layer_spent]
        state["decision"] = self._decision
        return state

    def load_state_dict(self, state: dict[str, Any], best_network: Any) -> None:
        super().load_state_dict(state, best_network)
        if state.get("policy_sha256") != self.policy.provenance.get("sha256"):
            raise ValueError("the checkpoint was written with another policy file")
        self._rewards = deque(state["rewards"], maxlen=HISTORY)
        self._layer_rewards = [deque(r, maxlen=HISTORY) for r in state["layer_rewards"]]
        self._layer_spent = [deque(c, maxlen=HISTORY) for c in state["layer_spent"]]
        self._decision = state["decision"]
