"""The layer team: a PettingZoo Parallel env whose agents are the layers of one ternary network.

Each layer of the network searches its own weights, and all of them are rewarded by what the
network as a whole scores. The team drives one :class:`~aann_env.envs.search_env.AANNEnv` in
``"swap"`` mode through its public API: the network, the scoring and selection images, the starts
and the test split are that env's, so the team's reward means what the single-agent env's does.
``layer_team_v0`` re-exports ``env``, ``parallel_env`` and ``raw_env``, as PettingZoo's own
envs do.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec_wrapper
from pettingzoo.utils.wrappers import AssertOutOfBoundsWrapper, OrderEnforcingWrapper

from aann_env.core.architecture import ARCHITECTURES
from aann_env.core.network import TernaryNetwork
from aann_env.envs import schedule
from aann_env.envs.observations import HISTORY
from aann_env.envs.render import render_text
from aann_env.envs.scoring import ScoringSplit
from aann_env.envs.search_env import AANNEnv, RewardMode
from aann_env.envs.selection import AcceptRule, Criterion, select

MAX_LAYERS = max(len(arch.layers) for arch in ARCHITECTURES.values())
"""Layers of the deepest task's network: the one-hot layer id is padded to it, so that one
policy serves the agents of every task."""

N_FEATURES = MAX_LAYERS + 9
"""Length of every agent's observation."""

GAIN_SCALE = 100.0
"""Gains (accuracy, or loss decrease) are multiplied by this before the tanh in observations."""


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
        # The single-agent env checks the shared arguments and owns the network and its scoring.
        self._search = AANNEnv(
            task=task,
            sparsity=sparsity,
            action_mode="swap",
            eval_size=eval_size,
            score_on=score_on,
            rotate_every=rotate_every,
            selection_size=selection_size,
            accept=accept,
            criterion=criterion,
            reward=reward,
            neighborhood_sizes=neighborhood_sizes,
            layer_costs=layer_costs,
            test_at_episode_end=False,
            device=device,
            data_dir=data_dir,
        )
        self.task = self._search.task
        self.max_cycles = int(max_cycles)
        self.budget_range = schedule.check_budget(budget)
        self.budget: float | None = None if budget is None else self.budget_range[0]  # type: ignore[index]
        """The current episode's budget (drawn at each reset from a budget range)."""
        self.criterion: Criterion = criterion
        self.accept: AcceptRule = accept
        self.reward_mode: RewardMode = reward
        self.render_mode = render_mode
        self.size_table = self._search.size_table
        """The neighbourhood sizes of each layer, (n_layers, n_sizes)."""
        self.layer_costs = self._search.layer_costs
        """Cost of one neighbour of each layer, in layer order."""
        arch = self.task.arch
        self.possible_agents = [agent_name(name) for name in arch.layer_names]
        self.agents: list[str] = []
        n_sizes = int(self.size_table.shape[1])
        self.action_spaces = {a: spaces.Discrete(1 + n_sizes) for a in self.possible_agents}
        self.observation_spaces = {
            a: spaces.Box(-1.0, 1.0, (N_FEATURES,), np.float32) for a in self.possible_agents
        }
        self._static: list[np.ndarray] = []
        self._steps = 0
        self._spent = 0.0
        self._last_reward = 0.0
        self._last_marginal = np.zeros(len(arch.layers))
        self._last_action = np.zeros(len(arch.layers), dtype=np.int64)
        self._gains = [deque[float](maxlen=HISTORY) for _ in arch.layers]
        self._costs = [deque[float](maxlen=HISTORY) for _ in arch.layers]

    def observation_space(self, agent: str) -> spaces.Box:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self.action_spaces[agent]

    # ------------------------------------------------------------------------------ properties
    @property
    def np_random(self) -> np.random.Generator:
        """The generator of every random draw (starts and swaps), seeded by ``reset(seed=...)``."""
        return self._search.np_random

    @property
    def network(self) -> TernaryNetwork:
        """The team's network (the state). Read it; change it only through actions."""
        return self._search.network

    @property
    def accuracy(self) -> float:
        """Accuracy of the network on the scoring images."""
        return self._search.accuracy

    @property
    def loss(self) -> float:
        """Loss of the network on the scoring images."""
        return self._search.loss

    @property
    def val_accuracy(self) -> float:
        """Validation accuracy of the network (see ``AANNEnv.val_accuracy``)."""
        return self._search.val_accuracy

    @property
    def spent(self) -> float:
        """Evaluation cost spent in this episode."""
        return self._spent

    def test_accuracy(self, net: TernaryNetwork | None = None) -> float:
        """Test accuracy of ``net`` (default: the team's network) on the whole test split."""
        return self._search.test_accuracy(net)

    # ----------------------------------------------------------------------------------- reset
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        init = (options or {}).get("init", "random")
        self._search.reset(seed=seed, options={"init": init})
        if self.budget_range is not None:
            self.budget = schedule.draw_budget(self.budget_range, self.np_random)
        self.agents = list(self.possible_agents)
        self._static = [self._layer_features(i) for i in range(len(self.possible_agents))]
        self._steps = 0
        self._spent = 0.0
        self._last_reward = 0.0
        self._last_marginal[:] = 0.0
        self._last_action[:] = 0
        for d in (*self._gains, *self._costs):
            d.clear()
        team = self._team_info()
        return self._observations(), {a: dict(team) for a in self.agents}

    # ------------------------------------------------------------------------------------ step
    def step(self, actions: Mapping[str, Any]) -> StepResult:
        choices = self._decode(actions)
        sizes = [0 if c == 0 else int(self.size_table[i, c - 1]) for i, c in enumerate(choices)]
        drawn = [
            self._search.sample_swaps(k, layer=i) if k else np.zeros((0, 3), dtype=np.int64)
            for i, k in enumerate(sizes)
        ]
        # One scoring round: every agent's neighbours against the network before the step.
        scores = self._search.evaluate_swaps(np.concatenate(drawn))
        before_acc, before_loss = self.accuracy, self.loss
        moves: list[dict[str, Any]] = []
        start = 0
        for i, swaps in enumerate(drawn):
            rows = slice(start, start + len(swaps))
            start += len(swaps)
            moves.append(self._propose(i, swaps, scores.accuracy[rows], scores.loss[rows]))
        for move in moves:
            if move["proposed"]:  # different layers: legal together, in any order
                self._search.step(np.asarray(move["swap"], dtype=np.int64))
        if self.reward_mode == "accuracy":
            reward = float(self.accuracy - before_acc)
        else:
            reward = float(before_loss - self.loss)
        self._steps += 1
        self._spent += sum(move["cost"] for move in moves)
        self._remember(choices, moves, reward)
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
            {a: {**team, **moves[self._index(a)]} for a in agents},
        )

    def _decode(self, actions: Mapping[str, Any]) -> list[int]:
        """Each layer's action this step, in layer order (0 for an agent left out: a pass)."""
        if not self.agents:
            raise gym.error.ResetNeeded("the episode is over (or never began): call reset()")
        unknown = sorted(set(actions) - set(self.agents))
        if unknown:
            raise ValueError(f"actions for agents {unknown} that are not live: {self.agents}")
        choices = [0] * len(self.possible_agents)
        for agent, action in actions.items():
            if not self.action_spaces[agent].contains(action):
                raise ValueError(
                    f"action {action!r} of {agent!r} is not in {self.action_spaces[agent]}: "
                    f"0 passes, i >= 1 picks the i-th neighbourhood size"
                )
            choices[self._index(agent)] = int(action)
        return choices

    def _index(self, agent: str) -> int:
        return self.possible_agents.index(agent)

    def _propose(
        self, layer: int, swaps: np.ndarray, accuracy: np.ndarray, loss: np.ndarray
    ) -> dict[str, Any]:
        """One agent's SENSE step on already scored swaps: its proposal and marginal gain."""
        move: dict[str, Any] = {
            "proposed": False,
            "swap": None,
            "marginal_accuracy": 0.0,
            "marginal_loss": 0.0,
            "marginal": 0.0,
            "evals": len(swaps),
            "cost": len(swaps) * float(self.layer_costs[layer]),
        }
        if len(swaps) == 0:
            return move
        choice = select(accuracy, loss, self.accuracy, self.loss, self.criterion, self.accept)
        if choice.accept:
            d_acc = float(accuracy[choice.index] - self.accuracy)
            d_loss = float(loss[choice.index] - self.loss)
            move.update(
                proposed=True,
                swap=tuple(int(v) for v in swaps[choice.index]),
                marginal_accuracy=d_acc,
                marginal_loss=d_loss,
                marginal=d_acc if self.reward_mode == "accuracy" else -d_loss,
            )
        return move

    def _remember(self, choices: list[int], moves: list[dict[str, Any]], reward: float) -> None:
        """Keep what the next observations report."""
        self._last_reward = reward
        for i, (choice, move) in enumerate(zip(choices, moves, strict=True)):
            self._last_marginal[i] = move["marginal"]
            self._last_action[i] = choice
            if choice:
                self._gains[i].appendleft(move["marginal"])
                self._costs[i].appendleft(move["cost"])

    # ------------------------------------------------------------------------------ observation
    def _layer_features(self, layer: int) -> np.ndarray:
        """The features of a layer that no swap changes (indices 0-5)."""
        weights = self.network.flat(layer)
        out = np.zeros(MAX_LAYERS + 2, dtype=np.float32)
        out[layer] = 1.0
        out[MAX_LAYERS] = np.log10(self.layer_costs[layer]) / 4.0
        out[MAX_LAYERS + 1] = 2.0 * np.count_nonzero(weights) / weights.size - 1.0
        return out

    def _observations(self) -> dict[str, np.ndarray]:
        fraction = self._steps / self.max_cycles
        if self.budget is not None:
            fraction = max(fraction, self._spent / self.budget)
        n_sizes = self.size_table.shape[1]
        rates = schedule.gain_rates(self._gains, self._costs)
        out = {}
        for i, agent in enumerate(self.possible_agents):
            team = [
                2.0 * self.accuracy - 1.0,
                np.tanh(self.loss / 4.0),
                2.0 * min(fraction, 1.0) - 1.0,
                np.tanh(GAIN_SCALE * self._last_marginal[i]),
                np.tanh(GAIN_SCALE * self._last_reward),
                rates[i],
                2.0 * self._last_action[i] / n_sizes - 1.0,
            ]
            obs = np.concatenate([self._static[i], np.asarray(team, dtype=np.float32)])
            out[agent] = np.clip(obs, -1.0, 1.0).astype(np.float32)
        return out

    def _team_info(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "val_accuracy": self.val_accuracy,
            "step": self._steps,
            "spent": self._spent,
        }

    # ---------------------------------------------------------------------------------- render
    def render(self) -> str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi'")
            return None
        return render_text(
            self.task.name, self._steps, self.accuracy, self.loss, self.network, self._last_reward
        )

    def close(self) -> None:
        self._search.close()


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
