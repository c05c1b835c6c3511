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

import numpy as np
from gymnasium import spaces

from aann_env.core.network import TernaryNetwork

HISTORY = 8
"""Rewards kept in the summary observation."""


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
