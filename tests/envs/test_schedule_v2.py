"""Tests of the schedule env's issue-26 parts: observation v2, the held-out and reference
rewards, snapshot starts and termination at the budget."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import aann_env  # noqa: F401
from aann_env.core.forward import evaluate
from aann_env.envs.schedule_v2 import Reference, rate_feature

pytestmark = pytest.mark.usefixtures("mnist_ready")

PROXY = dict(score_on="train", eval_size=200, rotate_every=3, selection_size=300)
REFERENCE = [(0.0, 0.10), (6000.0, 0.40)]
SIZES = {"1.0": (1, 2), "2.0": (4, 16), "fc": (64, 256)}
"""Actions: 0, 1 conv 1.0 (1, 2 swaps); 2, 3 conv 2.0 (4, 16); 4, 5 fc (64, 256)."""


def _env(**kwargs) -> gym.Env:
    base = dict(
        action_mode="schedule",
        neighborhood_sizes=SIZES,
        budget=3000.0,
        decisions=3,
        observation_version=2,
        budget_end="terminated",
        max_episode_steps=-1,
        **PROXY,
    )
    return gym.make("AANN-MNIST-v0", **{**base, **kwargs})


def _held_out(env: gym.Env) -> float:
    u = env.unwrapped
    valid = u.task.split("valid").subset(PROXY["selection_size"])
    return evaluate(u.network, valid.pixels, valid.labels).accuracy


def test_checkers_pass_with_observation_v2_and_termination_at_the_budget() -> None:
    env = _env(reward="held_out")
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(_env(reward="held_out"))
    assert env.observation_space.shape == (3 * 3 + 5,)


def test_a_spent_budget_terminates_and_does_not_truncate() -> None:
    for budget_end, expected in (("terminated", (True, False)), ("truncated", (False, True))):
        env = _env(reward="held_out", budget_end=budget_end)
        env.reset(seed=0)
        ends = []
        while not ends or not any(ends[-1]):
            _, _, term, trunc, info = env.step(5)
            ends.append((term, trunc))
        assert ends[-1] == expected and info["spent"] >= 3000.0
        assert "test_accuracy" in info


def test_the_held_out_reward_equals_a_from_scratch_evaluation() -> None:
    env = _env(reward="held_out")
    env.reset(seed=1)
    before = _held_out(env)
    for action in (5, 1, 3):
        _, reward, _, _, info = env.step(action)
        after = _held_out(env)
        assert info["val_accuracy"] == after
        assert reward == pytest.approx(after - before, abs=1e-12)
        before = after


def test_reference_rewards_sum_to_the_lead_gained_over_the_reference() -> None:
    env = _env(reward="reference")
    with pytest.raises(ValueError, match="reference"):
        env.unwrapped.reset(seed=0)
    env.reset(seed=0, options={"reference": REFERENCE})
    ref = Reference(REFERENCE)
    lead = _held_out(env) - ref(0.0)
    total, done = 0.0, False
    while not done:
        _, reward, term, trunc, info = env.step(2)
        total += reward
        done = term or trunc
    assert total == pytest.approx(_held_out(env) - ref(info["spent"]) - lead, abs=1e-12)


def test_observation_v2_says_when_a_layer_stalls_and_how_long_ago_it_was_chosen() -> None:
    env = _env(reward="held_out", budget=20_000.0, decisions=10)
    obs, _ = env.reset(seed=2)
    assert env.observation_space.contains(obs)
    assert obs[[1, 4, 7]].tolist() == [1.0, 1.0, 1.0]  # no layer chosen yet
    for _ in range(3):
        obs, _, _, _, _ = env.step(5)  # fc, 256 swaps
    assert obs[7] == -1.0  # fc: chosen in the last decision
    assert obs[1] == 1.0 and obs[4] == 1.0  # the convs: never
    obs, _, _, _, _ = env.step(3)  # conv 2.0
    assert obs[4] == -1.0 and obs[7] == pytest.approx(2 * 1 / 5 - 1)  # fc: one decision ago
    u = env.unwrapped
    share = u.progress.layers[2].commit_share
    assert obs[8] == pytest.approx(2 * share - 1)
    assert obs[9] == pytest.approx(2 * u.val_accuracy - 1, abs=1e-6)
    assert obs[11] == pytest.approx(np.tanh(u.val_loss - u.loss), abs=1e-6)
    assert obs[12] == pytest.approx(2 * u.spent / 20_000.0 - 1, abs=1e-6)


def test_rate_feature_is_a_signed_log_scale() -> None:
    assert rate_feature(0.0) == 0.0
    assert rate_feature(1e-4) == 1.0 and rate_feature(1.0) == 1.0
    assert rate_feature(1e-9) == 0.0 and rate_feature(-1e-4) == -1.0
    assert 0 < rate_feature(5e-8) < rate_feature(1.6e-5) < 1


def test_a_snapshot_start_continues_the_long_search_deterministically() -> None:
    long = _env(reward="held_out", budget=12_000.0, decisions=8)
    long.reset(seed=3)
    for action in (5, 5, 3):
        long.step(action)
    u = long.unwrapped
    snapshot = {
        "init": u.network.copy(),
        "spent": u.spent,
        "budget": 12_000.0,
        "scoring": u.scoring_state(),
    }

    def episode() -> list:
        env = _env(reward="held_out", budget=3000.0, decisions=8)
        obs, info = env.reset(seed=7, options=snapshot)
        assert info["spent"] == snapshot["spent"] and env.unwrapped.budget == 12_000.0
        assert obs[12] == pytest.approx(2 * snapshot["spent"] / 12_000.0 - 1, abs=1e-6)
        out, done = [obs.tolist()], False
        while not done:
            obs, reward, term, trunc, info = env.step(4)
            out.append((obs.tolist(), reward, info["spent"], info["counts"]))
            done = term or trunc
        assert term and info["spent"] >= 12_000.0
        return out

    assert episode() == episode()


def test_bad_v2_arguments_and_options() -> None:
    with pytest.raises(ValueError, match="observation_version"):
        _env(observation_version=3)
    with pytest.raises(ValueError, match="budget_end"):
        _env(budget_end="stop")
    with pytest.raises(ValueError, match="reward"):
        gym.make("AANN-MNIST-v0", eval_size=100, reward="reference")  # the swap env has none
    env = _env(reward="held_out").unwrapped
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(seed=0, options={"spnet": 3})
    with pytest.raises(ValueError, match="below the budget"):
        env.reset(seed=0, options={"spent": 3000.0})
    with pytest.raises(ValueError, match="increase"):
        Reference([(5.0, 0.1), (1.0, 0.2)])
    with pytest.raises(ValueError, match="pairs"):
        Reference([1.0, 2.0])
