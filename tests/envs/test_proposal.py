"""Tests of the proposal formulation (action_mode="proposal")."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import aann_env  # noqa: F401
from aann_env.core.forward import activation, evaluate, layer_op, to_input, weight_tensors
from aann_env.envs.proposal import SIGNAL_SCALE, n_features

pytestmark = pytest.mark.usefixtures("mnist_ready")

K = 8


def _env(**kwargs) -> gym.Env:
    base = dict(eval_size=200, action_mode="proposal", n_candidates=K)
    return gym.make("AANN-MNIST-v0", **{**base, **kwargs})


@pytest.mark.parametrize("layer", ["last", "all"])
def test_checkers_pass(layer: str) -> None:
    check_env(_env(proposal_layer=layer).unwrapped, skip_render_check=True)
    sb3_check_env(_env(proposal_layer=layer, reward="loss"))
    assert _env().observation_space.shape == (23 + K * n_features(3),)


def test_a_step_scores_only_the_chosen_candidate_and_rewards_exactly() -> None:
    env = _env(proposal_layer="all", accept="always")
    env.reset(seed=0)
    u = env.unwrapped
    valid = u.task.split("valid").subset(200)
    for action in (3, 0, 7, 5):
        chosen = u.candidates[action]
        before = evaluate(u.network, valid.pixels, valid.labels)
        _, reward, _, _, info = env.step(action)
        after = evaluate(u.network, valid.pixels, valid.labels)
        assert np.array_equal(info["swap"], chosen) and info["committed"]
        assert info["cost"] == u.layer_costs[int(chosen[0])]  # one neighbour of its layer
        assert reward == after.accuracy - before.accuracy


def test_features_describe_the_candidates() -> None:
    env = _env()
    obs, _ = env.reset(seed=1)
    u = env.unwrapped
    feats = obs[23:].reshape(K, n_features(3))
    cands = u.candidates
    assert (cands[:, 0] == 2).all() and (feats[:, 2] == 1.0).all()  # "last": the fc layer
    mean, offset = u.evaluator.input_statistics(2)
    fc = u.network.weights["fc"]
    for (_, src, dst), f in zip(cands, feats, strict=True):
        (o1, i1), (o2, i2) = np.unravel_index(src, fc.shape), np.unravel_index(dst, fc.shape)
        v = fc[o1, i1]
        assert f[3] == v and f[4] == (1.0 if o1 == o2 else -1.0)
        assert f[7] == np.float32(np.tanh(2.0 * mean[i1]))
        assert f[9] == np.float32(np.tanh(SIGNAL_SCALE * v * offset[o2, i2]))
    # The statistics are those of the fc layer's input computed from scratch.
    valid = u.task.split("valid").subset(200)
    a = to_input(valid.pixels, u.network.offset)
    for spec, w in zip(u.network.arch.layers[:2], weight_tensors(u.network), strict=False):
        a = activation(spec, u.network.scales[spec.name], layer_op(spec, a, w))
    inputs = a.flatten(1).to(torch.float64).numpy()  # (N, 1568)
    assert np.allclose(mean, inputs.mean(axis=0), rtol=0, atol=1e-12)
    labels = valid.labels
    for c in (0, 7):
        expected = inputs[labels == c].mean(axis=0) - inputs.mean(axis=0)
        assert np.allclose(offset[c], expected, rtol=0, atol=1e-12)


def test_same_seed_same_episode_and_fresh_candidates_each_step() -> None:
    def rollout() -> list:
        env = _env(proposal_layer="all")
        obs, _ = env.reset(seed=5)
        out = [obs]
        for action in (1, 6, 2, 2, 0):
            obs, r, _, _, info = env.step(action)
            out += [obs, r, info["swap"].tolist(), env.unwrapped.candidates.tolist()]
        return out

    a, b = rollout(), rollout()
    same = [
        np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
        for x, y in zip(a, b, strict=True)
    ]
    assert all(same)
    assert a[4] != a[8]  # new candidates after every step


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="proposal_layer"):
        _env(proposal_layer="fc9")
    with pytest.raises(ValueError, match="n_candidates"):
        _env(n_candidates=0)
    with pytest.raises(ValueError, match="summary"):
        _env(observation_mode="weights")
    with pytest.raises(ValueError, match="candidate index"):
        env = _env()
        env.reset(seed=0)
        env.step(K)
