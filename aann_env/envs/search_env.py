"""The Gymnasium environment: search the family of a sparse ternary network by bit-swaps."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from aann_env.core.forward import evaluate
from aann_env.core.network import TernaryNetwork, random_network
from aann_env.envs import proposal, schedule
from aann_env.envs.checks import check_modes, check_numbers
from aann_env.envs.observations import HISTORY, summary, summary_space, weights_space
from aann_env.envs.render import render_image, render_text
from aann_env.envs.scoring import ScoringEvaluators, ScoringSplit, check_scoring
from aann_env.envs.selection import AcceptRule, Criterion, check_rules, select
from aann_env.evaluation import IncrementalEvaluator, SwapScores
from aann_env.nets import load_psiren
from aann_env.tasks import Task, get_task

if TYPE_CHECKING:
    from aann_env.envs.scoring import ScoringSet, SwapScorer

ActionMode = Literal["swap", "layer", "schedule", "proposal"]
RewardMode = Literal["accuracy", "loss"]
ObservationMode = Literal["summary", "weights"]


class AANNEnv(gym.Env[np.ndarray, np.ndarray | int]):
    """
    ## Description

    The state is a sparse ternary network (every weight in {-1, 0, +1}, HardTanh activations) of
    the paper "Architecture Agnostic Neural Networks" (Talukder, Raghavan, Yue, 2020). An action
    is a *bit-swap*: one nonzero weight moves, sign kept, to a zero position of the same layer.
    Swaps keep every layer's counts of -1, 0 and +1, so an episode walks through one *family* of
    networks, and the reward is the change of accuracy on the scoring images (by default the
    validation split; `score_on="train"` scores on the training split). Scoring is exact and
    incremental (:class:`aann_env.evaluation.incremental.IncrementalEvaluator`), so a step costs a small
    fraction of a forward pass.

    ## Action Space

    | `action_mode` | space | meaning |
    |---|---|---|
    | `"swap"` | `MultiDiscrete([n_layers, L, L])` | `(layer, src, dst)`: flat indices into that layer, `L` the largest layer size. Legal swaps (src nonzero, dst zero, both inside the layer) are applied; others leave the network unchanged with reward 0.0 and `info["illegal_action"] = True`. |
    | `"layer"` | `Discrete(n_layers)` | one stochastic search and succeed (SENSE) step in that layer: `neighborhood_size` legal swaps are drawn from `self.np_random` and scored, and the best by `criterion` is committed unless `accept` refuses it (the decision is `aann_env.envs.selection.select`, the one the SENSE agent uses). |
    | `"schedule"` | `Discrete(n_layers * n_sizes)` | schedule control: action `a` is one SENSE step (the `"layer"` mode's) in layer `l = a // n_sizes` with `size_table[l, a % n_sizes]` swaps (the layer's sizes from `neighborhood_sizes`), or with `decisions=D` as many such steps as spend `budget / D` of cost. Meant for an episode that is a `budget` of evaluation cost (`aann_env.envs.schedule` has the cost model). |
    | `"proposal"` | `Discrete(n_candidates)` | try candidate `a` of the `n_candidates` legal swaps drawn from `self.np_random` (of `proposal_layer`) after the last step: only it is scored, and it is committed unless `accept` refuses; `env.unwrapped.candidates` lists them (`aann_env.envs.proposal`). |

    An action outside the space raises `ValueError`. Every step costs evaluation units: one
    neighbour of layer `l` costs `layer_costs[l]` (a conv `1.0` neighbour 1,200 times an fc one),
    so a SENSE step of `K` swaps costs `K * layer_costs[l]` and a legal swap `layer_costs[l]`;
    `info["cost"]` and `info["spent"]` report it.

    ## Observation Space

    | `observation_mode` | space | content |
    |---|---|---|
    | `"summary"` (default) | `Box(-1, 1, (4 * n_layers + 3 + 8,), float32)` | per layer: density * 2 - 1, sign balance (n(+1) - n(-1)) / n(nonzero), tanh of the coefficient of variation of the nonzeros per output unit, tanh(100 * mean reward of the last steps in that layer); then accuracy * 2 - 1, tanh(loss / 4), the step fraction * 2 - 1, and tanh(100 * reward) of the last 8 steps (newest first); one row per index in `aann_env.envs.observations` |
    | `"summary"` with `action_mode="schedule"` | `Box(-1, 1, (5 * n_layers + 4 + 8,), float32)` | the summary, then per layer tanh(1e5 * reward per unit of cost over its last steps), then the episode's budget on a log scale, (log10(budget) - 6) / 2 clipped (0 without one); with a `budget`, the fraction feature is the fraction of the budget spent |
    | `"summary"` with `action_mode="proposal"` | `Box(-1, 1, (4 * n_layers + 3 + 8 + n_candidates * (n_layers + 8),), float32)` | the summary, then each candidate's features, which cost no evaluation: layer, sign, units, input statistics, and for output-layer swaps how the moved weight's input correlates with the two classes (one row per feature in `aann_env.envs.proposal`) |
    | `"weights"` | `Box(-1, 1, (n_weights,), int8)` | every weight, layers in order, each flattened in torch layout |

    ## Rewards

    With `reward="accuracy"` (default), the change of accuracy on the *scoring images* caused by
    the step, a Python float: 0.0 for an illegal or rejected action. The scoring images are
    `eval_size` images of the `score_on` split: `"valid"` (default, the paper's protocol) or
    `"train"`; with `rotate_every=R` they are a batch that moves on every `R` scoring rounds (a
    round is an `evaluate_swaps` call, or a step of the non-swap modes), like a minibatch
    (`aann_env.envs.scoring`). For `"car"`, accuracy is that of imitating the expert's class on
    frames of the split's tracks. Accuracy moves in steps of `1 / eval_size`, so most steps earn
    0.0; `reward="loss"` gives the dense alternative, the decrease of the scoring loss.
    `info["loss_change"]` always gives the change of the loss, and `info["val_accuracy"]` the
    validation accuracy (`env.unwrapped.val_accuracy`: on `selection_size` validation images when
    scoring on the training split), by which a search should select its best network. The test
    split never enters a reward.

    ## Starting State

    `reset(options={"init": ...})`: `"random"` (default: a random `sparsity`-sparse network drawn
    from `self.np_random`), `"balanced"` (the same with each layer's nonzeros split evenly
    between -1 and +1, so that every seed draws a member of one family), `"psiren"` (the backprop-trained p-SIREN network that ships with aann
    for the task at the env's `sparsity`; `aann_env.nets.shipped_levels(task)` lists them), a
    path to a network saved with `TernaryNetwork.save`, or a `TernaryNetwork` of the task's
    architecture (copied).

    ## Episode End

    - Termination: the scoring accuracy reaches `target_accuracy` (if given).
    - Truncation: `max_episode_steps` steps (registered as 1000; override it in `gym.make`), or
      the evaluation cost spent reaches `budget` (if given).

    When an episode ends, `info["test_accuracy"]` holds the test accuracy of the final network
    (added on truncation by the registered `EpisodeTestAccuracy` wrapper);
    `env.unwrapped.test_accuracy()` reports it at any time (and `test_accuracy(net)` that of any
    network of the task, such as the best one a search has kept).

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `task` | `"mnist"` | the task: `"mnist"`, or `"car"` (imitation of the CarRacing expert) |
    | `sparsity` | `0.8` | fraction of zero weights of random starts |
    | `action_mode` | `"swap"` | `"swap"`, `"layer"`, `"schedule"` or `"proposal"` |
    | `observation_mode` | `"summary"` | `"summary"` or `"weights"` |
    | `eval_size` | `10_000` | images scored at a time (a fixed subset of the `score_on` split, or its batches; None: the whole split) |
    | `score_on` | `"valid"` | the split neighbours are scored on and the reward measured on: `"valid"` (the paper's protocol) or `"train"` (the honest one: validation stays for selection) |
    | `rotate_every` | `None` | move the scoring images to the next batch of the split every this many scoring rounds (None: one fixed subset) |
    | `selection_size` | `10_000` | `score_on="train"`: validation images that `val_accuracy` is measured on, updated with every commit |
    | `neighborhood_size` | `64` | swaps scored per `"layer"` action |
    | `criterion` | `"accuracy"` | `"layer"` mode: the best neighbour has the highest accuracy, then the lowest loss (`"accuracy"`), or the lowest loss, then the highest accuracy (`"loss"`) |
    | `reward` | `"accuracy"` | `"accuracy"`: the change of scoring accuracy; `"loss"`: the decrease of scoring loss |
    | `neighborhood_sizes` | `None` | `"schedule"` mode: the sizes an action chooses from, one tuple for every layer or a mapping from layer name to a tuple (all of one length); default `aann_env.envs.schedule.LAYER_SIZES`: 2, 8, 32 swaps of conv `1.0`, 8, 32, 128 of conv `2.0`, 64, 256, 1024 of an fc layer |
    | `budget` | `None` | truncate when this much evaluation cost is spent; a `(low, high)` range draws each episode's budget log-uniformly from `self.np_random` |
    | `decisions` | `None` | `"schedule"` mode with a budget: an action runs SENSE steps until `budget / decisions` of cost is spent (None: one step per action) |
    | `layer_costs` | `None` | cost of one neighbour per layer name (default `aann_env.envs.schedule.LAYER_COSTS`) |
    | `n_candidates` | `16` | `"proposal"` mode: candidates per step |
    | `proposal_layer` | `"last"` | `"proposal"` mode: draw candidates from this layer (a name, `"last"` for the output layer) or from `"all"` first neighbours |
    | `test_at_episode_end` | `True` | add `info["test_accuracy"]` when an episode ends (a full pass over the test split; RL training turns it off) |
    | `accept` | `"no_worse"` | `"layer"` mode: commit the best neighbour unless the criterion gets worse (`"no_worse"`), only if it improves (`"better"`: a tie in the criterion is broken by the other), or always (`"always"`) |
    | `target_accuracy` | `None` | terminate when the scoring accuracy reaches it |
    | `device` | `"cpu"` | torch device of the evaluator |
    | `data_dir` | `None` | MNIST: folder of the IDX files (default: `$AANN_MNIST_DIR`, then the cache); car: folder of the recorded data set, or one cache file (default: recorded once into the cache folder) |
    | `render_mode` | `None` | `"ansi"` or `"rgb_array"` |

    ## Version History

    - v0: initial version. The `criterion` argument came later, with a default that keeps
      v0's behaviour; since then `"better"` also commits a neighbour of equal accuracy and lower
      loss, as the SENSE agent always did; `evaluate_swaps` returns the evaluator's
      `SwapScores` (read `.accuracy` and `.loss`) in place of an `(accuracy, loss)` tuple.
      The `"schedule"` and `"proposal"` action modes, the `reward`, `budget`, `decisions` and `layer_costs` arguments and
      `info["cost"]` / `info["spent"]` came later still; the defaults keep v0's behaviour. The
      schedule mode's per-layer default sizes, budget ranges, `decisions` and the budget
      feature of its observation came with the first trained schedule policy. The `score_on`,
      `rotate_every` and `selection_size` arguments, `val_accuracy` and `info["val_accuracy"]`
      came with honest scoring; the default keeps scoring on the validation split.

    ## Example

    >>> import gymnasium as gym
    >>> import aann_env
    >>> env = gym.make("AANN-MNIST-v0", eval_size=200, action_mode="layer", neighborhood_size=4)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, round(info["accuracy"], 3) == round(env.unwrapped.accuracy, 3)
    ((23,), True)
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        task: str = "mnist",
        sparsity: float = 0.8,
        action_mode: ActionMode = "swap",
        observation_mode: ObservationMode = "summary",
        eval_size: int | None = 10_000,
        score_on: ScoringSplit = "valid",
        rotate_every: int | None = None,
        selection_size: int | None = 10_000,
        neighborhood_size: int = 64,
        accept: AcceptRule = "no_worse",
        criterion: Criterion = "accuracy",
        reward: RewardMode = "accuracy",
        neighborhood_sizes: schedule.Sizes | None = None,
        budget: float | tuple[float, float] | None = None,
        decisions: int | None = None,
        layer_costs: Mapping[str, float] | None = None,
        n_candidates: int = 16,
        proposal_layer: str = "last",
        test_at_episode_end: bool = True,
        target_accuracy: float | None = None,
        device: str = "cpu",
        data_dir: str | os.PathLike[str] | None = None,
        render_mode: str | None = None,
    ) -> None:
        check_modes(action_mode, observation_mode, reward, render_mode, self.metadata)
        check_rules(criterion, accept)
        check_scoring(score_on, rotate_every)
        check_numbers(sparsity, neighborhood_size, n_candidates)
        self.budget_range = schedule.check_budget(budget)
        schedule.check_decisions(decisions, action_mode, self.budget_range)
        self.task: Task = get_task(task)
        self.sparsity = float(sparsity)
        self.action_mode = action_mode
        self.observation_mode = observation_mode
        self.neighborhood_size = int(neighborhood_size)
        self.accept = accept
        self.criterion = criterion
        self.reward_mode: RewardMode = reward
        self.budget: float | None = None if budget is None else self.budget_range[0]  # type: ignore[index]
        """The current episode's budget (drawn at each reset from a budget range)."""
        self.decisions = None if decisions is None else int(decisions)
        self.target_accuracy = target_accuracy
        self.test_at_episode_end = bool(test_at_episode_end)
        self.device = device
        self.data_dir = data_dir
        self.render_mode = render_mode

        arch = self.task.arch
        self.score_on: ScoringSplit = score_on
        self.rotate_every = None if rotate_every is None else int(rotate_every)
        self._scorer = ScoringEvaluators.for_task(
            self.task, score_on, eval_size, rotate_every, selection_size, data_dir, device
        )
        self.eval_size = self._scorer.scoring.n
        """Images scored at a time (a batch of the scoring split when it rotates)."""
        self.n_layers = len(arch.layers)
        self._layer_sizes = np.array([spec.size for spec in arch.layers], dtype=np.int64)
        self.layer_costs = schedule.layer_costs(arch, layer_costs)
        self.size_table = schedule.size_table(arch, neighborhood_sizes)
        """``"schedule"`` mode: the neighbourhood sizes of each layer, (n_layers, n_sizes)."""
        self.n_sizes = int(self.size_table.shape[1])
        self.n_candidates = int(n_candidates)
        self._proposal_layer = proposal.layer_choice(arch, proposal_layer)
        self._candidates = np.zeros((0, 3), dtype=np.int64)
        self._input_stats: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        """Cost of scoring one neighbour of each layer (see :mod:`aann_env.envs.schedule`)."""
        self.action_space, self.observation_space = self._spaces()

        self.horizon: int | None = None
        """Episode length for the step-fraction feature (set by the registered wrapper from the
        spec's ``max_episode_steps``; None: unknown)."""
        self._steps = 0
        self._rewards: deque[float] = deque(maxlen=HISTORY)
        self._layer_rewards = [deque[float](maxlen=HISTORY) for _ in range(self.n_layers)]
        self._layer_spent = [deque[float](maxlen=HISTORY) for _ in range(self.n_layers)]
        self._spent = 0.0
        self._curve: list[float] = []
        self._test_cache: tuple[str, float] | None = None

    def _spaces(self) -> tuple[spaces.Space, spaces.Box]:
        """The action and observation spaces of the env's modes."""
        largest = int(self._layer_sizes.max())
        action: spaces.Space
        if self.action_mode == "swap":
            action = spaces.MultiDiscrete([self.n_layers, largest, largest])
        elif self.action_mode == "layer":
            action = spaces.Discrete(self.n_layers)
        elif self.action_mode == "proposal":
            action = spaces.Discrete(self.n_candidates)
        else:
            action = schedule.action_space(self.n_layers, self.n_sizes)
        if self.observation_mode == "weights":
            return action, weights_space(self.task.arch.n_weights)
        if self.action_mode == "schedule":
            return action, schedule.observation_space(self.n_layers)
        if self.action_mode == "proposal":
            size = summary_space(self.n_layers).shape[0]
            return action, proposal.observation_space(size, self.n_layers, self.n_candidates)
        return action, summary_space(self.n_layers)

    # ------------------------------------------------------------------------------ properties
    @property
    def evaluator(self) -> IncrementalEvaluator:
        """The incremental evaluator of the current scoring images."""
        if not self._scorer.ready:
            raise gym.error.ResetNeeded("call reset() before using the environment")
        return self._scorer.evaluator

    @property
    def network(self) -> TernaryNetwork:
        """The current network (the state). Read it; change it only through actions."""
        return self.evaluator.network

    @property
    def accuracy(self) -> float:
        """Accuracy of the current network on the scoring images (the reward's measure)."""
        return self.evaluator.accuracy

    @property
    def loss(self) -> float:
        """Loss of the current network on the scoring images."""
        return self.evaluator.loss

    @property
    def val_accuracy(self) -> float:
        """Validation accuracy of the current network: the selection metric of a search (the
        scoring accuracy when the env scores on the validation split)."""
        self.evaluator  # noqa: B018  (raises ResetNeeded before a reset)
        return self._scorer.selector.accuracy

    @property
    def val_loss(self) -> float:
        """Validation loss of the current network (see :attr:`val_accuracy`)."""
        self.evaluator  # noqa: B018
        return self._scorer.selector.loss

    @property
    def scoring_set(self) -> ScoringSet:
        """The scoring images: the split, the batch size and the rotation."""
        return self._scorer.scoring

    def attach_scorer(self, scorer: SwapScorer | None) -> None:
        """Score neighbours with ``scorer`` (e.g. on Ray actors; None: here again): it follows the
        scoring evaluator and returns identical scores (:class:`aann_env.envs.scoring.SwapScorer`)."""
        self._scorer.attach(scorer)

    def scoring_state(self) -> dict[str, int]:
        """Where the scoring rotation stands (for checkpoints; JSON-able)."""
        return self._scorer.state()

    def restore_scoring_state(self, state: dict[str, int]) -> None:
        """Put the scoring rotation back where :meth:`scoring_state` found it (after a reset to
        the checkpoint's network)."""
        self._scorer.restore(state)
        self._input_stats.clear()

    def _round(self) -> None:
        """Start a scoring round: the scoring images move to the next batch when it is due."""
        if self._scorer.start_round():
            self._input_stats.clear()

    @property
    def spent(self) -> float:
        """Evaluation cost spent in this episode (see :mod:`aann_env.envs.schedule`)."""
        return self._spent

    # ----------------------------------------------------------------------------------- reset
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if self.budget_range is not None:
            self.budget = schedule.draw_budget(self.budget_range, self.np_random)
        net = self._initial_network((options or {}).get("init", "random"))
        self._scorer.reset(net)
        self._steps = 0
        self._spent = 0.0
        self._rewards.clear()
        for d in (*self._layer_rewards, *self._layer_spent):
            d.clear()
        self._curve = [self.accuracy]
        self._test_cache = None
        self._input_stats.clear()
        if self.action_mode == "proposal":
            self._draw_candidates()
        return self._observation(), self._info(reward_loss=0.0)

    def _initial_network(self, init: Any) -> TernaryNetwork:
        arch = self.task.arch
        if isinstance(init, TernaryNetwork):
            if init.arch != arch:
                raise ValueError(
                    f"the initial network is a {init.arch.name!r} network; this env needs {arch.name!r}"
                )
            return init.copy()
        if isinstance(init, str) and init in ("random", "balanced"):
            return random_network(
                arch,
                self.sparsity,
                self.np_random,
                offset=self.task.offset,
                balanced=init == "balanced",
            )
        if isinstance(init, str) and init == "psiren":
            return load_psiren(self.task.name, self.sparsity)
        if isinstance(init, (str, os.PathLike)):
            return TernaryNetwork.load(init, arch=arch)
        raise ValueError(
            f"options['init'] must be 'random', 'balanced', 'psiren', a path or a TernaryNetwork, "
            f"got {init!r}"
        )

    # ------------------------------------------------------------------------------------ step
    def step(
        self, action: np.ndarray | int
    ) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        self.evaluator  # noqa: B018  (raises ResetNeeded before a reset)
        if self.action_mode != "swap":
            self._round()
        ev = self.evaluator
        before_acc, before_loss = ev.accuracy, ev.loss
        if self.action_mode == "swap":
            layer, swap, committed, illegal, cost = self._swap_step(action)
        elif self.action_mode == "proposal":
            layer, swap, committed = self._proposal_step(action)
            illegal, cost = False, float(self.layer_costs[layer])
        else:
            layer, k = self._decode(action)
            swap, committed, cost = self._sense_steps(layer, k)
            illegal = False
        if self.reward_mode == "accuracy":
            reward = float(ev.accuracy - before_acc)
        else:
            reward = float(before_loss - ev.loss)
        self._steps += 1
        self._spent += cost
        self._rewards.appendleft(reward)
        self._layer_rewards[layer].appendleft(reward)
        self._layer_spent[layer].appendleft(cost)
        self._curve.append(ev.accuracy)
        terminated = bool(self.target_accuracy is not None and ev.accuracy >= self.target_accuracy)
        truncated = bool(self.budget is not None and self._spent >= self.budget)
        info = self._info(reward_loss=ev.loss - before_loss)
        info.update(illegal_action=illegal, committed=committed, layer=layer, swap=swap, cost=cost)
        if (terminated or truncated) and self.test_at_episode_end:
            info["test_accuracy"] = self.test_accuracy()
        # Truncation by a step limit is Gymnasium's TimeLimit; the registered
        # EpisodeTestAccuracy wrapper adds the test accuracy then.
        return self._observation(), reward, terminated, truncated, info

    def _swap_step(self, action: Any) -> tuple[int, np.ndarray, bool, bool, float]:
        """Apply a ``(layer, src, dst)`` action: (layer, swap, committed, illegal, cost)."""
        a = np.asarray(action)
        if (
            a.shape != (3,)
            or not np.issubdtype(a.dtype, np.integer)
            or not self.action_space.contains(a.astype(np.int64))
        ):
            raise ValueError(
                f"action {action!r} is not in {self.action_space}: expected three integers "
                f"(layer, src, dst) with layer < {self.n_layers} and indices < {self._layer_sizes.max()}"
            )
        swap = a.astype(np.int64)
        layer = int(swap[0])
        if not self.network.is_legal(swap):
            return layer, swap, False, True, 0.0
        self._scorer.commit(swap)
        return layer, swap, True, False, float(self.layer_costs[layer])

    def _proposal_step(self, action: Any) -> tuple[int, np.ndarray, bool]:
        """Try candidate ``action``: (layer, swap, committed); then draw the next candidates."""
        if not self.action_space.contains(action):
            raise ValueError(
                f"action {action!r} is not in {self.action_space}: expected a candidate index "
                f"< {self.n_candidates}"
            )
        ev = self.evaluator
        swap = self._candidates[int(action)].copy()
        layer = int(swap[0])
        scores = self._scorer.score(swap[None])
        choice = select(
            scores.accuracy, scores.loss, ev.accuracy, ev.loss, self.criterion, self.accept
        )
        if choice.accept:
            self._scorer.commit(swap)
            for later in range(layer + 1, self.n_layers):  # their inputs changed
                self._input_stats.pop(later, None)
        self._draw_candidates()
        return layer, swap, choice.accept

    @property
    def candidates(self) -> np.ndarray:
        """``"proposal"`` mode: the (K, 3) candidate swaps the next action chooses from."""
        return self._candidates.copy()

    def _draw_candidates(self) -> None:
        self._candidates = self.sample_swaps(self.n_candidates, layer=self._proposal_layer)

    def _candidate_features(self) -> np.ndarray:
        net = self.network
        for layer in np.unique(self._candidates[:, 0]):
            if int(layer) not in self._input_stats:
                self._input_stats[int(layer)] = self.evaluator.input_statistics(int(layer))
        signs = np.array(
            [net.flat(int(layer))[src] for layer, src, _ in self._candidates], dtype=np.float32
        )
        feats = proposal.candidate_features(net.arch, self._candidates, signs, self._input_stats)
        return feats.reshape(-1)

    def _decode(self, action: Any) -> tuple[int, int]:
        """(layer, neighbourhood size) of a ``"layer"`` or ``"schedule"`` action."""
        if not self.action_space.contains(action):
            what = (
                f"a layer index < {self.n_layers}"
                if self.action_mode == "layer"
                else f"layer * {self.n_sizes} + size index"
            )
            raise ValueError(f"action {action!r} is not in {self.action_space}: expected {what}")
        if self.action_mode == "layer":
            return int(action), self.neighborhood_size
        layer, size = schedule.decode(int(action), self.n_sizes)
        return layer, int(self.size_table[layer, size])

    def _sense_steps(self, layer: int, k: int) -> tuple[np.ndarray, bool, float]:
        """One SENSE step, or with ``decisions`` steps until a decision's share of the budget is
        spent: (the last step's swap, whether any step committed, the cost)."""
        unit = k * float(self.layer_costs[layer])
        share = unit if self.decisions is None else self.budget / self.decisions  # type: ignore[operator]
        cost, committed = 0.0, False
        while True:  # with decisions, a budget is set (checked in __init__)
            swap, accepted = self._sense_step(layer, k)
            cost += unit
            committed = committed or accepted
            if cost >= share or self._spent + cost >= self.budget:  # type: ignore[operator]
                return swap, committed, cost

    def _sense_step(self, layer: int, k: int) -> tuple[np.ndarray, bool]:
        """Score ``k`` swaps of ``layer`` drawn from the env's generator; commit the selected one."""
        ev = self.evaluator
        swaps = self.sample_swaps(k, layer=layer)
        scores = self._scorer.score(swaps)
        choice = select(
            scores.accuracy, scores.loss, ev.accuracy, ev.loss, self.criterion, self.accept
        )
        if choice.accept:
            self._scorer.commit(swaps[choice.index])
        return swaps[choice.index], choice.accept

    # ---------------------------------------------------------------------------------- peeking
    def sample_swaps(self, k: int, layer: int | str | None = None) -> np.ndarray:
        """Draw ``k`` legal swaps of the current network from the env's generator: (k, 3) int64."""
        return self.network.sample_swaps(k, self.np_random, layer=layer)

    def evaluate_swaps(self, swaps: np.ndarray) -> SwapScores:
        """Validation accuracy, loss and correct counts of each swapped network, exactly, without
        changing the state.

        Args:
            swaps: (K, 3) rows ``(layer, src, dst)``, e.g. from :meth:`sample_swaps`.

        Raises:
            SwapError: A swap is illegal for the current network.
        """
        self.evaluator  # noqa: B018
        self._round()
        return self._scorer.score(np.asarray(swaps, dtype=np.int64).reshape(-1, 3))

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

    # ------------------------------------------------------------------------------ observation
    def _observation(self) -> np.ndarray:
        net = self.network
        if self.observation_mode == "weights":
            return net.flat_weights()
        if self.budget is not None:
            fraction = self._spent / self.budget
        elif self.horizon:
            fraction = self._steps / self.horizon
        else:
            fraction = self._steps / (self._steps + 100.0)
        if self.action_mode == "schedule":
            return schedule.observation(
                net,
                self.accuracy,
                self.loss,
                fraction,
                self.budget,
                self._rewards,
                self._layer_rewards,
                self._layer_spent,
            )
        obs = summary(net, self.accuracy, self.loss, fraction, self._rewards, self._layer_rewards)
        if self.action_mode == "proposal":
            return np.concatenate([obs, self._candidate_features()]).astype(np.float32)
        return obs

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
            last = self._rewards[0] if self._rewards else None
            return render_text(
                self.task.name, self._steps, self.accuracy, self.loss, self.network, last
            )
        return render_image(self.network, self._curve, self.accuracy)


__all__ = ["AANNEnv"]
