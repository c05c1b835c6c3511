"""The search core below the envs: one network family, its scoring, its generator and its costs.

:class:`FamilySearch` holds what every formulation of the search shares, and nothing of any
formulation's interface:

- the current network and the evaluators that score it
  (:class:`aann_env.envs.scoring.ScoringEvaluators`: the scoring images, rotating or not, and the
  selection images), with the :class:`aann_env.envs.scoring.SwapScorer` seam for scoring
  elsewhere (Ray actors);
- the generator every swap is drawn from: the env's ``np_random``, bound at each reset, so one
  seeded stream drives the start and every draw after it;
- the cost model (:mod:`aann_env.envs.schedule`): one neighbour of layer ``l`` costs
  ``layer_costs[l]``.

It offers the steps a search is made of: :meth:`sample`, :meth:`score`, :meth:`commit`, a
scoring round (:meth:`start_round`), and the SENSE step, once: :meth:`sense_step` draws ``K``
swaps of a layer, scores them, selects the best (:func:`aann_env.envs.selection.select`) and
commits it unless the accept rule refuses. The swap, SENSE-step, schedule and proposal envs, the
layer team and the agents all run on it; an env's core is ``env.unwrapped.search``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from aann_env.core.forward import evaluate
from aann_env.core.network import TernaryNetwork, random_network
from aann_env.envs import schedule
from aann_env.envs.cost_model import NEIGHBOURS, CostModel
from aann_env.envs.cost_model import cost_model as get_cost_model
from aann_env.envs.scoring import ScoringEvaluators, ScoringSet, SwapScorer
from aann_env.envs.selection import AcceptRule, Criterion, select
from aann_env.evaluation import IncrementalEvaluator, SwapScores
from aann_env.nets import load_psiren
from aann_env.tasks import Task


@dataclass(frozen=True)
class SenseStep:
    """What one SENSE step did.

    Attributes:
        layer: The layer index it searched.
        swap: The selected neighbour, ``(layer, src, dst)`` (committed if ``accepted``).
        accepted: Whether the selected neighbour was committed.
        evals: Neighbours scored.
        cost: Its evaluation cost (:meth:`FamilySearch.step_cost`: ``evals * layer_costs[layer]``
            under the default cost model).
        before: Accuracy and loss on the scoring images before the step.
    """

    layer: int
    swap: np.ndarray
    accepted: bool
    evals: int
    cost: float
    before: tuple[float, float]


def initial_network(
    task: Task, sparsity: float, init: Any, rng: np.random.Generator
) -> TernaryNetwork:
    """The start of a search (the ``options["init"]`` of a reset).

    Args:
        task: The task (its architecture and input offset).
        sparsity: Fraction of zero weights of random starts.
        init: ``"random"``, ``"balanced"``, ``"psiren"``, a path to a saved network, or a
            :class:`TernaryNetwork` of the task's architecture (copied).
        rng: The generator random starts are drawn from.
    """
    arch = task.arch
    if isinstance(init, TernaryNetwork):
        if init.arch != arch:
            raise ValueError(
                f"the initial network is a {init.arch.name!r} network; this env needs {arch.name!r}"
            )
        return init.copy()
    if isinstance(init, str) and init in ("random", "balanced"):
        balanced = init == "balanced"
        return random_network(arch, sparsity, rng, offset=task.offset, balanced=balanced)
    if isinstance(init, str) and init == "psiren":
        return load_psiren(task.name, sparsity)
    if isinstance(init, (str, os.PathLike)):
        return TernaryNetwork.load(init, arch=arch)
    raise ValueError(
        f"options['init'] must be 'random', 'balanced', 'psiren', a path or a TernaryNetwork, "
        f"got {init!r}"
    )


class FamilySearch:
    """The state of a search of one network family and the operations on it.

    Build one with :meth:`for_task`; :meth:`reset` starts it (the envs call it from their own
    ``reset``, with their ``np_random``).

    Args:
        task: The task.
        scorer: The scoring and selection evaluators.
        layer_costs: Cost of one neighbour of each layer, in layer order.
        device: Torch device (of the test pass).
        data_dir: The task's data folder (None: the default).
    """

    def __init__(
        self,
        task: Task,
        scorer: ScoringEvaluators,
        layer_costs: np.ndarray,
        device: str = "cpu",
        data_dir: str | os.PathLike[str] | None = None,
        cost_model: CostModel = NEIGHBOURS,
    ) -> None:
        self.task = task
        self.scorer = scorer
        self.layer_costs = layer_costs
        """Cost of scoring one neighbour of each layer (see :mod:`aann_env.envs.schedule`)."""
        self.cost_model = cost_model
        """What a SENSE step costs beyond its neighbours (:mod:`aann_env.envs.cost_model`)."""
        self.device = device
        self.data_dir = data_dir
        self.rng: np.random.Generator | None = None
        """The generator of every draw (the env's ``np_random``, bound at each reset)."""
        self._input_stats: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._test_cache: tuple[str, float] | None = None

    @classmethod
    def for_task(
        cls,
        task: Task,
        *,
        eval_size: int | None = 10_000,
        score_on: str = "valid",
        rotate_every: int | None = None,
        selection_size: int | None = 10_000,
        layer_costs: Mapping[str, float] | None = None,
        device: str = "cpu",
        data_dir: str | os.PathLike[str] | None = None,
        cost_model: str | CostModel = "neighbours",
    ) -> FamilySearch:
        """A search on ``task`` scoring ``eval_size`` images of ``score_on`` (see
        :meth:`aann_env.envs.scoring.ScoringEvaluators.for_task`), its steps costed by
        ``cost_model`` (or by ``layer_costs`` per neighbour, not both)."""
        model = get_cost_model(cost_model)
        if layer_costs is not None and model.name != "neighbours":
            raise ValueError(
                f"layer_costs and cost_model={model.name!r} both set what a neighbour costs; "
                "give one of them"
            )
        scorer = ScoringEvaluators.for_task(
            task, score_on, eval_size, rotate_every, selection_size, data_dir, device
        )
        table = model.neighbour if layer_costs is None else layer_costs
        costs = schedule.layer_costs(task.arch, table)
        return cls(task, scorer, costs, device, data_dir, model)

    # -------------------------------------------------------------------------------- state
    @property
    def evaluator(self) -> IncrementalEvaluator:
        """The incremental evaluator of the current scoring images."""
        if not self.scorer.ready:
            raise gym.error.ResetNeeded("call reset() before using the environment")
        return self.scorer.evaluator

    @property
    def network(self) -> TernaryNetwork:
        """The current network. Read it; change it only through :meth:`commit`."""
        return self.evaluator.network

    @property
    def accuracy(self) -> float:
        """Accuracy of the current network on the scoring images."""
        return self.evaluator.accuracy

    @property
    def loss(self) -> float:
        """Loss of the current network on the scoring images."""
        return self.evaluator.loss

    @property
    def val_accuracy(self) -> float:
        """Accuracy on the selection images (the scoring ones when they are the validation
        split): the metric a search selects its best network by."""
        self.evaluator  # noqa: B018  (raises ResetNeeded before a reset)
        return self.scorer.selector.accuracy

    @property
    def val_loss(self) -> float:
        """Loss on the selection images (see :attr:`val_accuracy`)."""
        self.evaluator  # noqa: B018
        return self.scorer.selector.loss

    @property
    def scoring_set(self) -> ScoringSet:
        """The scoring images: the split, the batch size and the rotation."""
        return self.scorer.scoring

    @property
    def n_layers(self) -> int:
        return len(self.task.arch.layers)

    def cost(self, layer: int, k: int = 1) -> float:
        """Evaluation cost of scoring ``k`` neighbours of ``layer``."""
        return k * float(self.layer_costs[layer])

    def step_cost(self, layer: int, k: int, committed: bool) -> float:
        """Cost of a SENSE step of ``k`` neighbours of ``layer``: :meth:`cost` plus the cost
        model's fixed and commit costs (none under the default, ``"neighbours"``)."""
        name = self.task.arch.layer_names[layer]
        return self.cost(layer, k) + self.cost_model.overhead(name, committed)

    # ------------------------------------------------------------------------------ the steps
    def reset(self, net: TernaryNetwork, rng: np.random.Generator) -> None:
        """Start over from ``net`` (on the first scoring batch), drawing from ``rng``."""
        self.rng = rng
        self.scorer.reset(net)
        self._input_stats.clear()
        self._test_cache = None

    def start(self, init: Any, sparsity: float, rng: np.random.Generator) -> None:
        """Start over from ``init`` (see :func:`initial_network`), drawing from ``rng``."""
        self.reset(initial_network(self.task, sparsity, init, rng), rng)

    def start_round(self) -> None:
        """Count a scoring round: the scoring images move to the next batch when it is due."""
        if self.scorer.start_round():
            self._input_stats.clear()

    def sample(self, k: int, layer: int | str | None = None) -> np.ndarray:
        """Draw ``k`` legal swaps of the current network (of one layer, or of any): (k, 3)."""
        net = self.network
        assert self.rng is not None  # bound by reset
        return net.sample_swaps(k, self.rng, layer=layer)

    def score(self, swaps: np.ndarray) -> SwapScores:
        """Scores of (K, 3) legal swaps on the current scoring images (no round counted).

        Raises:
            SwapError: A swap is illegal for the current network.
        """
        return self.scorer.score(swaps)

    def score_round(self, swaps: np.ndarray) -> SwapScores:
        """One scoring round: :meth:`start_round`, then :meth:`score`."""
        self.evaluator  # noqa: B018
        self.start_round()
        return self.score(np.asarray(swaps, dtype=np.int64).reshape(-1, 3))

    def commit(self, swap: np.ndarray) -> None:
        """Apply a legal swap to the network (and every evaluator that follows it)."""
        self.scorer.commit(swap)
        layer = int(swap[0])
        for later in range(layer + 1, self.n_layers):  # their inputs changed
            self._input_stats.pop(later, None)

    def sense_step(
        self,
        layer: int,
        k: int,
        criterion: Criterion,
        accept: AcceptRule,
        *,
        new_round: bool = True,
        commit: Callable[[np.ndarray], Any] | None = None,
    ) -> SenseStep:
        """One SENSE step: score ``k`` swaps of ``layer`` drawn from the generator, and commit
        the best by ``criterion`` unless ``accept`` refuses it.

        Args:
            layer: The layer index.
            k: Neighbours to score.
            criterion: ``"accuracy"`` or ``"loss"`` (:func:`aann_env.envs.selection.select`).
            accept: ``"no_worse"``, ``"better"`` or ``"always"``.
            new_round: Count a scoring round first (False: the caller has started one).
            commit: How to apply the selected swap (default :meth:`commit`); an agent passes
                its env's ``step``, so that wrappers see every move.
        """
        if new_round:
            self.evaluator  # noqa: B018
            self.start_round()
        before = (self.accuracy, self.loss)
        swaps = self.sample(k, layer=layer)
        scores = self.score(swaps)
        choice = select(scores.accuracy, scores.loss, before[0], before[1], criterion, accept)
        swap = swaps[choice.index]
        if choice.accept:
            (self.commit if commit is None else commit)(swap)
        cost = self.step_cost(layer, k, choice.accept)
        return SenseStep(layer, swap, choice.accept, len(swaps), cost, before)

    # ---------------------------------------------------------------------------- the seam
    def attach_scorer(self, scorer: SwapScorer | None) -> None:
        """Score neighbours with ``scorer`` (e.g. on Ray actors; None: here again): it follows
        the scoring evaluator and returns identical scores (:class:`SwapScorer`)."""
        self.scorer.attach(scorer)

    def scoring_state(self) -> dict[str, int]:
        """Where the scoring rotation stands (for checkpoints; JSON-able)."""
        return self.scorer.state()

    def restore_scoring_state(self, state: dict[str, int]) -> None:
        """Put the scoring rotation back where :meth:`scoring_state` found it (after a reset to
        the checkpoint's network)."""
        self.scorer.restore(state)
        self._input_stats.clear()

    # -------------------------------------------------------------------------- measurements
    def input_statistics(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """The mean and class offsets of ``layer``'s inputs on the scoring images (cached until
        a commit below the layer or a new batch changes them)."""
        if layer not in self._input_stats:
            self._input_stats[layer] = self.evaluator.input_statistics(layer)
        return self._input_stats[layer]

    def test_accuracy(self, net: TernaryNetwork | None = None) -> float:
        """Test accuracy on the whole test split (never a reward).

        Args:
            net: A network of the task's architecture; default: the current one (its result is
                cached until the network changes).
        """
        test = self.task.split("test", self.data_dir)
        if net is not None:
            if net.arch != self.task.arch:
                raise ValueError(
                    f"a {net.arch.name!r} network cannot be tested on {self.task.name!r}"
                )
            return evaluate(net, test.pixels, test.labels, device=self.device).accuracy
        key = self.network.metadata()["weights_sha256"]
        if self._test_cache is None or self._test_cache[0] != key:
            acc = evaluate(self.network, test.pixels, test.labels, device=self.device).accuracy
            self._test_cache = (key, acc)
        return self._test_cache[1]


__all__ = ["FamilySearch", "SenseStep", "initial_network"]
