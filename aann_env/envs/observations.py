"""The env's observations: a fixed-size ``"summary"`` of the search state, or every weight.

The summary is a ``Box(-1, 1, (4 * n_layers + 3 + HISTORY,), float32)`` vector:

| index | feature |
|---|---|
| ``4 l + 0`` | layer ``l``'s density ``* 2 - 1`` |
| ``4 l + 1`` | layer ``l``'s sign balance ``(n(+1) - n(-1)) / n(nonzero)`` |
| ``4 l + 2`` | tanh of the coefficient of variation of the nonzeros per output unit of layer ``l`` |
| ``4 l + 3`` | tanh(100 * mean reward of the last steps in layer ``l``) |
| ``4 L + 0`` | validation accuracy ``* 2 - 1`` |
| ``4 L + 1`` | tanh(validation loss / 4) |
| ``4 L + 2`` | fraction of the episode done ``* 2 - 1`` |
| ``4 L + 3 + i`` | tanh(100 * reward) of the ``i``-th last step (newest first), 0 before it exists |
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from aann_env.core.network import TernaryNetwork

HISTORY = 8
"""Rewards kept in the summary observation."""


class StepHistory:
    """What the observations remember of the last steps: the rewards (newest first) and, per
    layer, the rewards and costs of the last steps in it (:data:`HISTORY` of each).

    The formulations record every step here, and the schedule agent
    (:class:`agents.rl.agent.RLSchedule`) every decision, so both observe one history.

    Args:
        n_layers: Layers of the network.
    """

    def __init__(self, n_layers: int) -> None:
        self.rewards: deque[float] = deque(maxlen=HISTORY)
        self.layer_rewards = [deque[float](maxlen=HISTORY) for _ in range(n_layers)]
        self.layer_spent = [deque[float](maxlen=HISTORY) for _ in range(n_layers)]

    def record(self, layer: int, reward: float, cost: float) -> None:
        """Remember a step (or a decision) in ``layer`` that earned ``reward`` for ``cost``."""
        self.rewards.appendleft(reward)
        self.layer_rewards[layer].appendleft(reward)
        self.layer_spent[layer].appendleft(cost)

    def clear(self) -> None:
        for d in (self.rewards, *self.layer_rewards, *self.layer_spent):
            d.clear()

    def state(self) -> dict[str, Any]:
        """JSON-able lists (newest first)."""
        return {
            "rewards": list(self.rewards),
            "layer_rewards": [list(d) for d in self.layer_rewards],
            "layer_spent": [list(d) for d in self.layer_spent],
        }

    def load(self, state: dict[str, Any]) -> None:
        """Put back what :meth:`state` returned."""
        self.rewards = deque(state["rewards"], maxlen=HISTORY)
        self.layer_rewards = [deque(r, maxlen=HISTORY) for r in state["layer_rewards"]]
        self.layer_spent = [deque(c, maxlen=HISTORY) for c in state["layer_spent"]]


def reward_of(mode: str, before: tuple[float, float], accuracy: float, loss: float) -> float:
    """The reward of a move from ``before`` (accuracy, loss) to ``accuracy`` and ``loss``: the
    accuracy gained (``mode="accuracy"``) or the loss lost (``"loss"``)."""
    if mode == "accuracy":
        return float(accuracy - before[0])
    return float(before[1] - loss)


def summary_space(n_layers: int) -> spaces.Box:
    return spaces.Box(-1.0, 1.0, (4 * n_layers + 3 + HISTORY,), np.float32)


def weights_space(n_weights: int) -> spaces.Box:
    return spaces.Box(-1, 1, (n_weights,), np.int8)


def summary(
    net: TernaryNetwork,
    accuracy: float,
    loss: float,
    fraction: float,
    rewards: deque[float],
    layer_rewards: Sequence[deque[float]],
) -> np.ndarray:
    """The summary vector (see the module docstring).

    Args:
        net: The current network.
        accuracy: Its validation accuracy.
        loss: Its validation loss.
        fraction: The fraction of the episode done (clipped to 1).
        rewards: The last rewards, newest first.
        layer_rewards: Per layer, the last rewards of steps in that layer.
    """
    feats: list[float] = []
    for spec, recent in zip(net.arch.layers, layer_rewards, strict=True):
        w = net.weights[spec.name].reshape(spec.out_features, -1)
        nonzero = w != 0
        nnz = int(nonzero.sum())
        per_unit = nonzero.sum(axis=1)
        feats.append(2.0 * nnz / w.size - 1.0)
        feats.append(float((w == 1).sum() - (w == -1).sum()) / max(nnz, 1))
        feats.append(float(np.tanh(per_unit.std() / max(per_unit.mean(), 1e-9))))
        feats.append(float(np.tanh(100.0 * np.mean(recent))) if recent else 0.0)
    feats += [2.0 * accuracy - 1.0, float(np.tanh(loss / 4.0)), 2.0 * min(fraction, 1.0) - 1.0]
    padded = list(rewards) + [0.0] * (HISTORY - len(rewards))
    feats += [float(np.tanh(100.0 * r)) for r in padded]
    return np.clip(np.asarray(feats, dtype=np.float32), -1.0, 1.0)
