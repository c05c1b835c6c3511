"""The schedule formulation: an action picks the layer and the neighbourhood size of SENSE
steps, and an episode is a budget of evaluation cost (``action_mode="schedule"``)."""

from __future__ import annotations

from typing import Any, Unpack

import numpy as np

from aann_env.envs import schedule
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
    action's, `info["spent"]` the episode's. An action is one scoring round.

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

    `observation_mode="weights"` gives every weight instead.

    ## Rewards

    The change of scoring accuracy (or, with `reward="loss"`, the decrease of the scoring loss)
    over the action's SENSE steps. See :class:`AANNEnv`.

    ## Starting State

    As :class:`AANNEnv`; with a budget range, each reset first draws the episode's budget
    log-uniformly from `self.np_random`, then the start.

    ## Episode End

    - Termination: the scoring accuracy reaches `target_accuracy` (if given).
    - Truncation: the cost spent reaches `budget` (if given: the action that crosses it is the
      last), or `max_episode_steps` actions (registered as 1000; training uses -1).

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `neighborhood_sizes` | `None` | the sizes an action chooses from, one tuple for every layer or a mapping from layer name to a tuple (all of one length); default `aann_env.envs.schedule.LAYER_SIZES`: 2, 8, 32 swaps of conv `1.0`, 8, 32, 128 of conv `2.0`, 64, 256, 1024 of an fc layer |
    | `decisions` | `None` | with a budget: an action runs SENSE steps until `budget / decisions` of cost is spent (None: one step per action) |

    and the shared arguments of :class:`AANNEnv` (`budget` a cost or a `(low, high)` range;
    `criterion` and `accept` rule the SENSE steps).

    ## Version History

    - v0: came after the first version of the env. The per-layer default sizes, budget ranges,
      `decisions` and the budget feature of the observation came with the first trained
      schedule policy. Its own class since the search core (issue 25).

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

    def __init__(
        self,
        neighborhood_sizes: schedule.Sizes | None = None,
        decisions: int | None = None,
        **kwargs: Unpack[SharedArgs],
    ) -> None:
        super().__init__(**kwargs)
        schedule.check_decisions(decisions, self.action_mode, self.budget_range)
        self.decisions = None if decisions is None else int(decisions)
        self.size_table = schedule.size_table(self.task.arch, neighborhood_sizes)
        """The neighbourhood sizes of each layer, (n_layers, n_sizes)."""
        self.n_sizes = int(self.size_table.shape[1])
        self.action_space = schedule.action_space(self.n_layers, self.n_sizes)
        self.observation_space = schedule.observation_space(self.n_layers)

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
        committed = False
        while True:
            step = self.search.sense_step(layer, k, self.criterion, self.accept, new_round=False)
            committed = committed or step.accepted
            if decision.add(step.cost, share, self.budget):
                return Move(layer, step.swap, committed, False, decision.spent)

    def _observation(self) -> np.ndarray:
        return schedule.observation(
            self.network, self.accuracy, self.loss, self._fraction(), self.budget, self.history
        )


__all__ = ["ScheduleEnv"]
