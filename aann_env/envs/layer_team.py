"""The layer team: a PettingZoo Parallel env whose agents are the layers of one ternary network.

Each layer of the network searches its own weights, and all of them are rewarded by what the
network as a whole scores. The team runs on the search core of the single-agent envs
(:class:`aann_env.envs.core.FamilySearch`): the network, the scoring and selection images, the
starts, the costs and the test split are the core's, so the team's reward means what the
single-agent env's does.
``layer_team_v0`` re-exports ``env``, ``parallel_env`` and ``raw_env``, as PettingZoo's own
envs do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec_wrapper
from pettingzoo.utils.wrappers import AssertOutOfBoundsWrapper, OrderEnforcingWrapper

from aann_env.core.network import TernaryNetwork
from aann_env.envs import schedule
from aann_env.envs.checks import REWARD_MODES, check_choice, check_sparsity
from aann_env.envs.core import FamilySearch
from aann_env.envs.layer_team_parts import (
    MAX_LAYERS,
    N_FEATURES,
    TeamMemory,
    decode_actions,
    team_step,
)
from aann_env.envs.observations import reward_of
from aann_env.envs.render import render_text
from aann_env.envs.scoring import ScoringSplit, check_scoring
from aann_env.envs.search_env import RewardMode
from aann_env.envs.selection import AcceptRule, Criterion, check_rules
from aann_env.tasks import get_task

StepResult = tuple[
    dict[str, np.ndarray],  # observations
    dict[str, float],  # rewards
    dict[str, bool],  # terminations
    dict[str, bool],  # truncations
    dict[str, dict[str, Any]],  # infos
]


def agent_name(layer: str) -> str:
    """The agent that searches layer ``layer`` (``"fc"`` -> ``"layer_fc"``)."""
    return f"layer_{layer}"


class LayerTeamEnv(ParallelEnv[str, np.ndarray, int]):
    """
    | Import             | `from aann_env.envs import layer_team_v0` |
    |--------------------|-------------------------------------------|
    | Actions            | Discrete |
    | Parallel API       | Yes |
    | Manual Control     | No |
    | Agents             | mnist: `['layer_1.0', 'layer_2.0', 'layer_fc']`; car: `['layer_1.0', 'layer_2.0', 'layer_fc1', 'layer_fc2']` |
    | Agents             | 3 (mnist), 4 (car) |
    | Action Shape       | Discrete(1 + n_sizes), n_sizes = 3 by default |
    | Action Values      | 0 (pass), 1 ... n_sizes (a SENSE step of that neighbourhood size) |
    | Observation Shape  | (13,) |
    | Observation Values | [-1, 1] |

    ## Description

    The state is one sparse ternary network (see :class:`~aann_env.envs.search_env.AANNEnv`);
    its layers are the agents. Every step each agent either passes or runs a stochastic search
    and succeed (SENSE) step in its own layer: it draws neighbourhood-size many legal swaps of its
    layer from the env's generator, scores them exactly against the network as it was before the
    step, and proposes the best (by `criterion`) unless `accept` refuses it. Then every proposed
    swap is committed together. They lie in different layers, so they are always legal together,
    but they interact (a swap in conv `1.0` changes what the output layer sees), so the joint
    network is scored afresh: exactly, by the incremental evaluator after the commits. The team
    is rewarded by that joint change; each agent's info also carries its own marginal
    contribution (its swap alone, already scored) for credit assignment.

    ## Action Space

    `Discrete(1 + n_sizes)` for every agent: `0` passes (costs nothing); `i >= 1` is a SENSE
    step of `size_table[layer, i - 1]` swaps (the layer's sizes of
    `aann_env.envs.schedule.LAYER_SIZES` by default: 2, 8, 32 swaps of conv `1.0`, 8, 32, 128
    of conv `2.0`, 64, 256, 1024 of an fc layer, scaled to the layer's cost). A step of `K`
    swaps costs `K * layer_costs[layer]` evaluation units (`aann_env.envs.schedule`). An agent
    left out of the action dict passes; an action outside the space or an agent that is not
    live raises `ValueError`.

    ## Observation Space

    `Box(-1, 1, (13,), float32)` for every agent, so one shared policy serves all of them:

    | Num | Observation | Min | Max |
    |---|---|---|---|
    | 0-3 | one-hot id of the agent's layer (its index in the network; padded to 4 layers) | 0 | 1 |
    | 4 | log10 of the cost of one neighbour of the layer, / 4 (conv `1.0`: 0.77, fc: 0) | -1 | 1 |
    | 5 | density of the layer * 2 - 1 (fixed within an episode: swaps keep it) | -1 | 1 |
    | 6 | team: accuracy on the scoring images * 2 - 1 | -1 | 1 |
    | 7 | team: tanh(loss on the scoring images / 4) | 0 | 1 |
    | 8 | fraction of the episode done * 2 - 1: the larger of steps / `max_cycles` and spent / `budget` | -1 | 1 |
    | 9 | tanh(100 * the agent's last marginal gain), 0 after a pass or no proposal | -1 | 1 |
    | 10 | tanh(100 * the last team reward) | -1 | 1 |
    | 11 | tanh(1e5 * the agent's marginal gain per unit of cost over its last 8 SENSE steps), 0 before the first | -1 | 1 |
    | 12 | the agent's last action / n_sizes * 2 - 1 (-1: passed, or no step yet) | -1 | 1 |

    Gains are in the reward's units (accuracy, or loss decrease).

    ## Rewards

    Every agent gets the same team reward: the change of accuracy on the scoring images
    (`reward="accuracy"`, default) or the decrease of the scoring loss (`reward="loss"`) from the
    network before the step to the jointly swapped one. It equals a from-scratch evaluation of
    both networks, bit for bit. Each agent's info carries its own part:

    | key | value |
    |---|---|
    | `marginal_accuracy`, `marginal_loss` | change of accuracy and loss that the agent's proposed swap alone makes to the network before the step (0.0 without a proposal) |
    | `marginal` | the same in the reward's units |
    | `proposed`, `swap` | whether it proposed a swap, and the swap `(layer, src, dst)` or None |
    | `evals`, `cost` | swaps it scored, and their evaluation cost |
    | `accuracy`, `loss`, `val_accuracy` | the team's network after the step (validation accuracy: for choosing the best network when scoring on the training split) |
    | `accuracy_change`, `loss_change` | the team's change |
    | `step`, `spent` | steps and evaluation cost of the episode so far |

    ## Starting State

    `reset(options={"init": ...})` as `AANNEnv`: `"random"` (default: a random `sparsity`-sparse
    network drawn from the env's generator), `"balanced"`, `"psiren"`, a path to a saved network
    or a `TernaryNetwork`. A given seed gives the start that `AANNEnv.reset(seed=...)` gives.

    ## Episode End

    - Termination: none.
    - Truncation: `max_cycles` steps, or (with a `budget`) the evaluation cost spent reaches the
      budget. Every agent lives for the whole episode and is truncated together.

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `task` | `"mnist"` | `"mnist"` or `"car"` |
    | `sparsity` | `0.8` | fraction of zero weights of random starts |
    | `max_cycles` | `100` | steps per episode |
    | `budget` | `None` | evaluation cost per episode, or a `(low, high)` range each episode draws from log-uniformly |
    | `eval_size`, `score_on`, `rotate_every`, `selection_size` | `10_000`, `"valid"`, `None`, `10_000` | the scoring and selection images, as `AANNEnv`'s; a step is one scoring round |
    | `criterion` | `"loss"` | the best neighbour of a SENSE step: lowest loss (`"loss"`) or highest accuracy (`"accuracy"`) |
    | `accept` | `"no_worse"` | propose the best neighbour unless the criterion gets worse (`"no_worse"`), only if it improves (`"better"`), or always (`"always"`) |
    | `reward` | `"accuracy"` | `"accuracy"` or `"loss"` |
    | `neighborhood_sizes` | `None` | the sizes an action chooses from: one tuple for every layer, or per layer name (default `LAYER_SIZES`) |
    | `layer_costs` | `None` | cost of one neighbour per layer name (default `LAYER_COSTS`) |
    | `device` | `"cpu"` | torch device of the evaluators |
    | `data_dir` | `None` | the task's data, as `AANNEnv`'s |
    | `render_mode` | `None` | `"ansi"` |

    ## Version History

    - v0: initial version.

    ## Example

    >>> from aann_env.envs import layer_team_v0
    >>> env = layer_team_v0.parallel_env(eval_size=200, neighborhood_sizes=(2, 4), max_cycles=2)
    >>> obs, infos = env.reset(seed=0)
    >>> env.agents, obs["layer_fc"].shape
    (['layer_1.0', 'layer_2.0', 'layer_fc'], (13,))
    >>> obs, rewards, terms, truncs, infos = env.step({"layer_1.0": 0, "layer_fc": 2})
    >>> infos["layer_fc"]["evals"], infos["layer_1.0"]["proposed"], len(set(rewards.values()))
    (4, False, 1)
    """

    metadata = {"render_modes": ["ansi"], "name": "layer_team_v0", "is_parallelizable": True}

    def __init__(
        self,
        task: str = "mnist",
        sparsity: float = 0.8,
        max_cycles: int = 100,
        budget: float | tuple[float, float] | None = None,
        eval_size: int | None = 10_000,
        score_on: ScoringSplit = "valid",
        rotate_every: int | None = None,
        selection_size: int | None = 10_000,
        criterion: Criterion = "loss",
        accept: AcceptRule = "no_worse",
        reward: RewardMode = "accuracy",
        neighborhood_sizes: schedule.Sizes | None = None,
        layer_costs: Mapping[str, float] | None = None,
        device: str = "cpu",
        data_dir: str | os.PathLike[str] | None = None,
        render_mode: str | None = None,
    ) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        if int(max_cycles) < 1:
            raise ValueError(f"max_cycles must be a positive number of steps, got {max_cycles}")
        check_choice("reward", reward, REWARD_MODES)
        check_rules(criterion, accept)
        check_scoring(score_on, rotate_every)
        check_sparsity(sparsity)
        self.task = get_task(task)
        self.search = FamilySearch.for_task(
            self.task,
            eval_size=eval_size,
            score_on=score_on,
            rotate_every=rotate_every,
            selection_size=selection_size,
            layer_costs=layer_costs,
            device=device,
            data_dir=data_dir,
        )
        """The search core: the team's network, its scoring, generator and costs."""
        self.sparsity = float(sparsity)
        self.max_cycles = int(max_cycles)
        self.budget_range = schedule.check_budget(budget)
        self.budget: float | None = None if budget is None else self.budget_range[0]  # type: ignore[index]
        """The current episode's budget (drawn at each reset from a budget range)."""
        self.criterion: Criterion = criterion
        self.accept: AcceptRule = accept
        self.reward_mode: RewardMode = reward
        self.render_mode = render_mode
        self.size_table = schedule.size_table(self.task.arch, neighborhood_sizes)
        """The neighbourhood sizes of each layer, (n_layers, n_sizes)."""
        self.layer_costs = self.search.layer_costs
        """Cost of one neighbour of each layer, in layer order."""
        self._np_random: np.random.Generator | None = None
        arch = self.task.arch
        self.possible_agents = [agent_name(name) for name in arch.layer_names]
        self.agents: list[str] = []
        n_sizes = int(self.size_table.shape[1])
        self.action_spaces = {a: spaces.Discrete(1 + n_sizes) for a in self.possible_agents}
        self.observation_spaces = {
            a: spaces.Box(-1.0, 1.0, (N_FEATURES,), np.float32) for a in self.possible_agents
        }
        self._steps = 0
        self._spent = 0.0
        self._memory = TeamMemory(len(arch.layers))

    def observation_space(self, agent: str) -> spaces.Box:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self.action_spaces[agent]

    @property
    def np_random(self) -> np.random.Generator:
        """The generator of every random draw (starts and swaps), seeded by ``reset(seed=...)``."""
        if self._np_random is None:
            self._np_random, _ = gym.utils.seeding.np_random()
        return self._np_random

    @property
    def network(self) -> TernaryNetwork:
        """The team's network (the state). Read it; change it only through actions."""
        return self.search.network

    @property
    def accuracy(self) -> float:
        """Accuracy of the network on the scoring images."""
        return self.search.accuracy

    @property
    def loss(self) -> float:
        """Loss of the network on the scoring images."""
        return self.search.loss

    @property
    def val_accuracy(self) -> float:
        """Validation accuracy of the network (see ``AANNEnv.val_accuracy``)."""
        return self.search.val_accuracy

    @property
    def spent(self) -> float:
        """Evaluation cost spent in this episode."""
        return self._spent

    def test_accuracy(self, net: TernaryNetwork | None = None) -> float:
        """Test accuracy of ``net`` (default: the team's network) on the whole test split."""
        return self.search.test_accuracy(net)

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        if seed is not None:  # as gymnasium.Env.reset seeds
            self._np_random, _ = gym.utils.seeding.np_random(seed)
        self.search.start((options or {}).get("init", "random"), self.sparsity, self.np_random)
        if self.budget_range is not None:
            self.budget = schedule.draw_budget(self.budget_range, self.np_random)
        self.agents = list(self.possible_agents)
        self._memory.start(self.network, self.layer_costs)
        self._steps = 0
        self._spent = 0.0
        team = self._team_info()
        return self._observations(), {a: dict(team) for a in self.agents}

    def step(self, actions: Mapping[str, Any]) -> StepResult:
        choices = decode_actions(actions, self.agents, self.action_spaces)
        sizes = [0 if c == 0 else int(self.size_table[i, c - 1]) for i, c in enumerate(choices)]
        rules = (self.criterion, self.accept, self.reward_mode)
        moves, (before_acc, before_loss) = team_step(self.search, sizes, rules)
        reward = reward_of(self.reward_mode, (before_acc, before_loss), self.accuracy, self.loss)
        self._steps += 1
        self._spent += sum(move["cost"] for move in moves)
        self._memory.remember(choices, moves, reward)
        truncated = bool(
            self._steps >= self.max_cycles
            or (self.budget is not None and self._spent >= self.budget)
        )
        team = self._team_info()
        team.update(
            accuracy_change=float(self.accuracy - before_acc),
            loss_change=float(self.loss - before_loss),
        )
        agents = self.agents
        observations = self._observations()
        if truncated:
            self.agents = []
        return (
            observations,
            dict.fromkeys(agents, reward),
            dict.fromkeys(agents, False),
            dict.fromkeys(agents, truncated),
            {a: {**team, **moves[self.possible_agents.index(a)]} for a in agents},
        )

    def _observations(self) -> dict[str, np.ndarray]:
        fraction = self._steps / self.max_cycles
        if self.budget is not None:
            fraction = max(fraction, self._spent / self.budget)
        n_sizes = int(self.size_table.shape[1])
        return self._memory.observations(
            self.possible_agents, self.accuracy, self.loss, fraction, n_sizes
        )

    def _team_info(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "val_accuracy": self.val_accuracy,
            "step": self._steps,
            "spent": self._spent,
        }

    def render(self) -> str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi'")
            return None
        last = self._memory.last_reward
        return render_text(
            self.task.name, self._steps, self.accuracy, self.loss, self.network, last
        )


def parallel_env(**kwargs: Any) -> LayerTeamEnv:
    """The Parallel env: every agent acts at once (arguments: :class:`LayerTeamEnv`'s)."""
    return LayerTeamEnv(**kwargs)


def raw_env(**kwargs: Any) -> AECEnv:
    """The AEC form without wrappers: PettingZoo's conversion of the Parallel env (agents act in
    turn, and the joint action is applied when the last of them has acted)."""
    return parallel_to_aec_wrapper(parallel_env(**kwargs))


def env(**kwargs: Any) -> AECEnv:
    """The AEC form with PettingZoo's usual wrappers: actions out of bounds and calls out of
    order raise. (``pettingzoo.utils.conversions.parallel_to_aec(parallel_env())`` is the same
    without the bounds check.)"""
    return OrderEnforcingWrapper(AssertOutOfBoundsWrapper(raw_env(**kwargs)))


__all__ = [
    "LayerTeamEnv",
    "MAX_LAYERS",
    "N_FEATURES",
    "agent_name",
    "env",
    "parallel_env",
    "raw_env",
]
