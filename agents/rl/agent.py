"""A trained schedule policy as a search agent (``aann search --agent rl``).

The agent runs the SENSE steps that a schedule policy (:mod:`aann_env.envs.schedule`) chooses:
before each decision it builds the very observation the schedule env would show (with
:func:`aann_env.envs.schedule.observation` of a :class:`~aann_env.envs.observations.StepHistory`,
the env's own bookkeeping), asks the policy for a layer and a neighbourhood size, and runs SENSE
steps there (the search core's :meth:`~aann_env.envs.core.FamilySearch.sense_step`) until the
decision's share of the budget is spent, by the env's own rule
(:class:`aann_env.envs.schedule.Decision`). Driven through a ``"swap"``-mode env with the same seed and
budget, it makes the same moves as the policy in the schedule env, one SENSE step per agent step,
so runs get the usual history, checkpoints, resume and plots. It needs a cost budget
(``Budget(cost=...)``, ``aann search --budget-cost``) or a wall-time one (``--budget-seconds``):
the policy observes the fraction spent, and a wall-time budget is turned into cost at the
search's measured rate (so its moves depend on the machine's speed).

Loading a policy unpickles code from its file (see :mod:`agents.rl.policy`).
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np

from aann_env.envs import schedule, schedule_v2
from aann_env.envs.observations import StepHistory, reward_of
from aann_env.envs.schedule_v2 import Progress
from agents.base import SearchAgent
from agents.rl.policy import Policy, load_policy
from agents.rl.rule import HandRule

NOMINAL_RATE = 1_500.0
"""Cost units a second assumed for a wall-time budget until the search has measured its own
rate (after its first step): about what ``aann search`` spends on this 2-core machine with its
default scoring (issue 26 measured 1,743 a second for ``adaptive``, 710 for the v1 policy)."""


class RLSchedule(SearchAgent):
    """SENSE steps scheduled by a trained policy.

    Args:
        policy: ``"shipped"`` (the policy that ships with aann, hash-checked), a policy file
            with its provenance (:mod:`agents.rl.policy`), or a hand rule
            (:class:`agents.rl.rule.HandRule`) that acts where a policy would.
        seed: Seed of the agent's generator (unused: the policy acts deterministically).
    """

    name = "rl"

    def __init__(
        self, policy: str | os.PathLike[str] | HandRule = "shipped", seed: int | None = None
    ) -> None:
        super().__init__(seed)
        self.policy: Policy | HandRule
        if isinstance(policy, HandRule):
            self.policy_spec, self.policy = policy.name, policy
        else:
            self.policy_spec, self.policy = str(policy), load_policy(policy)
        cfg = self.policy.config
        if cfg.formulation != "schedule":
            raise ValueError(
                f"{self.policy.path} is a {cfg.formulation!r} policy; the search agent runs "
                "schedule policies"
            )
        self.criterion = cfg.criterion
        self.reward_mode = cfg.reward
        self.decisions = cfg.decisions
        self.version = cfg.observation_version
        self._progress: Progress | None = None  # observation v2's bookkeeping
        self._counts = [0, 0]  # v2: commits and SENSE steps of the open decision
        self._history: StepHistory | None = None  # the schedule env's, built at the first step
        self._decision: schedule.Decision | None = None
        self._tables: tuple[np.ndarray, np.ndarray] | None = None  # sizes and costs per layer

    def _ready(self, env: gym.Env) -> tuple[np.ndarray, np.ndarray]:
        """The size table and the layer costs of the env's architecture (built and checked at
        the first step, not at every one)."""
        if self._tables is not None:
            return self._tables
        u = env.unwrapped
        arch = u.network.arch
        table = schedule.size_table(arch, self.policy.config.neighborhood_sizes)
        if self._history is None or not self._history.layer_rewards:  # new, or resumed early
            self._history = StepHistory(u.n_layers)
        if self._progress is None:
            self._progress = Progress(u.n_layers)
            self._progress.reset(u.val_accuracy)
        space = schedule.observation_space if self.version == 1 else schedule_v2.observation_space
        expected = space(u.n_layers).shape
        if self.policy.observation_shape != expected:
            raise ValueError(
                f"{self.policy.path} observes {self.policy.observation_shape}, but "
                f"{arch.name!r} schedule observations are {expected}: a policy of another task"
            )
        costs = np.array([self.layer_costs.get(name, 1.0) for name in arch.layer_names])
        self._tables = (table, costs)
        return self._tables

    def budget_cost(self) -> float:
        """The budget in cost units: the cost budget, or for a wall-time budget the cost the
        search will have spent when its time is up at its rate so far (at the first decision,
        :data:`NOMINAL_RATE`), so that the policy sees wall time spent as its budget fraction."""
        if self.budget is not None and self.budget.cost is not None:
            return float(self.budget.cost)
        if self.budget is not None and self.budget.seconds is not None:
            wall = self.wall_time()
            unit = self.cost_model.unit_seconds  # a model of time knows its rate
            nominal = NOMINAL_RATE if unit is None else 1.0 / unit
            rate = self.cost / wall if self.cost > 0 and wall > 0 else nominal
            return self.cost + max(self.budget.seconds - wall, 0.0) * rate
        raise ValueError(
            "the rl agent needs a cost or wall-time budget (Budget(cost=...) or "
            "Budget(seconds=...), aann search --budget-cost or --budget-seconds): its policy "
            "observes the fraction of the budget spent"
        )

    def _decide(self, env: gym.Env, table: np.ndarray) -> schedule.Decision:
        u = env.unwrapped
        budget = self.budget_cost()
        assert self._history is not None and self._progress is not None
        if self.version == 2:
            gap = u.val_loss - u.loss
            obs = self._progress.observation(
                u.val_accuracy, gap, self.cost / budget, budget - self.cost
            )
        else:
            obs = schedule.observation(
                u.network, u.accuracy, u.loss, self.cost / budget, budget, self._history
            )
        layer, size = schedule.decode(self.policy.act(obs), table.shape[1])
        before = [u.accuracy, u.loss, u.val_accuracy]
        return schedule.Decision(layer, int(table[layer, size]), self.cost, before)

    def _search_step(self, env: gym.Env) -> tuple[str, int, bool]:
        u = env.unwrapped
        table, costs = self._ready(env)
        if self._decision is None:
            self._decision = self._decide(env, table)
        d = self._decision
        # The core draws, scores and selects; the commit goes through env.step (wrappers see it).
        step = u.search.sense_step(d.layer, d.k, self.criterion, "no_worse", commit=env.step)
        self._counts = [self._counts[0] + step.accepted, self._counts[1] + 1]
        budget = self.budget_cost()
        name = u.network.layer_names[d.layer]
        if d.add(
            self.cost_model.step_cost(name, d.k, step.accepted), budget / self.decisions, budget
        ):
            self._close_decision(env)
        return name, d.k, step.accepted

    def _close_decision(self, env: gym.Env) -> None:
        """Record the finished decision's reward and cost (the env's observation history)."""
        u, d = env.unwrapped, self._decision
        assert d is not None and self._history is not None
        reward = reward_of(self.reward_mode, (d.before[0], d.before[1]), u.accuracy, u.loss)
        self._history.record(d.layer, reward, float(d.spent))
        assert self._progress is not None
        gain = u.val_accuracy - d.before[2]
        self._progress.record(d.layer, gain, float(d.spent), *self._counts)
        self._progress.held_out(u.val_accuracy)
        self._counts = [0, 0]
        self._decision = None

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["policy_sha256"] = self.policy.provenance.get("sha256")
        history = (
            self._history.state()
            if self._history is not None
            else {"rewards": [], "layer_rewards": [], "layer_spent": []}
        )
        state.update(history)
        state["decision"] = None if self._decision is None else self._decision.to_dict()
        if self.version == 2 and self._progress is not None:  # v1 checkpoints stay as they were
            state["progress"] = {**self._progress.state(), "counts": list(self._counts)}
        return state

    def load_state_dict(self, state: dict[str, Any], best_network: Any) -> None:
        super().load_state_dict(state, best_network)
        if state.get("policy_sha256") != self.policy.provenance.get("sha256"):
            raise ValueError("the checkpoint was written with another policy file")
        self._history = StepHistory(len(state["layer_rewards"]))
        self._history.load(state)
        decision = state["decision"]
        self._decision = None if decision is None else schedule.Decision.from_dict(decision)
        if "progress" in state:
            self._progress = Progress(len(state["layer_rewards"]))
            self._progress.load(state["progress"])
            self._counts = [int(c) for c in state["progress"]["counts"]]
