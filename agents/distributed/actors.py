"""The body of a neighbourhood-scoring Ray actor: an incremental evaluator of the driver's network.

:class:`ScoringWorker` is a plain class: :class:`agents.distributed.pool.NeighbourPool` makes it a
Ray actor (``ray.remote(num_cpus=1)(ScoringWorker)``), and tests may use it in-process. It holds
the scoring set (from the object store, put there once by the driver) and an
:class:`aann_env.evaluation.IncrementalEvaluator` of the current network on the current batch.
The driver tells it every network and batch its own scoring evaluator loads and every swap it
commits, so both evaluators always hold the same network on the same images, and the scores
the worker returns are those the driver would compute, bit for bit (the evaluator's arithmetic
is exact, so the thread count and the split of a neighbourhood into parts do not matter).
"""

from __future__ import annotations

import os

import numpy as np

from aann_env.core.network import TernaryNetwork
from aann_env.envs.scoring import ScoringSet
from aann_env.evaluation import IncrementalEvaluator


def limit_threads(threads: int | None) -> None:
    """Give torch and numba ``threads`` threads each (None: leave them alone).

    Several actors on one machine would otherwise each start a thread per core and fight over
    the cores; one thread per actor (and one CPU reserved per actor) keeps them apart.
    """
    if threads is None:
        return
    import numba
    import torch

    torch.set_num_threads(int(threads))
    numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))


class ScoringWorker:
    """Scores swaps of the driver's network on one batch of the scoring images.

    Args:
        scoring: The scoring images (split, batch size, rotation) the driver's env scores on.
        device: Torch device of the evaluator.
        threads: Torch and numba threads of this worker (None: leave them as they are).
    """

    def __init__(self, scoring: ScoringSet, device: str = "cpu", threads: int | None = 1) -> None:
        limit_threads(threads)
        self.scoring = scoring
        self.device = device
        self.batch: int | None = None
        self._evaluator: IncrementalEvaluator | None = None

    def ready(self) -> int:
        """The worker's process id (a call that answers once the worker has started)."""
        return os.getpid()

    def load(self, net: TernaryNetwork, batch: int) -> None:
        """Start over from ``net`` on batch ``batch`` of the scoring set."""
        if self._evaluator is not None and batch == self.batch:
            self._evaluator.reset(net)
            return
        data = self.scoring.batch(batch)
        # Arrays from the object store are read-only views; the evaluator's tensors want their own.
        pixels = data.pixels if data.pixels.flags.writeable else data.pixels.copy()
        labels = data.labels if data.labels.flags.writeable else data.labels.copy()
        self._evaluator = None  # free the old caches before the new ones are built
        self._evaluator = IncrementalEvaluator(net, pixels, labels, device=self.device)
        self.batch = batch

    def commit(self, swap: np.ndarray) -> None:
        """Apply the swap the driver committed."""
        self._current().commit(swap)

    def score(self, swaps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(accuracy, loss, n_correct) of (K, 3) legal swaps, each (K,)."""
        scores = self._current().score(swaps)
        return scores.accuracy, scores.loss, scores.n_correct

    def _current(self) -> IncrementalEvaluator:
        if self._evaluator is None:
            raise RuntimeError("the worker has no network yet: load() one first")
        return self._evaluator


__all__ = ["ScoringWorker", "limit_threads"]
