"""One chain of a population search, and the Ray actor body that hosts chains.

A :class:`Chain` is one search (an env and an agent of :mod:`agents.runner`, with its own seed)
that runs in *segments*: between two exploits of the population it searches until its segment
ends, records a history row per step, and reports how far it got. The driver reads a chain's
:class:`ChainSnapshot` (its networks and the state of its generators and counters: a checkpoint)
and may :meth:`Chain.restore` one, which is how a chain resumes and how it takes another chain's
network in an exploit. :class:`ChainWorker` holds several chains in one process: a Ray actor
(:class:`agents.distributed.population.RayChains`) or this one (``LocalChains``).

A segment ends after a number of evaluations (``exploit_evals``: segment ``j`` ends once the
chain has made ``(j + 1) * exploit_evals``, so the whole population is deterministic) or of
seconds of the chain's own search time (``exploit_seconds``); the chain stores where its current
segment ends, so a resumed chain finishes the segment it was in. As in a single search, test
accuracy is measured at checkpoints only: on the last row of a segment, when the chain's
``checkpoint_seconds`` have passed since it was last measured, and when the chain is done.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from aann_env.core.network import TernaryNetwork
from agents.budget import Budget, StepInfo
from agents.callbacks import BaseCallback
from agents.distributed.actors import limit_threads
from agents.runner import (
    SearchConfig,
    history_row,
    make_agent,
    make_env,
    records_scores,
    restore_search,
    search_state,
    start_row,
)


@dataclass(frozen=True)
class Segment:
    """Where segment ``index`` of a population ends: after ``(index + 1) * evals`` evaluations of
    a chain, or ``seconds`` after the chain began it."""

    index: int
    evals: int | None = None
    seconds: float | None = None


@dataclass
class SegmentReport:
    """What one chain did in a segment.

    Attributes:
        rows: Its new ``history.csv`` rows (the last may carry the test accuracy).
        done: Its budget is spent.
        val_accuracy: Validation accuracy of its current network.
        best_val_accuracy: The best validation accuracy it has seen.
        steps: Its steps so far.
        evals: Its evaluations so far.
    """

    rows: list[list[Any]]
    done: bool
    val_accuracy: float
    best_val_accuracy: float
    steps: int
    evals: int


@dataclass
class ChainSnapshot:
    """A chain as a checkpoint holds it: its current and best networks and a JSON-able state
    (:func:`agents.runner.search_state` and the chain's segment)."""

    current: TernaryNetwork
    best: TernaryNetwork
    state: dict[str, Any]

    def adopting(self, network: TernaryNetwork) -> ChainSnapshot:
        """The same chain continuing from ``network`` (an exploit): its generators, counters and
        best network stay its own."""
        return ChainSnapshot(network.copy(), self.best, self.state)


class _Rows(BaseCallback):
    """Collects a history row per step; stops the search when the segment's end is reached."""

    def __init__(self, end: tuple[str, float], scores: bool) -> None:
        super().__init__()
        self.end = end
        self.scores = scores
        self.rows: list[list[Any]] = []
        self.last: StepInfo | None = None

    def _on_step(self, info: StepInfo) -> bool:
        self.rows.append(history_row(info, None, self.scores))
        self.last = info
        return not reached(self.end, info.evals, info.wall_time)


def reached(end: tuple[str, float], evals: int, wall_time: float) -> bool:
    """Whether a chain at ``evals`` evaluations and ``wall_time`` seconds is past ``end``."""
    kind, value = end
    return (evals if kind == "evals" else wall_time) >= value


class Chain:
    """One search of a population, run in segments.

    Args:
        config: The chain's search (its own seed; ``workers`` is ignored: a chain runs in one
            process).
    """

    def __init__(self, config: SearchConfig) -> None:
        self.config = config
        self.env: gym.Env = make_env(config)
        self.agent = make_agent(config)
        self.budget = Budget(config.budget_evals, config.budget_seconds, config.budget_cost)
        self.scores = records_scores(config)
        self.segment: tuple[int, str, float] | None = None
        """(index, "evals" or "seconds", where it ends) of the current segment."""
        self._tested = time.perf_counter()

    def start(self) -> list[Any]:
        """Reset to the chain's start; return its history's row 0."""
        cfg = self.config
        init = cfg.init if cfg.init in ("random", "balanced", "psiren") else str(cfg.init)
        self.env.reset(seed=cfg.seed, options={"init": init})
        self.agent.best_network = self.env.unwrapped.network.copy()
        self.agent.best_accuracy = self.env.unwrapped.val_accuracy
        return start_row(self.env, self.scores)

    def snapshot(self) -> ChainSnapshot:
        """The chain as a checkpoint holds it."""
        assert self.agent.best_network is not None
        state = {**search_state(self.agent, self.env), "segment": self.segment}
        state["agent"]["elapsed"] = self.agent.elapsed  # not the time spent waiting since
        return ChainSnapshot(self.env.unwrapped.network.copy(), self.agent.best_network, state)

    def restore(self, snapshot: ChainSnapshot) -> None:
        """Continue from a snapshot (a resume, or an exploit with another chain's network)."""
        restore_search(
            self.env, self.agent, self.config.seed, snapshot.current, snapshot.best, snapshot.state
        )
        segment = snapshot.state.get("segment")
        self.segment = None if segment is None else (int(segment[0]), segment[1], segment[2])

    def done(self) -> bool:
        """Whether the chain's budget is spent (between segments: time waited does not count)."""
        a = self.agent
        return self.budget.exhausted(a.evals, a.elapsed, a.cost)

    def advance(self, segment: Segment) -> SegmentReport:
        """Search until ``segment`` ends or the budget is spent (no step if either already is)."""
        if self.segment is None or self.segment[0] != segment.index:
            if segment.evals is not None:
                self.segment = (segment.index, "evals", float((segment.index + 1) * segment.evals))
            else:
                assert segment.seconds is not None
                self.segment = (segment.index, "seconds", self.agent.elapsed + segment.seconds)
        end = (self.segment[1], self.segment[2])
        rows = _Rows(end, self.scores)
        if not reached(end, self.agent.evals, self.agent.elapsed) and not self.done():
            self.agent.run(self.env, self.budget, rows)
        done = self.done()
        if rows.last is not None and (done or self._test_due()):
            rows.rows[-1] = history_row(rows.last, self.env.unwrapped.test_accuracy(), self.scores)
            self._tested = time.perf_counter()
        u = self.env.unwrapped
        return SegmentReport(
            rows.rows,
            done,
            u.val_accuracy,
            self.agent.best_accuracy,
            self.agent.steps,
            self.agent.evals,
        )

    def _test_due(self) -> bool:
        return time.perf_counter() - self._tested >= self.config.checkpoint_seconds

    def summary(self) -> dict[str, Any]:
        """Final figures of the chain (those of ``aann search``'s ``summary.json``)."""
        u, a = self.env.unwrapped, self.agent
        assert a.best_network is not None
        test = u.test_accuracy()  # cached when the last row measured it
        best_test = test if a.best_network == u.network else u.test_accuracy(a.best_network)
        return {
            "agent": self.config.agent,
            "seed": self.config.seed,
            "steps": a.steps,
            "evals": a.evals,
            "wall_time": a.elapsed,
            "score_on": self.config.score_on,
            "score_accuracy": u.accuracy,
            "val_accuracy": u.val_accuracy,
            "test_accuracy": test,
            "best_val_accuracy": a.best_accuracy,
            "best_test_accuracy": best_test,
        }


class ChainWorker:
    """Several chains in one process, addressed by their index in the population.

    Args:
        configs: Each hosted chain's index and search.
        threads: Torch and numba threads of the process (None: leave them as they are).
    """

    def __init__(self, configs: dict[int, SearchConfig], threads: int | None = 1) -> None:
        limit_threads(threads)
        self.chains = {int(i): Chain(cfg) for i, cfg in configs.items()}

    def ready(self) -> list[int]:
        """The indices of the hosted chains (a call that answers once the worker has started)."""
        return sorted(self.chains)

    def start(self, index: int) -> list[Any]:
        return self.chains[index].start()

    def snapshot(self, index: int) -> ChainSnapshot:
        return self.chains[index].snapshot()

    def restore(self, index: int, snapshot: ChainSnapshot) -> None:
        self.chains[index].restore(snapshot)

    def advance(self, index: int, segment: Segment) -> SegmentReport:
        return self.chains[index].advance(segment)

    def summary(self, index: int) -> dict[str, Any]:
        return self.chains[index].summary()


__all__ = ["Chain", "ChainSnapshot", "ChainWorker", "Segment", "SegmentReport"]
