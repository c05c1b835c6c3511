"""The schedule formulation: an action picks the layer and the neighbourhood size of SENSE
steps, and an episode is a budget of evaluation cost (``action_mode="schedule"``)."""

from __future__ import annotations

from typing import Any, Literal, Unpack

import numpy as np

from aann_env.envs import schedule, schedule_v2
from aann_env.envs.checks import check_choice
from aann_env.envs.schedule_v2 import SCHEDULE_REWARDS, Progress, Reference
from aann_env.envs.search_env import AANNEnv, Move, SharedArgs


class ScheduleEnv(AANNEnv):
    """
    ## Description

    The state is a sparse ternary network, as in :class:`aann_env.envs.swap_env.SwapEnv`; an
    action is schedule control: one SENSE step (as in :class:`aann_env.envs.layer_env.LayerEnv`)
    in the layer and with the neighbourhood size the policy picks, or with `decisions=D` as
    many such steps as spend `budget / D` of cost. An episode is a `budget` of evaluation cost
    (`aann_env.envs.schedule` has the cost model), so a policy learns where a search should
    spend it. The trained policy that ships with aann (`aann search --agent rl`,
    `agents.rl.agent.RLSchedule`) was trained here.

    ## Action Space

    `Discrete(n_layers * n_sizes)`: action `a` is layer `l = a // n_sizes` with
    `size_table[l, a % n_sizes]` swaps (the layer's sizes from `neighborhood_sizes`). An action
    outside the space raises `ValueError`. A SENSE step of `K` swaps in layer `l` costs
    `K * layer_costs[l]` (a conv `1.0` neighbour costs 1,200 fc ones); `info["cost"]` is the
    action's, `info["spent"]` the episode's. An action is one scoring round (v1; see below for v2).

    ## Observation Space

    `Box(-1, 1, (5 * n_layers + 4 + 8,), float32)`:

    | Num | Observation | Min | Max |
    |---|---|---|---|
    | 4 l + 0 .. 4 l + 3 | layer `l`: density, sign balance, spread of nonzeros per unit, recent reward (the summary of `aann_env.envs.observations`) | -1 | 1 |
    | 4 L + 0 | scoring accuracy * 2 - 1 | -1 | 1 |
    | 4 L + 1 | tanh(scoring loss / 4) | 0 | 1 |
    | 4 L + 2 | fraction of the budget spent * 2 - 1 (of the episode without a budget) | -1 | 1 |
    | 4 L + 3 + i | tanh(100 * reward) of the `i`-th last action, newest first (i < 8) | -1 | 1 |
    | 4 L + 11 + l | tanh(1e5 * reward per unit of cost over layer `l`'s last actions), 0 before its first | -1 | 1 |
    | 5 L + 11 | the episode's budget, (log10(budget) - 6) / 2 clipped (0 without one) | -1 | 1 |

    `observation_mode="weights"` gives every weight instead, and `observation_version=2` the
    `Box(-1, 1, (3 * n_layers + 5,), float32)` of `aann_env.envs.schedule_v2`: per layer its
    recent held-out gain per cost, the decisions since it was chosen and the share of its last
    decision's steps that committed; the held-out accuracy, the decisions since it last improved,
    the held-out-minus-scoring loss gap, the budget spent and the cost remaining. With v2 every
    SENSE step of an action is a scoring round (so `rotate_every` counts SENSE steps, as
    `aann search` and the rl agent count them); with v1 an action is one round.

    ## Rewards

    The change of scoring accuracy (or, with `reward="loss"`, the decrease of the scoring loss)
    over the action's SENSE steps. See :class:`AANNEnv`. `reward="held_out"` is the change of
    the held-out accuracy (`val_accuracy`); `reward="reference"` is potential-based against a
    reference curve passed at reset (`aann_env.envs.schedule_v2`): the return is the held-out
    accuracy's lead over the reference at the end minus that at the start.

    ## Starting State

    As :class:`AANNEnv`; with a budget range, each reset first draws the episode's budget
    log-uniformly from `self.np_random`, then the start. A *snapshot start* continues a long
    search part-way: `reset(options={"init": net, "spent": s, "budget": b, "scoring": state})`
    starts from `net` with `s` of the budget `b` already spent (the fraction features and
    `info["spent"]` count from there) and the scoring rotation where it stood, so the late phase
    of a long search is an episode of its own. Other keys raise `ValueError`.

    ## Episode End

    - Termination: the scoring accuracy reaches `target_accuracy` (if given).
    - Truncation: the cost spent reaches `budget` (if given: the action that crosses it is the
      last), or `max_episode_steps` actions (registered as 1000; training uses -1). With
      `budget_end="terminated"` a spent budget *terminates* instead: the search really ends
      there, so a learner (Stable-Baselines3 bootstraps at truncation) must not bootstrap.

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `neighborhood_sizes` | `None` | the sizes an action chooses from, one tuple for every layer or a mapping from layer name to a tuple (all of one length); default `aann_env.envs.schedule.LAYER_SIZES`: 2, 8, 32 swaps of conv `1.0`, 8, 32, 128 of conv `2.0`, 64, 256, 1024 of an fc layer |
    | `decisions` | `None` | with a budget: an action runs SENSE steps until `budget / decisions` of cost is spent (None: one step per action) |
    | `observation_version` | `1` | `1` (the shipped v1 policy's) or `2` (above) |
    | `budget_end` | `"truncated"` | what a spent budget sets: `"truncated"` or `"terminated"` |

    and the shared arguments of :class:`AANNEnv` (`budget` a cost or a `(low, high)` range;
    `criterion` and `accept` rule the SENSE steps).

    ## Version History

    - v0: came after the first version of the env. The per-layer default sizes, budget ranges,
      `decisions` and the budget feature of the observation came with the first trained
      schedule policy. Its own class since the search core (issue 25). Observation v2, the
      held-out and reference rewards, snapshot starts and `budget_end` came with issue 26.

    ## Example

    >>> import gymnasium as gym
    >>> import aann_env
    >>> env = gym.make("AANN-MNIST-v0", eval_size=200, action_mode="schedule",
    ...                neighborhood_sizes=(2, 4), budget=100.0)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, env.action_space
    ((27,), Discrete(6))
    >>> obs, reward, terminated, truncated, info = env.step(5)  # fc, 4 swaps
    >>> info["cost"], info["spent"], truncated
    (4.0, 4.0, False)
    """

    action_mode = "schedule"
    reward_modes = SCHEDULE_REWARDS

    def __init__(
        self,
        neighborhood_sizes: schedule.Sizes | None = None,
        decisions: int | None = None,
        observation_version: int = 1,
        budget_end: Literal["truncated", "terminated"] = "truncated",
        **kwargs: Unpack[SharedArgs],
    ) -> None:
        super().__init__(**kwargs)
        schedule.check_decisions(decisions, self.action_mode, self.budget_range)
        check_choice("observation_version", observation_version, (1, 2))
        check_choice("budget_end", budget_end, ("truncated", "terminated"))
        self.decisions = None if decisions is None else int(decisions)
        self.size_table = schedule.size_table(self.task.arch, neighborhood_sizes)
        """The neighbourhood sizes of each layer, (n_layers, n_sizes)."""
        self.n_sizes = int(self.size_table.shape[1])
        self.observation_version = int(observation_version)
        self.budget_end = budget_end
        self.action_space = schedule.action_space(self.n_layers, self.n_sizes)
        self.observation_space = (
            schedule.observation_space(self.n_layers)
            if observation_version == 1
            else schedule_v2.observation_space(self.n_layers)
        )
        self.progress = Progress(self.n_layers)
        """The decisions as observation v2 remembers them."""
        self.reference: Reference | None = None
        """The episode's reference curve (``reward="reference"``)."""
        self._held_before = 0.0
        self._decision_cost = 0.0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset (see the class docstring); a snapshot start may also give ``"spent"`` (cost
        already spent by the search the snapshot was taken from), ``"budget"`` (that search's
        whole budget), ``"scoring"`` (its scoring rotation, :meth:`scoring_state`) and, for
        ``reward="reference"``, the ``"reference"`` curve."""
        options = dict(options or {})
        unknown = set(options) - {"init", "spent", "budget", "scoring", "reference"}
        if unknown:
            raise ValueError(
                f"unknown reset options {sorted(unknown)}: the schedule env takes init, spent, "
                "budget, scoring and reference"
            )
        if self.reward_mode == "reference" and "reference" not in options:
            raise ValueError(
                "reward='reference' needs reset(options={'reference': [(cost, accuracy), ...]}): "
                "the held-out curve of a hand schedule from the same start"
            )
        self.reference = Reference(options["reference"]) if "reference" in options else None
        super().reset(seed=seed, options={"init": options.get("init", "random")})
        if "scoring" in options:
            self.restore_scoring_state(options["scoring"])
        if "budget" in options:
            self.budget = float(schedule.check_budget(float(options["budget"]))[0])  # type: ignore[index]
        spent = float(options.get("spent", 0.0))
        if not (spent >= 0.0 and (self.budget is None or spent < self.budget)):
            raise ValueError(
                f"spent={spent} must be >= 0 and below the budget ({self.budget}): a snapshot "
                "start has budget left"
            )
        self._spent = spent
        self.progress.reset(self.val_accuracy)
        return self._observation(), self._info(reward_loss=0.0)

    def _reward(self, before: tuple[float, float]) -> float:
        if self.reward_mode == "held_out":
            return float(self.val_accuracy - self._held_before)
        if self.reward_mode == "reference":
            assert self.reference is not None
            now = self.val_accuracy - self.reference(self._spent)
            start = self._held_before - self.reference(self._spent - self._decision_cost)
            return float(now - start)
        return super()._reward(before)

    def _ends(self) -> tuple[bool, bool]:
        terminated, truncated = super()._ends()
        if self.budget_end == "terminated":  # the search really ends at its budget
            return terminated or truncated, False
        return terminated, truncated

    def _act(self, action: Any) -> Move:
        """One SENSE step, or with ``decisions`` steps until a decision's share of the budget
        is spent (all in this step's scoring round)."""
        if not self.action_space.contains(action):
            raise self._bad_action(action, f"layer * {self.n_sizes} + size index")
        layer, size = schedule.decode(int(action), self.n_sizes)
        k = int(self.size_table[layer, size])
        unit = self.search.cost(layer, k)
        share = unit if self.decisions is None else self.budget / self.decisions  # type: ignore[operator]
        decision = schedule.Decision(layer, k, start=self._spent)
        self._held_before = self.val_accuracy
        commits = steps = 0
        while True:  # v2: every SENSE step after the first is a scoring round of its own
            later = steps > 0 and self.observation_version == 2
            step = self.search.sense_step(layer, k, self.criterion, self.accept, new_round=later)
            commits, steps = commits + step.accepted, steps + 1
            if decision.add(step.cost, share, self.budget):
                break
        self._decision_cost = decision.spent
        self.progress.record(
            layer, self.val_accuracy - self._held_before, decision.spent, commits, steps
        )
        self.progress.held_out(self.val_accuracy)
        return Move(layer, step.swap, commits > 0, False, decision.spent)

    def _observation(self) -> np.ndarray:
        if self.observation_version == 2:
            remaining = None if self.budget is None else self.budget - self._spent
            gap = self.val_loss - self.loss
            return self.progress.observation(self.val_accuracy, gap, self._fraction(), remaining)
        return schedule.observation(
            self.network, self.accuracy, self.loss, self._fraction(), self.budget, self.history
        )


__all__ = ["ScheduleEnv"]
