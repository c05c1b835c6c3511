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
    assert env.observation_space.shape == (5 * 3 + 4 + 8,)


def test_default_sizes_scale_with_the_layer_cost() -> None:
    env = gym.make("AANN-MNIST-v0", eval_size=100, action_mode="schedule", budget=1e5)
    u = env.unwrapped
    assert u.size_table.tolist() == [[2, 8, 32], [8, 32, 128], [64, 256, 1024]]
    env.reset(seed=0)
    _, _, _, _, info = env.step(1)  # conv 1.0, 8 swaps
    assert info["cost"] == 8 * LAYER_COSTS["1.0"]


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
    assert not obs[-4:].any()  # no layer tried yet; no budget
    total = 0.0
    for _ in range(3):
        obs, r, _, _, _ = env.step(5)
        total += r
    assert total != 0.0 and obs[-4] == 0.0 and obs[-3] == 0.0
    assert obs[-2] == np.float32(np.tanh(1e5 * total / (3 * 16)))


def test_decisions_run_steps_until_their_share_of_the_budget_is_spent() -> None:
    env = _env(budget=1000.0, decisions=10)  # 100 units a decision
    obs, _ = env.reset(seed=4)
    assert obs[-1] == -1.0  # (log10(1000) - 6) / 2, clipped
    _, _, _, _, info = env.step(4)  # fc x4: 4 units a step -> 25 steps
    assert info["cost"] == 100.0 and info["spent"] == 100.0
    _, _, _, _, info = env.step(3)  # 2.0 x16: 640 units, one step overshoots the share
    assert info["cost"] == 640.0
    for _ in range(2):
        _, _, _, truncated, info = env.step(5)  # fc x16: 7 steps reach the share
        assert info["cost"] == 112.0 and not truncated
    _, _, _, truncated, info = env.step(5)  # 3 steps reach the budget (1000) before the share
    assert truncated and info["cost"] == 48.0 and info["spent"] == 1012.0
    step_env = _env(budget=1000.0)  # the same 25 fc steps one by one end in the same state
    step_env.reset(seed=4)
    for _ in range(25):
        step_env.step(4)
    env.reset(seed=4)
    env.step(4)
    assert env.unwrapped.network == step_env.unwrapped.network


def test_a_budget_range_draws_each_episode_budget_from_the_seed() -> None:
    env = _env(budget=(1e4, 1e6), decisions=4)
    budgets = []
    for seed in (0, 1, 2, 0):
        obs, _ = env.reset(seed=seed)
        budgets.append(env.unwrapped.budget)
        assert 1e4 <= budgets[-1] <= 1e6
        assert obs[-1] == np.float32((np.log10(budgets[-1]) - 6.0) / 2.0)
    assert budgets[0] == budgets[3] and len(set(budgets)) == 3


def test_bad_arguments() -> None:
    for kwargs, match in [
        ({"reward": "error"}, "reward"),
        ({"budget": 0.0}, "budget"),
        ({"budget": (5.0, 1.0)}, "budget"),
        ({"decisions": 0}, "decisions"),
        ({"budget": None, "decisions": 4}, "decisions"),
        ({"neighborhood_sizes": ()}, "number of sizes"),
        ({"neighborhood_sizes": (4, 0)}, "positive integers"),
        ({"neighborhood_sizes": {"fc": (4, 8), "1.0": (2,)}}, "number of sizes"),
        ({"neighborhood_sizes": {"fc3": (4,)}}, "lacks"),
        ({"layer_costs": {"fc": -1.0}}, "positive"),
        ({"action_mode": "plan"}, "schedule"),
    ]:
        with pytest.raises(ValueError, match=match):
            _env(**kwargs)
