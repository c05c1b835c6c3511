"""The layer team's parts below the env (:mod:`aann_env.envs.layer_team`): the joint step on the
search core (every agent's SENSE step scored in one round, the proposals committed together),
and what the agents observe of the last steps."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from aann_env.core.architecture import ARCHITECTURES
from aann_env.core.network import TernaryNetwork
from aann_env.envs import schedule
from aann_env.envs.core import FamilySearch
from aann_env.envs.observations import HISTORY
from aann_env.envs.selection import AcceptRule, Criterion, select

MAX_LAYERS = max(len(arch.layers) for arch in ARCHITECTURES.values())
"""Layers of the deepest task's network: the one-hot layer id is padded to it, so that one
policy serves the agents of every task."""

N_FEATURES = MAX_LAYERS + 9
"""Length of every agent's observation."""

GAIN_SCALE = 100.0
"""Gains (accuracy, or loss decrease) are multiplied by this before the tanh in observations."""


def propose(
    swaps: np.ndarray,
    accuracy: np.ndarray,
    loss: np.ndarray,
    current: tuple[float, float],
    rules: tuple[Criterion, AcceptRule, str],
    cost: float,
) -> dict[str, Any]:
    """One agent's SENSE step on already scored swaps: its proposal and marginal gain.

    Args:
        swaps: (K, 3) the agent's neighbours (K may be 0: a pass).
        accuracy, loss: (K,) their scores.
        current: Accuracy and loss of the network before the step.
        rules: The criterion, the accept rule and the reward mode.
        cost: Cost of one neighbour of the agent's layer.
    """
    criterion, accept, reward_mode = rules
    move: dict[str, Any] = {
        "proposed": False,
        "swap": None,
        "marginal_accuracy": 0.0,
        "marginal_loss": 0.0,
        "marginal": 0.0,
        "evals": len(swaps),
        "cost": len(swaps) * cost,
    }
    if len(swaps) == 0:
        return move
    choice = select(accuracy, loss, current[0], current[1], criterion, accept)
    if choice.accept:
        d_acc = float(accuracy[choice.index] - current[0])
        d_loss = float(loss[choice.index] - current[1])
        move.update(
            proposed=True,
            swap=tuple(int(v) for v in swaps[choice.index]),
            marginal_accuracy=d_acc,
            marginal_loss=d_loss,
            marginal=d_acc if reward_mode == "accuracy" else -d_loss,
        )
    return move


def decode_actions(
    actions: Mapping[str, Any], live: list[str], action_spaces: Mapping[str, spaces.Discrete]
) -> list[int]:
    """Each layer's action this step, in layer order (0 for an agent left out: a pass).

    Args:
        actions: The joint action.
        live: The live agents.
        action_spaces: Every possible agent's space, in layer order.
    """
    if not live:
        raise gym.error.ResetNeeded("the episode is over (or never began): call reset()")
    unknown = sorted(set(actions) - set(live))
    if unknown:
        raise ValueError(f"actions for agents {unknown} that are not live: {live}")
    order = list(action_spaces)
    choices = [0] * len(order)
    for agent, action in actions.items():
        if not action_spaces[agent].contains(action):
            raise ValueError(
                f"action {action!r} of {agent!r} is not in {action_spaces[agent]}: "
                f"0 passes, i >= 1 picks the i-th neighbourhood size"
            )
        choices[order.index(agent)] = int(action)
    return choices


def team_step(
    search: FamilySearch, sizes: list[int], rules: tuple[Criterion, AcceptRule, str]
) -> tuple[list[dict[str, Any]], tuple[float, float]]:
    """Every layer's SENSE step at once: draw ``sizes[l]`` swaps of each layer, score them all in
    one round against the network before the step, let each agent propose its best
    (:func:`propose`), and commit every proposal (different layers: legal together, in any
    order). Returns the moves, in layer order, and the accuracy and loss before the step."""
    drawn = [
        search.sample(k, layer=i) if k else np.zeros((0, 3), dtype=np.int64)
        for i, k in enumerate(sizes)
    ]
    scores = search.score_round(np.concatenate(drawn))
    before = (search.accuracy, search.loss)
    moves: list[dict[str, Any]] = []
    start = 0
    for i, swaps in enumerate(drawn):
        rows = slice(start, start + len(swaps))
        start += len(swaps)
        acc, loss = scores.accuracy[rows], scores.loss[rows]
        moves.append(propose(swaps, acc, loss, before, rules, float(search.layer_costs[i])))
    for move in moves:
        if move["proposed"]:
            search.commit(np.asarray(move["swap"], dtype=np.int64))
    return moves, before


class TeamMemory:
    """What the agents observe: each layer's fixed features, and the last steps' gains.

    Args:
        n_layers: Layers of the network (agents of the team).
    """

    def __init__(self, n_layers: int) -> None:
        self.static: list[np.ndarray] = []
        self.last_reward = 0.0
        self.last_marginal = np.zeros(n_layers)
        self.last_action = np.zeros(n_layers, dtype=np.int64)
        self.gains = [deque[float](maxlen=HISTORY) for _ in range(n_layers)]
        self.costs = [deque[float](maxlen=HISTORY) for _ in range(n_layers)]

    def start(self, net: TernaryNetwork, layer_costs: np.ndarray) -> None:
        """Forget the last episode; keep the features of ``net`` that no swap changes."""
        self.static = [_layer_features(net, i, layer_costs) for i in range(len(self.gains))]
        self.last_reward = 0.0
        self.last_marginal[:] = 0.0
        self.last_action[:] = 0
        for d in (*self.gains, *self.costs):
            d.clear()

    def remember(self, choices: list[int], moves: list[dict[str, Any]], reward: float) -> None:
        """Keep what the next observations report."""
        self.last_reward = reward
        for i, (choice, move) in enumerate(zip(choices, moves, strict=True)):
            self.last_marginal[i] = move["marginal"]
            self.last_action[i] = choice
            if choice:
                self.gains[i].appendleft(move["marginal"])
                self.costs[i].appendleft(move["cost"])

    def observations(
        self, agents: list[str], accuracy: float, loss: float, fraction: float, n_sizes: int
    ) -> dict[str, np.ndarray]:
        """Every agent's observation (the table of :class:`LayerTeamEnv`), in layer order."""
        rates = schedule.gain_rates(self.gains, self.costs)
        out = {}
        for i, agent in enumerate(agents):
            team = [
                2.0 * accuracy - 1.0,
                np.tanh(loss / 4.0),
                2.0 * min(fraction, 1.0) - 1.0,
                np.tanh(GAIN_SCALE * self.last_marginal[i]),
                np.tanh(GAIN_SCALE * self.last_reward),
                rates[i],
                2.0 * self.last_action[i] / n_sizes - 1.0,
            ]
            obs = np.concatenate([self.static[i], np.asarray(team, dtype=np.float32)])
            out[agent] = np.clip(obs, -1.0, 1.0).astype(np.float32)
        return out


def _layer_features(net: TernaryNetwork, layer: int, layer_costs: np.ndarray) -> np.ndarray:
    """The features of a layer that no swap changes (indices 0-5)."""
    weights = net.flat(layer)
    out = np.zeros(MAX_LAYERS + 2, dtype=np.float32)
    out[layer] = 1.0
    out[MAX_LAYERS] = np.log10(layer_costs[layer]) / 4.0
    out[MAX_LAYERS + 1] = 2.0 * np.count_nonzero(weights) / weights.size - 1.0
    return out


__all__ = [
    "GAIN_SCALE",
    "MAX_LAYERS",
    "N_FEATURES",
    "TeamMemory",
    "decode_actions",
    "propose",
    "team_step",
]
