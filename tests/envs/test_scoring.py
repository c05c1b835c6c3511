"""Scoring on the training split: batches, exact rewards on them, validation kept for selection."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import aann_env  # noqa: F401
from aann_env.core.forward import evaluate
from aann_env.envs.scoring import ScoringSet
from aann_env.tasks import get_task
from aann_env.tasks.split import Split

pytestmark = pytest.mark.usefixtures("mnist_ready")


def test_batches_walk_through_the_whole_split_in_a_fixed_order() -> None:
    split = Split(np.arange(10, dtype=np.uint8)[:, None, None], np.arange(10))
    rotating = ScoringSet(split, 4, rotate_every=3)
    seen = [set(rotating.batch(b).labels.tolist()) for b in range(3)]
    assert seen[0].isdisjoint(seen[1]) and len(seen[0] | seen[1] | seen[2]) == 10  # wraps
    assert [rotating.batch_of_round(r) for r in range(7)] == [0, 0, 0, 1, 1, 1, 2]
    assert rotating.batch(1).labels.tolist() == rotating.batch(1).labels.tolist()
    fixed = ScoringSet(split, 4)
    assert not fixed.rotates and fixed.batch(5).labels.tolist() == split.subset(4).labels.tolist()
    assert not ScoringSet(split, None, rotate_every=2).rotates  # the whole split: nothing moves


def test_training_split_scoring_is_exact_and_validation_follows_every_commit() -> None:
    env = gym.make(
        "AANN-MNIST-v0",
        eval_size=150,
        score_on="train",
        rotate_every=2,
        selection_size=120,
        action_mode="layer",
        neighborhood_size=3,
        max_episode_steps=-1,
    )
    env.reset(seed=3)
    u = env.unwrapped
    train = get_task("mnist").split("train")
    valid = get_task("mnist").split("valid").subset(120)
    scoring = ScoringSet(train, 150, rotate_every=2)
    for step in range(7):
        before = u.network.copy()
        _, reward, _, _, info = env.step(step % 3)
        batch = scoring.batch(step // 2)  # a step is a round; the batch moves every 2
        assert evaluate(u.network, batch.pixels, batch.labels).accuracy == u.accuracy
        old = evaluate(before, batch.pixels, batch.labels).accuracy
        assert reward == u.accuracy - old  # the reward compares within one batch
        assert evaluate(u.network, valid.pixels, valid.labels).accuracy == u.val_accuracy
        assert info["val_accuracy"] == u.val_accuracy
    with pytest.raises(ValueError, match="score_on"):
        gym.make("AANN-MNIST-v0", score_on="test")


def test_a_restored_rotation_continues_on_the_same_batches() -> None:
    kwargs = dict(eval_size=100, score_on="train", rotate_every=3, max_episode_steps=-1)
    a, b = gym.make("AANN-MNIST-v0", **kwargs), gym.make("AANN-MNIST-v0", **kwargs)
    a.reset(seed=0)
    for _ in range(5):
        a.unwrapped.evaluate_swaps(a.unwrapped.sample_swaps(2, layer="fc"))
    b.reset(seed=0, options={"init": a.unwrapped.network})
    b.unwrapped.restore_scoring_state(a.unwrapped.scoring_state())
    assert b.unwrapped.accuracy == a.unwrapped.accuracy  # the same batch
    swaps = a.unwrapped.sample_swaps(4, layer="fc")
    assert np.array_equal(
        a.unwrapped.evaluate_swaps(swaps).loss, b.unwrapped.evaluate_swaps(swaps).loss
    )
