"""What every formulation of the search shares: :class:`AANNEnv`, the base of the swap,
SENSE-step, schedule and proposal envs (``swap_env``, ``layer_env``, ``schedule_env``,
``proposal_env``; ``gym.make("AANN-MNIST-v0", action_mode=...)`` picks one,
:mod:`aann_env.envs.factory`). Their common spec:

## Rewards

With `reward="accuracy"` (default), the change of accuracy on the *scoring images* caused by
the step, a Python float: 0.0 for an illegal or rejected action. The scoring images are
`eval_size` images of the `score_on` split: `"valid"` (default, the paper's protocol) or
`"train"`; with `rotate_every=R` they are a batch that moves on every `R` scoring rounds (a
round is an `evaluate_swaps` call, or a step of the formulations that score), like a
minibatch (`aann_env.envs.scoring`). For `"car"`, accuracy is that of imitating the expert's
class on frames of the split's tracks. `reward="loss"` gives the dense alternative, the
decrease of the scoring loss. `info["loss_change"]` always gives the change of the loss, and
`info["val_accuracy"]` the validation accuracy (`env.unwrapped.val_accuracy`: on
`selection_size` validation images when scoring on the training split), by which a search
should select its best network. The test split never enters a reward.

## Starting State

`reset(options={"init": ...})`: `"random"` (default: a random `sparsity`-sparse network drawn
from `self.np_random`), `"balanced"` (the same with each layer's nonzeros split evenly
between -1 and +1), `"psiren"` (the backprop-trained p-SIREN network that ships with aann for
the task at the env's `sparsity`; `aann_env.nets.shipped_levels(task)` lists them), a path to
a network saved with `TernaryNetwork.save`, or a `TernaryNetwork` of the task's architecture
(copied).

## Episode End

- Termination: the scoring accuracy reaches `target_accuracy` (if given).
- Truncation: `max_episode_steps` steps (registered as 1000; override it in `gym.make`), or
  the evaluation cost spent reaches `budget` (if given).

When an episode ends, `info["test_accuracy"]` holds the test accuracy of the final network
(added on truncation by the registered `EpisodeTestAccuracy` wrapper);
`env.unwrapped.test_accuracy()` reports it at any time.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, NamedTuple, SupportsFloat, TypedDict

import gymnasium as gym
import numpy as np

from aann_env.core.network import TernaryNetwork
from aann_env.envs import schedule
from aann_env.envs.checks import REWARD_MODES, check_choice, check_sparsity
from aann_env.envs.core import FamilySearch
from aann_env.envs.observations import StepHistory, reward_of, summary
from aann_env.envs.render import render_image, render_text
from aann_env.envs.scoring import ScoringSet, ScoringSplit, SwapScorer, check_scoring
from aann_env.envs.selection import AcceptRule, Criterion, check_rules
from aann_env.evaluation import IncrementalEvaluator, SwapScores
from aann_env.tasks import Task, get_task

ActionMode = Literal["swap", "layer", "schedule", "proposal"]
RewardMode = Literal["accuracy", "loss"]
ObservationMode = Literal["summary", "weights"]


class SharedArgs(TypedDict, total=False):
    """The arguments every formulation takes (the table in :class:`AANNEnv`)."""

    task: str
    sparsity: float
    eval_size: int | None
    score_on: ScoringSplit
    rotate_every: int | None
    selection_size: int | None
    accept: AcceptRule
    criterion: Criterion
    reward: RewardMode
    budget: float | tuple[float, float] | None
    layer_costs: Mapping[str, float] | None
    cost_model: str
    test_at_episode_end: bool
    target_accuracy: float | None
    device: str
    data_dir: str | os.PathLike[str] | None
    render_mode: str | None


class Move(NamedTuple):
    """What a formulation's action did: the layer, the swap tried, whether it was committed,
    whether the action was illegal, and its evaluation cost."""

    layer: int
    swap: np.ndarray
    committed: bool
    illegal: bool
    cost: float


class AANNEnv(gym.Env[np.ndarray, Any], ABC):
    """
    The base of the AANN environments: the state, reset, info, render, the test accuracy and the
    peeking API that every formulation shares. A formulation adds its action and observation
    spaces and :meth:`_act`; the search itself is :attr:`search`
    (:class:`aann_env.envs.core.FamilySearch`). Rewards, starting state and episode end: the
    module docstring.

    ## Arguments (shared)

    | argument | default | meaning |
    |---|---|---|
    | `task` | `"mnist"` | `"mnist"`, or `"car"` (imitation of the CarRacing expert) |
    | `sparsity` | `0.8` | fraction of zero weights of random starts |
    | `eval_size` | `10_000` | images scored at a time (None: the whole split) |
    | `score_on` | `"valid"` | the split neighbours are scored on: `"valid"` or `"train"` |
    | `rotate_every` | `None` | move the scoring images to the next batch every this many rounds |
    | `selection_size` | `10_000` | `score_on="train"`: validation images `val_accuracy` is measured on |
    | `criterion` | `"accuracy"` | the best scored neighbour: highest accuracy (`"accuracy"`) or lowest loss (`"loss"`), the other breaking ties |
    | `accept` | `"no_worse"` | commit it unless the criterion gets worse, only if it improves (`"better"`), or `"always"` |
    | `reward` | `"accuracy"` | `"accuracy"` or `"loss"` |
    | `budget` | `None` | truncate when this much evaluation cost is spent; a `(low, high)` range draws each episode's budget log-uniformly from `self.np_random` |
    | `layer_costs` | `None` | cost of one neighbour per layer name (default `aann_env.envs.schedule.LAYER_COSTS`) |
    | `cost_model` | `"neighbours"` | what a SENSE step costs: `"neighbours"` scored, or `"calibrated"` (measured time: per-step and commit costs too; `aann_env.envs.cost_model`); a direct swap costs one neighbour either way |
    | `test_at_episode_end` | `True` | add `info["test_accuracy"]` when an episode ends |
    | `target_accuracy` | `None` | terminate when the scoring accuracy reaches it |
    | `device` | `"cpu"` | torch device of the evaluators |
    | `data_dir` | `None` | the task's data folder (MNIST: IDX files; car: the recorded data set) |
    | `render_mode` | `None` | `"ansi"` or `"rgb_array"` |
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}
    action_mode: ClassVar[ActionMode]
    observation_mode: ClassVar[ObservationMode] = "summary"
    scores: ClassVar[bool] = True
    """Whether a step scores neighbours (and so is a scoring round)."""
    reward_modes: ClassVar[tuple[str, ...]] = REWARD_MODES

    def __init__(
        self,
        task: str = "mnist",
        sparsity: float = 0.8,
        eval_size: int | None = 10_000,
        score_on: ScoringSplit = "valid",
        rotate_every: int | None = None,
        selection_size: int | None = 10_000,
        accept: AcceptRule = "no_worse",
        criterion: Criterion = "accuracy",
        reward: RewardMode = "accuracy",
        budget: float | tuple[float, float] | None = None,
        layer_costs: Mapping[str, float] | None = None,
        cost_model: str = "neighbours",
        test_at_episode_end: bool = True,
        target_accuracy: float | None = None,
        device: str = "cpu",
        data_dir: str | os.PathLike[str] | None = None,
        render_mode: str | None = None,
    ) -> None:
        check_choice("reward", reward, self.reward_modes)
        check_choice("render_mode", render_mode, (None, *self.metadata["render_modes"]))
        check_rules(criterion, accept)
        check_scoring(score_on, rotate_every)
        check_sparsity(sparsity)
        self.budget_range = schedule.check_budget(budget)
        self.task: Task = get_task(task)
        self.sparsity = float(sparsity)
        self.accept: AcceptRule = accept
        self.criterion: Criterion = criterion
        self.reward_mode: RewardMode = reward
        self.budget: float | None = None if budget is None else self.budget_range[0]  # type: ignore[index]
        """The current episode's budget (drawn at each reset from a budget range)."""
        self.target_accuracy = target_accuracy
        self.test_at_episode_end = bool(test_at_episode_end)
        self.device = device
        self.data_dir = data_dir
        self.render_mode = render_mode
        self.score_on: ScoringSplit = score_on
        self.rotate_every = None if rotate_every is None else int(rotate_every)
        self.search = FamilySearch.for_task(
            self.task,
            eval_size=eval_size,
            score_on=score_on,
            rotate_every=rotate_every,
            selection_size=selection_size,
            layer_costs=layer_costs,
            device=device,
            data_dir=data_dir,
            cost_model=cost_model,
        )
        """The search core: network, evaluators, generator and costs."""
        self.eval_size = self.search.scoring_set.n
        """Images scored at a time (a batch of the scoring split when it rotates)."""
        self.n_layers = len(self.task.arch.layers)
        self.layer_costs = self.search.layer_costs
        """Cost of scoring one neighbour of each layer (see :mod:`aann_env.envs.schedule`)."""
        self.horizon: int | None = None
        """Episode length for the step-fraction feature (set by the registered wrapper from the
        spec's ``max_episode_steps``; None: unknown)."""
        self.history = StepHistory(self.n_layers)
        """The rewards and costs of the last steps (the observation's memory)."""
        self._steps = 0
        self._spent = 0.0
        self._curve: list[float] = []

    # ------------------------------------------------------------------------------ properties
    @property
    def np_random(self) -> np.random.Generator:
        """The generator of every random draw (the start and every swap drawn)."""
        return gym.Env.np_random.fget(self)  # type: ignore[attr-defined]

    @np_random.setter
    def np_random(self, value: np.random.Generator) -> None:
        gym.Env.np_random.fset(self, value)  # type: ignore[attr-defined]
        self.search.rng = value

    @property
    def evaluator(self) -> IncrementalEvaluator:
        """The incremental evaluator of the current scoring images."""
        return self.search.evaluator

    @property
    def network(self) -> TernaryNetwork:
        """The current network (the state). Read it; change it only through actions."""
        return self.search.network

    @property
    def accuracy(self) -> float:
        """Accuracy of the current network on the scoring images (the reward's measure)."""
        return self.search.accuracy

    @property
    def loss(self) -> float:
        """Loss of the current network on the scoring images."""
        return self.search.loss

    @property
    def val_accuracy(self) -> float:
        """Validation accuracy of the current network: the selection metric of a search (the
        scoring accuracy when the env scores on the validation split)."""
        return self.search.val_accuracy

    @property
    def val_loss(self) -> float:
        """Validation loss of the current network (see :attr:`val_accuracy`)."""
        return self.search.val_loss

    @property
    def scoring_set(self) -> ScoringSet:
        """The scoring images: the split, the batch size and the rotation."""
        return self.search.scoring_set

    @property
    def spent(self) -> float:
        """Evaluation cost spent in this episode (see :mod:`aann_env.envs.schedule`)."""
        return self._spent

    def attach_scorer(self, scorer: SwapScorer | None) -> None:
        """Score neighbours with ``scorer`` (e.g. on Ray actors; None: here again): it follows the
        scoring evaluator and returns identical scores (:class:`aann_env.envs.scoring.SwapScorer`)."""
        self.search.attach_scorer(scorer)

    def scoring_state(self) -> dict[str, int]:
        """Where the scoring rotation stands (for checkpoints; JSON-able)."""
        return self.search.scoring_state()

    def restore_scoring_state(self, state: dict[str, int]) -> None:
        """Put the scoring rotation back where :meth:`scoring_state` found it (after a reset to
        the checkpoint's network)."""
        self.search.restore_scoring_state(state)

    # ------------------------------------------------------------------------ reset and step
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if self.budget_range is not None:
            self.budget = schedule.draw_budget(self.budget_range, self.np_random)
        self.search.start((options or {}).get("init", "random"), self.sparsity, self.np_random)
        self._steps = 0
        self._spent = 0.0
        self.history.clear()
        self._curve = [self.accuracy]
        self._on_reset()
        return self._observation(), self._info(reward_loss=0.0)

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        self.search.evaluator  # noqa: B018  (raises ResetNeeded before a reset)
        if self.scores:
            self.search.start_round()
        before = (self.accuracy, self.loss)
        move = self._act(action)
        self._steps += 1
        self._spent += move.cost
        reward = self._reward(before)
        self.history.record(move.layer, reward, move.cost)
        self._curve.append(self.accuracy)
        terminated, truncated = self._ends()
        info = self._info(reward_loss=self.loss - before[1])
        info.update(
            illegal_action=move.illegal,
            committed=move.committed,
            layer=move.layer,
            swap=move.swap,
            cost=move.cost,
        )
        if (terminated or truncated) and self.test_at_episode_end:
            info["test_accuracy"] = self.test_accuracy()
        # Truncation by a step limit is Gymnasium's TimeLimit; the registered
        # EpisodeTestAccuracy wrapper adds the test accuracy then.
        return self._observation(), reward, terminated, truncated, info

    def _reward(self, before: tuple[float, float]) -> float:
        """The step's reward, from the scoring accuracy and loss ``before`` it."""
        return reward_of(self.reward_mode, before, self.accuracy, self.loss)

    def _ends(self) -> tuple[bool, bool]:
        """(terminated, truncated): the target reached; the budget spent."""
        target = self.target_accuracy is not None and self.accuracy >= self.target_accuracy
        return bool(target), bool(self.budget is not None and self._spent >= self.budget)

    @abstractmethod
    def _act(self, action: Any) -> Move:
        """Apply the formulation's action (after the step's scoring round, if it scores)."""

    def _on_reset(self) -> None:
        """What a formulation does after the network is reset (draw its candidates)."""

    def _bad_action(self, action: Any, expected: str) -> ValueError:
        return ValueError(f"action {action!r} is not in {self.action_space}: expected {expected}")

    # ---------------------------------------------------------------------------------- peeking
    def sample_swaps(self, k: int, layer: int | str | None = None) -> np.ndarray:
        """Draw ``k`` legal swaps of the current network from the env's generator: (k, 3) int64."""
        return self.search.sample(k, layer=layer)

    def evaluate_swaps(self, swaps: np.ndarray) -> SwapScores:
        """Validation accuracy, loss and correct counts of each swapped network, exactly, without
        changing the state (a scoring round).

        Args:
            swaps: (K, 3) rows ``(layer, src, dst)``, e.g. from :meth:`sample_swaps`.

        Raises:
            SwapError: A swap is illegal for the current network.
        """
        return self.search.score_round(swaps)

    def test_accuracy(self, net: TernaryNetwork | None = None) -> float:
        """Test accuracy on the whole test split (never a reward).

        Args:
            net: A network of the task's architecture; default: the current one (its result is
                cached until the network changes).
        """
        return self.search.test_accuracy(net)

    # ------------------------------------------------------------------------------ observation
    def _fraction(self) -> float:
        """The fraction of the episode done: of the budget, of the horizon, or a guess."""
        if self.budget is not None:
            return self._spent / self.budget
        if self.horizon:
            return self._steps / self.horizon
        return self._steps / (self._steps + 100.0)

    def _observation(self) -> np.ndarray:
        """The summary observation (:mod:`aann_env.envs.observations`)."""
        h = self.history
        return summary(
            self.network, self.accuracy, self.loss, self._fraction(), h.rewards, h.layer_rewards
        )

    def _info(self, reward_loss: float) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "val_accuracy": self.val_accuracy,
            "loss_change": float(reward_loss),
            "step": self._steps,
            "spent": self._spent,
            "counts": self.network.family_signature(),
        }

    # ---------------------------------------------------------------------------------- render
    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode; pass render_mode='ansi' or 'rgb_array'"
            )
            return None
        if self.render_mode == "ansi":
            last = self.history.rewards[0] if self.history.rewards else None
            return render_text(
                self.task.name, self._steps, self.accuracy, self.loss, self.network, last
            )
        return render_image(self.network, self._curve, self.accuracy)


__all__ = ["AANNEnv", "ActionMode", "Move", "ObservationMode", "RewardMode", "SharedArgs"]
