"""Parallel neighbourhoods: each scoring round's swaps split across Ray actors.

:class:`NeighbourPool` is a :class:`aann_env.envs.scoring.SwapScorer`: attached to the search
core of an env (``pool.attach(env)``, which calls ``env.unwrapped.search.attach_scorer(pool)``),
it scores every round of neighbours on ``N`` actors
(:class:`agents.distributed.actors.ScoringWorker`), each holding an incremental evaluator of the
same network on the same scoring images. The agent does not know: it draws its swaps from the
env's generator, as in one process, and gets the same scores back, so its decisions, its random
draws, the history and the best network are the single-process run's.

One round, as the driver sees it:

1. the agent draws K swaps (the driver's generator, as always) and asks the env to score them;
2. the pool cuts them into ``N`` contiguous parts of about equal scoring cost (a conv ``1.0``
   swap costs about 1,200 fc ones: :data:`aann_env.envs.schedule.LAYER_COSTS`), sends one part to
   each actor, and waits for all (with a timeout);
3. the scores are concatenated in the original order;
4. the agent commits the best; the env commits it locally (its own evaluator keeps the current
   accuracy and loss) and the pool *broadcasts only the swap*, without waiting: each actor
   applies it before the next request it gets, because an actor runs its calls in order.

A new network (reset, resume, an exploit of a population) or a new batch of a rotating scoring
set is broadcast the same way: the network goes into the object store once, the batch is an
index (each actor cuts it from the scoring set the driver put into the object store once, when
the pool started). Broadcasts are checked at the next round's wait (or once many are pending),
so a failed one is never missed; the env broadcasts a commit before it commits locally, so a
failure leaves the driver's networks as they were. Any failure (an actor killed or out of memory, a node lost, a call that raised, no
answer within ``timeout``) is one :class:`agents.distributed.cluster.WorkerError`; the search
runner then checkpoints the last completed step and stops (:mod:`agents.runner`).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

import gymnasium as gym
import numpy as np

from aann_env.core.network import TernaryNetwork
from aann_env.envs.core import FamilySearch
from aann_env.envs.scoring import ScoringSet
from aann_env.evaluation import SwapScores
from agents.distributed.actors import ScoringWorker
from agents.distributed.cluster import connect, gather, kill, require_ray

DEFAULT_TIMEOUT = 600.0
"""Seconds a scoring round may take before the pool gives up on its actors."""
START_TIMEOUT = 300.0
"""Seconds the actors may take to start (a cluster without free CPUs never starts them)."""
_MAX_PENDING = 256
"""Broadcasts left unchecked before the pool waits for them (an agent that only commits)."""


def split_parts(layers: np.ndarray, layer_costs: np.ndarray, parts: int) -> list[slice]:
    """Cut a neighbourhood into ``parts`` contiguous pieces of about equal scoring cost.

    Args:
        layers: (K,) the layer of each swap.
        layer_costs: (n_layers,) relative cost of scoring one swap of each layer.
        parts: How many pieces (some may be empty when K is small).

    Returns:
        ``parts`` slices that cover ``0:K`` in order.
    """
    k = len(layers)
    if k == 0:
        return [slice(0, 0)] * parts
    cumulative = np.cumsum(layer_costs[layers])  # (K,)
    targets = cumulative[-1] * np.arange(1, parts) / parts
    cuts = np.minimum(np.searchsorted(cumulative, targets, side="left") + 1, k)
    edges = [0, *(int(c) for c in cuts), k]
    return [slice(a, max(a, b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _same_images(a: ScoringSet, b: ScoringSet) -> bool:
    """Whether two scoring sets cut the same batches (labels compared; pixels by identity or
    size, which is cheap and catches a wrong split or size)."""
    return (
        (a.n, a.rotates, a.rotate_every if a.rotates else None)
        == (b.n, b.rotates, b.rotate_every if b.rotates else None)
        and a.split.pixels.shape == b.split.pixels.shape
        and np.array_equal(a.split.labels, b.split.labels)
    )


class NeighbourPool:
    """Scores neighbourhoods on Ray actors, exactly as the env's own evaluator would.

    Start one with :meth:`start`; close it (or use it as a context manager) to end its actors.

    Args:
        actors: Handles of running :class:`ScoringWorker` actors.
        layer_costs: Relative cost of scoring one swap of each layer, for the split (None: all 1).
        timeout: Seconds a round may take before the pool gives up (:class:`WorkerError`).
    """

    def __init__(
        self,
        actors: Sequence[Any],
        layer_costs: Sequence[float] | np.ndarray | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not actors:
            raise ValueError("a pool needs at least one actor")
        self.actors = list(actors)
        self.layer_costs = None if layer_costs is None else np.asarray(layer_costs, dtype=float)
        self.timeout = float(timeout)
        self._pending: list[Any] = []
        self._ray = require_ray()
        self.scoring: ScoringSet | None = None
        """The scoring images the actors hold, when the pool started them."""

    @classmethod
    def start(
        cls,
        scoring: ScoringSet,
        workers: int,
        *,
        device: str = "cpu",
        address: str | None = None,
        layer_costs: Sequence[float] | np.ndarray | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        start_timeout: float = START_TIMEOUT,
    ) -> NeighbourPool:
        """Start ``workers`` actors (one CPU and one thread each) on the scoring images.

        Args:
            scoring: The env's scoring set (``env.unwrapped.scoring_set``); it goes into Ray's
                object store once and every actor reads it from there.
            workers: Number of actors.
            device: Torch device of the actors' evaluators.
            address: The Ray cluster (None: this process's Ray instance, or a new local one).
            layer_costs: Relative scoring cost per layer (``env.unwrapped.layer_costs``).
            timeout: Seconds a scoring round may take.
            start_timeout: Seconds the actors may take to start.

        Raises:
            RayUnavailableError: Ray is not installed or the cluster cannot be reached.
            WorkerError: The actors did not start (for example, no free CPUs in the cluster).
        """
        if workers < 1:
            raise ValueError(f"a pool needs at least one worker, got {workers}")
        ray = connect(address, workers)
        data = ray.put(scoring)  # once; every actor maps the same copy
        actor_class = ray.remote(num_cpus=1, max_restarts=0)(ScoringWorker)
        actors = [actor_class.remote(data, device) for _ in range(workers)]
        try:
            gather([a.ready.remote() for a in actors], start_timeout, f"starting {workers} actors")
        except BaseException:
            kill(actors)
            raise
        pool = cls(actors, layer_costs, timeout)
        pool.scoring = scoring
        return pool

    @property
    def workers(self) -> int:
        return len(self.actors)

    def attach(self, target: gym.Env | FamilySearch) -> None:
        """Score the neighbourhoods of ``target`` from now on: an AANN env (its search core,
        ``env.unwrapped.search``) or a search core itself.

        Raises:
            ValueError: The search scores on other images than the pool started with.
        """
        search = target if isinstance(target, FamilySearch) else target.unwrapped.search  # type: ignore[attr-defined]
        if self.scoring is not None and not _same_images(search.scoring_set, self.scoring):
            raise ValueError(
                "the env scores on other images than this pool's actors hold: start the pool "
                "with NeighbourPool.start(env.unwrapped.scoring_set, ...)"
            )
        search.attach_scorer(self)

    # ------------------------------------------------------------------ the SwapScorer protocol
    def load(self, net: TernaryNetwork, batch: int) -> None:
        """Broadcast a network (through the object store, once) and a batch index."""
        ref = self._ray.put(net)
        self._broadcast([a.load.remote(ref, int(batch)) for a in self.actors])

    def commit(self, swap: np.ndarray) -> None:
        """Broadcast the committed swap (only the swap: three integers)."""
        swap = np.asarray(swap, dtype=np.int64).reshape(3)
        self._broadcast([a.commit.remote(swap) for a in self.actors])

    def score(self, swaps: np.ndarray) -> SwapScores:
        """Scores of (K, 3) legal swaps, in their order, identical to the driver's evaluator's.

        Raises:
            WorkerError: An actor died, failed or did not answer within the timeout.
        """
        swaps = np.asarray(swaps, dtype=np.int64).reshape(-1, 3)
        costs = (
            np.ones(int(swaps[:, 0].max(initial=0)) + 1)
            if self.layer_costs is None
            else self.layer_costs
        )
        parts = split_parts(swaps[:, 0], costs, self.workers)
        refs = [
            actor.score.remote(np.ascontiguousarray(swaps[part]))
            for actor, part in zip(self.actors, parts, strict=True)
            if part.stop > part.start
        ]
        pending, self._pending = self._pending, []
        results = gather(pending + refs, self.timeout, "scoring a neighbourhood")[len(pending) :]
        if not results:
            empty = np.zeros(0)
            return SwapScores(empty, empty.copy(), np.zeros(0, dtype=np.int64))
        accuracy, loss, n_correct = (
            np.concatenate(column) for column in zip(*results, strict=True)
        )
        return SwapScores(accuracy, loss, n_correct)

    def _broadcast(self, refs: list[Any]) -> None:
        self._pending.extend(refs)
        if len(self._pending) > _MAX_PENDING:
            pending, self._pending = self._pending, []
            gather(pending, self.timeout, "broadcasting to the actors")

    # ----------------------------------------------------------------------------- lifetime
    def close(self) -> None:
        """End the actors (the pool cannot score afterwards)."""
        kill(self.actors)
        self.actors = []
        self._pending = []

    def __enter__(self) -> NeighbourPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["DEFAULT_TIMEOUT", "NeighbourPool", "split_parts"]
