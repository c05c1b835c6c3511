"""Tests of aann_env.envs.selection: the one decision of a SENSE step (env and agent share it)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import aann_env  # noqa: F401
from aann_env.envs.selection import select

ACC = np.array([0.50, 0.52, 0.52, 0.49])
LOSS = np.array([1.00, 0.90, 0.80, 0.70])


def test_the_best_by_accuracy_breaks_ties_by_loss_and_the_best_by_loss_by_accuracy() -> None:
    assert select(ACC, LOSS, 0.5, 1.0, "accuracy").index == 2  # 0.52 twice: lower loss wins
    assert select(ACC, LOSS, 0.5, 1.0, "loss").index == 3
    tied = select(np.array([0.5, 0.5]), np.array([1.0, 1.0]), 0.5, 1.0)
    assert tied.index == 0  # then the first drawn
    choice = select(ACC, LOSS, 0.5, 1.0, "accuracy")
    assert choice.gain == pytest.approx((0.02, 0.2))


@pytest.mark.parametrize(
    ("current", "rule", "moves"),
    [
        ((0.52, 0.8), "no_worse", True),  # equal on both counts
        ((0.52, 0.8), "better", False),
        ((0.52, 0.85), "better", True),  # equal accuracy, lower loss: better
        ((0.53, 0.1), "no_worse", False),
        ((0.53, 0.1), "always", True),
    ],
)
def test_accept_rules(current: tuple[float, float], rule: str, moves: bool) -> None:
    assert select(ACC, LOSS, *current, "accuracy", rule).accept is moves  # type: ignore[arg-type]


def test_bad_rules_and_empty_neighbourhoods_are_refused() -> None:
    with pytest.raises(ValueError, match="criterion"):
        select(ACC, LOSS, 0.5, 1.0, "error")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="accept"):
        select(ACC, LOSS, 0.5, 1.0, "accuracy", "maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        select(ACC[:0], LOSS[:0], 0.5, 1.0)


@pytest.mark.usefixtures("mnist_ready")
@pytest.mark.parametrize("criterion", ["accuracy", "loss"])
def test_the_env_layer_action_commits_the_selected_neighbour(criterion: str) -> None:
    """A layer action equals: draw K swaps from the env's generator, score, select, commit."""
    kwargs = dict(eval_size=300, action_mode="layer", neighborhood_size=16, criterion=criterion)
    env, twin = gym.make("AANN-MNIST-v0", **kwargs), gym.make("AANN-MNIST-v0", **kwargs)
    env.reset(seed=3)
    twin.reset(seed=3)
    for layer in (2, 1, 2, 2):
        t = twin.unwrapped
        swaps = t.sample_swaps(16, layer=layer)
        scores = t.evaluate_swaps(swaps)
        choice = select(scores.accuracy, scores.loss, t.accuracy, t.loss, criterion)  # type: ignore[arg-type]
        if choice.accept:
            t.evaluator.commit(swaps[choice.index])
        _, _, _, _, info = env.step(layer)
        assert info["committed"] is choice.accept
        assert np.array_equal(info["swap"], swaps[choice.index])
        assert env.unwrapped.network == t.network
