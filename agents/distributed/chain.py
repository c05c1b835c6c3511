"""One chain of a population search, and where chains run (this process or Ray actors).

A :class:`Chain` is one search session (:class:`agents.run.session.Search`, with its own seed)
that runs in *segments*: between two exploits of the population it searches until its segment
ends, records a history row per step, and reports how far it got. The driver reads a chain's
:class:`~aann_env.runs.snapshot.Snapshot` (its networks and the state of its generators and
counters: a checkpoint) and may :meth:`Chain.restore` one, which is how a chain resumes and how it
takes another chain's network in an exploit. :class:`ChainWorker` holds several chains in one
process: a Ray actor (:class:`RayChains`) or this one (:class:`LocalChains`).

A segment ends after a number of evaluations (``exploit_evals``: segment ``j`` ends once the
chain has made ``(j + 1) * exploit_evals``, so the whole population is deterministic) or of
seconds of the chain's own search time (``exploit_seconds``); the chain stores where its current
segment ends, so a resumed chain finishes the segment it was in. As in a single search, test
accuracy is measured at checkpoints only: on the last row of a segment, when the chain's
``checkpoint_seconds`` have passed since it was last measured, and when the chain is done.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aann_env.runs.snapshot import Snapshot
from agents.base import BaseCallback
from agents.budget import StepInfo
from agents.distributed.actors import limit_threads
from agents.distributed.cluster import connect, gather, kill
from agents.distributed.pool import START_TIMEOUT
from agents.run.config import SearchConfig
from agents.run.session import Search


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


def reached(end: tuple[str, float], evals: int, wall_time: float) -> bool:
    """Whether a chain at ``evals`` evaluations and ``wall_time`` seconds is past ``end``."""
    kind, value = end
    return (evals if kind == "evals" else wall_time) >= value


class _Rows(BaseCallback):
    """Collects a history row per step; stops the search when the segment's end is reached."""

    def __init__(self, end: tuple[str, float], search: Search) -> None:
        super().__init__()
        self.end = end
        self.search = search
        self.rows: list[list[Any]] = []
        self.last: StepInfo | None = None

    def _on_step(self, info: StepInfo) -> bool:
        self.rows.append(self.search.row(info))
        self.last = info
        return not reached(self.end, info.evals, info.wall_time)


class Chain:
    """One search of a population, run in segments.

    Args:
        config: The chain's search (its own seed; ``workers`` is ignored: a chain runs in one
            process).
    """

    def __init__(self, config: SearchConfig) -> None:
        self.config = config
        self.search = Search(config)
        self.budget = config.budget()
        self.segment: tuple[int, str, float] | None = None
        """(index, "evals" or "seconds", where it ends) of the current segment."""
        self._tested = time.perf_counter()

    def start(self) -> list[Any]:
        """Reset to the chain's start; return its history's row 0."""
        return self.search.start()

    def snapshot(self) -> Snapshot:
        """The chain as a checkpoint holds it (its segment in the state too)."""
        snap = self.search.snapshot()
        snap.state["segment"] = self.segment
        return snap

    def restore(self, snapshot: Snapshot) -> None:
        """Continue from a snapshot (a resume, or an exploit with another chain's network)."""
        self.search.restore(snapshot)
        segment = snapshot.state.get("segment")
        self.segment = None if segment is None else (int(segment[0]), segment[1], segment[2])

    def done(self) -> bool:
        """Whether the chain's budget is spent (between segments: time waited does not count)."""
        return self.search.done(self.budget)

    def advance(self, segment: Segment) -> SegmentReport:
        """Search until ``segment`` ends or the budget is spent (no step if either already is)."""
        agent = self.search.agent
        if self.segment is None or self.segment[0] != segment.index:
            if segment.evals is not None:
                self.segment = (segment.index, "evals", float((segment.index + 1) * segment.evals))
            else:
                assert segment.seconds is not None
                self.segment = (segment.index, "seconds", agent.elapsed + segment.seconds)
        end = (self.segment[1], self.segment[2])
        rows = _Rows(end, self.search)
        if not reached(end, agent.evals, agent.elapsed) and not self.done():
            self.search.advance(self.budget, rows)
        done = self.done()
        if rows.last is not None and (done or self._test_due()):
            rows.rows[-1] = self.search.row(rows.last, self.search.env.unwrapped.test_accuracy())
            self._tested = time.perf_counter()
        return SegmentReport(
            rows.rows,
            done,
            self.search.env.unwrapped.val_accuracy,
            agent.best_accuracy,
            agent.steps,
            agent.evals,
        )

    def _test_due(self) -> bool:
        return time.perf_counter() - self._tested >= self.config.checkpoint_seconds

    def summary(self) -> dict[str, Any]:
        """Final figures of the chain (those of ``aann search``'s ``summary.json``, and its seed)."""
        summary = self.search.summary()
        return {"agent": summary.pop("agent"), "seed": self.config.seed, **summary}


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

    def snapshot(self, index: int) -> Snapshot:
        return self.chains[index].snapshot()

    def restore(self, index: int, snapshot: Snapshot) -> None:
        self.chains[index].restore(snapshot)

    def advance(self, index: int, segment: Segment) -> SegmentReport:
        return self.chains[index].advance(segment)

    def summary(self, index: int) -> dict[str, Any]:
        return self.chains[index].summary()


# ------------------------------------------------------------------------ where chains run
class Chains(Protocol):
    """Where the chains run: ``call(method, calls)`` calls :class:`ChainWorker`'s ``method`` with
    each ``(index, args)`` of ``calls`` and returns the results in order."""

    def call(self, method: str, calls: Sequence[tuple[int, tuple[Any, ...]]]) -> list[Any]: ...

    def close(self) -> None: ...


class LocalChains:
    """The chains in this process, one after another."""

    def __init__(self, configs: Sequence[SearchConfig]) -> None:
        self.worker = ChainWorker(dict(enumerate(configs)), threads=None)

    def call(self, method: str, calls: Sequence[tuple[int, tuple[Any, ...]]]) -> list[Any]:
        return [getattr(self.worker, method)(i, *args) for i, args in calls]

    def close(self) -> None:
        """Nothing to end."""


class RayChains:
    """The chains on Ray actors (one CPU and one thread each); chain ``i`` on actor ``i % workers``.

    Raises:
        RayUnavailableError: Ray is not installed or its cluster cannot be reached.
        WorkerError: The actors did not start.
    """

    def __init__(
        self, configs: Sequence[SearchConfig], workers: int, address: str | None = None
    ) -> None:
        n = min(int(workers), len(configs))
        ray = connect(address, n, "--population with --workers")
        actor_class = ray.remote(num_cpus=1, max_restarts=0)(ChainWorker)
        hosted = [{i: c for i, c in enumerate(configs) if i % n == k} for k in range(n)]
        self.actors = [actor_class.remote(h) for h in hosted]
        self.home = {i: self.actors[i % n] for i in range(len(configs))}
        try:
            gather([a.ready.remote() for a in self.actors], START_TIMEOUT, f"starting {n} actors")
        except BaseException:
            kill(self.actors)
            raise

    def call(self, method: str, calls: Sequence[tuple[int, tuple[Any, ...]]]) -> list[Any]:
        refs = [getattr(self.home[i], method).remote(i, *args) for i, args in calls]
        return gather(refs, None, f"chain {method}")

    def close(self) -> None:
        kill(self.actors)
        self.actors = []


__all__ = [
    "Chain",
    "ChainWorker",
    "Chains",
    "LocalChains",
    "RayChains",
    "Segment",
    "SegmentReport",
]
