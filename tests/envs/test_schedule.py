"""Tests of the schedule-control formulation (action_mode="schedule") and the reward options."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import aann_env  # noqa: F401
from aann_env.core.forward import evaluate
from aann_env.envs.schedule import LAYER_COSTS, decode

pytestmark = pytest.mark.usefixtures("mnist_ready")

SIZES = (4, 16)


def _env(**kwargs) -> gym.Env:
    base = dict(eval_size=200, action_mode="schedule", neighborhood_sizes=SIZES, budget=5000.0)
    return gym.make("AANN-MNIST-v0", **{**base, **kwargs})


@pytest.mark.parametrize("reward", ["accuracy", "loss"])
def test_checkers_pass(reward: str) -> None:
    env = _env(reward=reward)
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(_env(reward=reward))
    assert env.action_space == gym.spaces.Discrete(3 * len(SIZES))
    assert env.observation_space.shape == (5 * 3 + 3 + 8,)


def test_actions_decode_to_layer_and_size_and_cost_what_the_model_says() -> None:
    env = _env(budget=None)
    env.reset(seed=0)
    names = env.unwrapped.network.layer_names
    for action in (0, 3, 5, 4):  # 1.0 x4, 2.0 x16, fc x16, fc x4
        layer, size = decode(action, len(SIZES))
        _, _, _, truncated, info = env.step(action)
        assert info["layer"] == layer and not truncated
        assert info["cost"] == SIZES[size] * LAYER_COSTS[names[layer]]
    assert info["spent"] == 4 * 1200 + 16 * 40 + 16 + 4
    with pytest.raises(ValueError, match="size index"):
        env.step(6)


def test_the_budget_truncates_and_reports_test_accuracy() -> None:
    env = _env(budget=100.0)
    env.reset(seed=1)
    steps, truncated, info = 0, False, {}
    while not truncated:
        _, _, terminated, truncated, info = env.step(5)  # fc x16: 16 units each
        steps += 1
        assert not terminated
    assert steps == 7 and info["spent"] == 112.0  # the first step at or past 100
    assert 0.0 <= info["test_accuracy"] <= 1.0
    obs, _ = env.reset(seed=1)
    assert obs[4 * 3 + 2] == -1.0  # nothing of the budget spent
    quiet = _env(budget=100.0, test_at_episode_end=False)  # RL training: no test pass
    quiet.reset(seed=1)
    for _ in range(7):
        _, _, _, truncated, info = quiet.step(5)
    assert truncated and "test_accuracy" not in info


@pytest.mark.parametrize("reward", ["accuracy", "loss"])
def test_the_reward_equals_a_from_scratch_evaluation(reward: str) -> None:
    env = _env(reward=reward, budget=None)
    env.reset(seed=2)
    u = env.unwrapped
    valid = u.task.split("valid").subset(200)
    before = evaluate(u.network, valid.pixels, valid.labels)
    for action in (5, 5, 3, 4):
        _, r, _, _, _ = env.step(action)
        after = evaluate(u.network, valid.pixels, valid.labels)
        expected = (
            after.accuracy - before.accuracy if reward == "accuracy" else before.loss - after.loss
        )
        assert r == expected
        before = after


def test_same_seed_same_episode() -> None:
    def rollout() -> list:
        env = _env(reward="loss")
        obs, _ = env.reset(seed=7)
        out = [obs]
        for action in (5, 2, 4, 5, 3, 1):
            obs, r, _, _, info = env.step(action)
            out += [obs, r, info["swap"].tolist(), info["committed"]]
        return out

    a, b = rollout(), rollout()
    assert len(a) == len(b)
    same = [
        np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
        for x, y in zip(a, b, strict=True)
    ]
    assert all(same)


def test_gain_per_cost_features_follow_the_rewards() -> None:
    env = _env(budget=None)
    obs, _ = env.reset(seed=3)
    assert not obs[-3:].any()  # no layer tried yet
    total = 0.0
    for _ in range(3):
        obs, r, _, _, _ = env.step(5)
        total += r
    assert total != 0.0 and obs[-3] == 0.0 and obs[-2] == 0.0
    assert obs[-1] == np.float32(np.tanh(1e5 * total / (3 * 16)))


def test_bad_arguments() -> None:
    for kwargs, match in [
        ({"reward": "error"}, "reward"),
        ({"budget": 0.0}, "budget"),
        ({"neighborhood_sizes": ()}, "neighborhood_sizes"),
        ({"layer_costs": {"fc": -1.0}}, "positive"),
        ({"action_mode": "plan"}, "schedule"),
    ]:
        with pytest.raises(ValueError, match=match):
            _env(**kwargs)
