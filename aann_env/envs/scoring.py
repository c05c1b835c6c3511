"""Which images a search scores neighbours on, and which it selects networks by.

A search that scores neighbours on the images it then reports accuracy on fits those very images:
scored on the 10,000 validation images, a SENSE run reaches 99.7% validation and 97.3% test. The
honest protocol keeps three roles apart, as training a network by backprop does:

| role | split | used for |
|---|---|---|
| scoring | ``"train"`` (or ``"valid"``, the paper's protocol) | ranking neighbours, accepting swaps, the env's reward |
| selection | ``"valid"`` | choosing the best network of a search (and early stopping) |
| report | ``"test"`` | measured at checkpoints only; never guides the search |

:class:`ScoringSet` describes the scoring role: a split, a subset size and an optional rotation.
With ``rotate_every=R`` the scoring subset is a *batch* that moves on every ``R`` scoring rounds,
like a minibatch: batch ``b`` is the ``b``-th block of ``size`` entries of a fixed permutation of
the split (seed 0, wrapping around), so every batch is the same on every machine and a search
sees the whole split in turn. Without rotation the subset is :meth:`Split.subset`'s fixed one.

Scoring may happen elsewhere: a :class:`SwapScorer` attached to :class:`ScoringEvaluators`
(e.g. Ray actors, :mod:`agents.distributed`) is told every network and batch the scoring
evaluator loads and every swap it commits, and scores the swaps of each round in its place. Its
scores must be identical to the local evaluator's; the local evaluator still keeps the current
network's accuracy and loss.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from aann_env.core.network import TernaryNetwork
from aann_env.evaluation import IncrementalEvaluator, SwapScores
from aann_env.tasks.registry import Task
from aann_env.tasks.split import Split

ScoringSplit = Literal["train", "valid"]
SCORING_SPLITS: tuple[str, ...] = ("train", "valid")


def check_scoring(split: str, rotate_every: int | None) -> None:
    """Raise ValueError on a scoring split or rotation period the env does not take."""
    if split not in SCORING_SPLITS:
        raise ValueError(
            f"score_on must be one of {SCORING_SPLITS} (the test split never guides a search), "
            f"got {split!r}"
        )
    if rotate_every is not None and int(rotate_every) < 1:
        raise ValueError(f"rotate_every must be a positive number of rounds, got {rotate_every}")


@dataclass(frozen=True)
class ScoringSet:
    """The scoring images of a search: a split, a subset size and an optional rotation.

    Args:
        split: The whole split the scoring images come from.
        size: Images per scoring subset (None or at least the split's size: the whole split).
        rotate_every: Scoring rounds per batch (None: one fixed subset).
    """

    split: Split
    size: int | None
    rotate_every: int | None = None

    @property
    def n(self) -> int:
        """Images scored at a time."""
        return len(self.split) if self.size is None else min(int(self.size), len(self.split))

    @property
    def rotates(self) -> bool:
        return self.rotate_every is not None and self.n < len(self.split)

    def batch(self, index: int) -> Split:
        """The scoring images of batch ``index`` (always the fixed subset without rotation)."""
        if not self.rotates:
            return self.split.subset(self.size)
        order = _permutation(len(self.split))
        start = (int(index) * self.n) % len(self.split)
        idx = np.sort(np.take(order, np.arange(start, start + self.n), mode="wrap"))
        return Split(self.split.pixels[idx], self.split.labels[idx])

    def batch_of_round(self, rounds: int) -> int:
        """The batch that scoring round ``rounds`` (counted from 0) uses."""
        return int(rounds) // int(self.rotate_every) if self.rotates else 0  # type: ignore[arg-type]


class SwapScorer(Protocol):
    """Scores swaps of the scoring images in place of the local evaluator (for example on Ray
    actors), following it: it is told each network and batch the evaluator loads and each swap
    it commits, so it always scores the same network on the same images."""

    def load(self, net: TernaryNetwork, batch: int) -> None:
        """Start over from ``net`` on batch ``batch`` of the scoring set."""

    def commit(self, swap: np.ndarray) -> None:
        """Apply a legal swap (the one the local evaluator commits)."""

    def score(self, swaps: np.ndarray) -> SwapScores:
        """Scores of (K, 3) legal swaps, identical (``==``) to the local evaluator's."""


class ScoringEvaluators:
    """A search's evaluators: one on the current scoring batch and, when the search scores on
    another split, one on the selection images, committed in lock-step.

    A *round* is one scoring of neighbours (the env counts them); with rotation, the scoring
    evaluator moves on to the next batch at the start of the round that needs it, so a round's
    scores, the accuracy they are compared with and the reward all use one batch.

    Args:
        scoring: The scoring images.
        selection: The selection images (None: select on the scoring images, the paper's protocol).
        device: Torch device of the evaluators.
    """

    def __init__(self, scoring: ScoringSet, selection: Split | None, device: str) -> None:
        self.scoring = scoring
        self.selection = selection
        self.device = device
        self.rounds = 0
        self.batch = 0
        self._scoring: IncrementalEvaluator | None = None
        self._selection: IncrementalEvaluator | None = None
        self._remote: SwapScorer | None = None

    @classmethod
    def for_task(
        cls,
        task: Task,
        score_on: str,
        size: int | None,
        rotate_every: int | None,
        selection_size: int | None,
        data_dir: str | os.PathLike[str] | None,
        device: str,
    ) -> ScoringEvaluators:
        """The evaluators of a search on ``task`` that scores ``size`` images of ``score_on``
        (rotating every ``rotate_every`` rounds) and, unless that is the validation split,
        selects by ``selection_size`` validation images."""
        scoring = ScoringSet(task.split(score_on, data_dir), size, rotate_every)
        selection = (
            None if score_on == "valid" else task.split("valid", data_dir).subset(selection_size)
        )
        return cls(scoring, selection, device)

    @property
    def ready(self) -> bool:
        """Whether :meth:`reset` has run."""
        return self._scoring is not None

    @property
    def evaluator(self) -> IncrementalEvaluator:
        """The evaluator of the current scoring batch."""
        assert self._scoring is not None, "reset() first"
        return self._scoring

    @property
    def selector(self) -> IncrementalEvaluator:
        """The evaluator of the selection images (the scoring one when they are the same)."""
        return self.evaluator if self._selection is None else self._selection

    @property
    def remote(self) -> SwapScorer | None:
        """The scorer attached with :meth:`attach`, if any."""
        return self._remote

    def attach(self, remote: SwapScorer | None) -> None:
        """Score swaps with ``remote`` from now on (None: with the local evaluator again); it
        loads the current network and batch at once."""
        self._remote = remote
        if remote is not None and self._scoring is not None:
            remote.load(self._scoring.network, self.batch)

    def score(self, swaps: np.ndarray) -> SwapScores:
        """Scores of (K, 3) swaps on the current scoring batch: by the attached scorer, or the
        local evaluator.

        Raises:
            SwapError: A swap is illegal for the current network (checked here either way).
        """
        if self._remote is None:
            return self.evaluator.score(swaps)
        net = self.evaluator.network
        for row in swaps:
            net.check_swap(row)
        return self._remote.score(swaps)

    def reset(self, net: TernaryNetwork) -> None:
        """Start over from ``net`` on batch 0."""
        self.rounds = 0
        self._load(net, 0)
        if self.selection is not None:
            if self._selection is None:
                s = self.selection
                self._selection = IncrementalEvaluator(net, s.pixels, s.labels, device=self.device)
            else:
                self._selection.reset(net)

    def start_round(self) -> bool:
        """Count a scoring round; move to its batch first. Returns whether the batch moved."""
        batch = self.scoring.batch_of_round(self.rounds)
        self.rounds += 1
        if batch == self.batch:
            return False
        self._load(self.evaluator.network, batch)
        return True

    def commit(self, swap: np.ndarray) -> None:
        """Apply a legal swap to both evaluators."""
        if self._remote is not None:  # first: if it fails, nothing here has changed
            self.evaluator.network.check_swap(swap)
            self._remote.commit(swap)
        self.evaluator.commit(swap)
        if self._selection is not None:
            self._selection.commit(swap)

    def state(self) -> dict[str, int]:
        """What a checkpoint needs to put the scoring batch back: the rounds counted."""
        return {"rounds": self.rounds}

    def restore(self, state: dict[str, int]) -> None:
        """Continue after ``state["rounds"]`` rounds (the networks are already in place)."""
        self.rounds = int(state["rounds"])
        last = self.scoring.batch_of_round(max(self.rounds - 1, 0))
        if last != self.batch:
            self._load(self.evaluator.network, last)

    def _load(self, net: TernaryNetwork, batch: int) -> None:
        """Score ``net`` on batch ``batch`` (a full forward pass over it)."""
        if self._remote is not None:
            self._remote.load(net, batch)
        if self._scoring is not None and batch == self.batch:
            self._scoring.reset(net)
            return
        net = net.copy()
        data = self.scoring.batch(batch)
        self._scoring = None  # free the old caches before the new ones are built
        self._scoring = IncrementalEvaluator(net, data.pixels, data.labels, device=self.device)
        self.batch = batch


_PERMUTATIONS: dict[int, np.ndarray] = {}


def _permutation(n: int) -> np.ndarray:
    """The fixed permutation (seed 0) that batches are cut from, computed once per size."""
    if n not in _PERMUTATIONS:
        _PERMUTATIONS[n] = np.random.default_rng(0).permutation(n)
    return _PERMUTATIONS[n]


__all__ = [
    "SCORING_SPLITS",
    "ScoringEvaluators",
    "ScoringSet",
    "ScoringSplit",
    "SwapScorer",
    "check_scoring",
]
