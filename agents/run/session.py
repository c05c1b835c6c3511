"""One search session: an env, an agent and the rows of its history, with start / snapshot /
restore / advance / summary.

:class:`Search` is the lifecycle that every kind of run shares: a single search in a run
directory (:class:`agents.run.search_run.SearchRun`, the ``rl`` agent's runs included) and each
chain of a population (:class:`agents.distributed.chain.Chain`) are a :class:`Search` with a
run directory and a budget of their own. Everything a search depends on lives in the env's
generator, the agent's generator and the agent's counters, so a :class:`Search` restored from its
:meth:`Search.snapshot` continues the very trajectory it would have taken.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

import aann_env  # noqa: F401  (registers the env ids)
from aann_env.core.network import TernaryNetwork
from aann_env.envs.cost_model import cost_model
from aann_env.envs.registration import TASK_ENV_IDS
from aann_env.runs.snapshot import Snapshot
from agents.base import BaseCallback, SearchAgent, score_fields
from agents.budget import Budget, StepInfo
from agents.registry import make_agent as make_named_agent
from agents.run.config import SearchConfig


def make_env(cfg: SearchConfig) -> gym.Env:
    """The env of a search (swap mode, one open-ended episode)."""
    return gym.make(
        TASK_ENV_IDS[cfg.task],
        sparsity=cfg.sparsity,
        eval_size=cfg.eval_size,
        score_on=cfg.score_on,
        rotate_every=cfg.rotate_every,
        selection_size=cfg.selection_size,
        device=cfg.device,
        data_dir=cfg.data_dir,
        cost_model=cfg.cost_model,  # the env's info["cost"] counts what the agent counts
        max_episode_steps=-1,  # a search is one open-ended episode
    )


def make_agent(cfg: SearchConfig) -> SearchAgent:
    """The agent of a search, its generator seeded apart from the env's."""
    agent = make_named_agent(cfg.agent, **cfg.agent_arguments())
    agent.rng = np.random.default_rng((cfg.seed, 1))  # a stream apart from the env's
    if cfg.cost_model != "neighbours":  # else the agent's own (SENSE's layer_costs, if given)
        agent.cost_model = cost_model(cfg.cost_model)
    return agent


def history_row(info: StepInfo, test_accuracy: float | None, scores: bool = False) -> list[Any]:
    """One ``history.csv`` row (:data:`aann_env.runs.history.SEARCH_COLUMNS`, then
    :data:`~aann_env.runs.history.SCORE_COLUMNS` if ``scores``); floats keep every digit."""
    extra = [repr(info.score_accuracy), repr(info.score_loss)] if scores else []
    return [
        info.step,
        info.evals,
        f"{info.wall_time:.3f}",
        info.layer,
        int(info.committed),
        repr(info.val_accuracy),
        repr(info.val_loss),
        "" if test_accuracy is None else repr(test_accuracy),
        repr(info.best_val_accuracy),
        *extra,
    ]


class Search:
    """One search: its env, its agent and how its history rows read.

    Args:
        config: The search (``workers`` is the run's business: a session scores in this process
            unless a scorer is attached to its env).
    """

    def __init__(self, config: SearchConfig) -> None:
        self.config = config
        self.env: gym.Env = make_env(config)
        self.agent: SearchAgent = make_agent(config)
        self.scores = config.records_scores
        """Whether the history rows carry the score columns."""
        self._running = False

    @property
    def network(self) -> TernaryNetwork:
        """The network the search stands on."""
        return self.env.unwrapped.network  # type: ignore[no-any-return]

    def row(self, info: StepInfo, test_accuracy: float | None = None) -> list[Any]:
        """The history row of a step (:func:`history_row`)."""
        return history_row(info, test_accuracy, self.scores)

    def start(self) -> list[Any]:
        """Reset to the config's start; return the history's row 0 (with the test accuracy)."""
        cfg = self.config
        self.env.reset(seed=cfg.seed, options={"init": cfg.start.reset_option()})
        u = self.env.unwrapped
        self.agent.best_network = u.network.copy()
        self.agent.best_accuracy = u.val_accuracy
        start = StepInfo(
            0, 0, 0.0, "", False, u.val_accuracy, u.val_loss, u.val_accuracy, **score_fields(u)
        )
        return self.row(start, u.test_accuracy())

    def state(self) -> dict[str, Any]:
        """What a checkpoint holds besides the networks (JSON-able): the agent's state, the env's
        generator and where the scoring rotation stands."""
        u = self.env.unwrapped
        state = {
            "agent": self.agent.state_dict(),
            "env_rng": u.np_random.bit_generator.state,
            "scoring": u.scoring_state(),
        }
        if not self._running:  # between runs: the time waited since does not count
            state["agent"]["elapsed"] = self.agent.elapsed
        return state

    def snapshot(self) -> Snapshot:
        """The search as a checkpoint holds it."""
        assert self.agent.best_network is not None
        return Snapshot(self.network.copy(), self.agent.best_network, self.state())

    def restore(self, snapshot: Snapshot) -> None:
        """Continue from a snapshot (a resume, or a population's exploit)."""
        state = snapshot.state
        self.env.reset(seed=self.config.seed, options={"init": snapshot.current})
        u = self.env.unwrapped
        u.np_random.bit_generator.state = state["env_rng"]
        u.restore_scoring_state(state.get("scoring", {"rounds": 0}))
        self.agent.load_state_dict(state["agent"], snapshot.best)

    def done(self, budget: Budget) -> bool:
        """Whether ``budget`` is spent (between runs: time waited does not count)."""
        a = self.agent
        return budget.exhausted(a.evals, a.elapsed, a.cost)

    def advance(self, budget: Budget, callback: BaseCallback | None = None) -> TernaryNetwork:
        """Search until ``budget`` is spent or ``callback`` says stop; return the best network."""
        self._running = True
        try:
            return self.agent.run(self.env, budget, callback)
        finally:
            self._running = False

    def summary(self) -> dict[str, Any]:
        """The final figures (those of ``summary.json``)."""
        u, a = self.env.unwrapped, self.agent
        assert a.best_network is not None
        test = u.test_accuracy()  # cached when the last row measured it
        best_test = test if a.best_network == u.network else u.test_accuracy(a.best_network)
        return {
            "agent": self.config.agent,
            "steps": a.steps,
            "evals": a.evals,
            "wall_time": a.elapsed,
            "cost": a.cost,
            "cost_model": a.cost_model.name,
            "score_on": self.config.score_on,
            "score_accuracy": u.accuracy,
            "val_accuracy": u.val_accuracy,
            "test_accuracy": test,
            "best_val_accuracy": a.best_accuracy,
            "best_test_accuracy": best_test,
        }


__all__ = ["Search", "history_row", "make_agent", "make_env"]
