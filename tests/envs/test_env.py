from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import aann_env
from aann_env.core.forward import evaluate
from aann_env.core.network import TernaryNetwork, random_network

pytestmark = pytest.mark.usefixtures("mnist_ready")

SMALL = {"eval_size": 300}
MODES = [
    {"action_mode": "swap"},
    {"action_mode": "layer", "neighborhood_size": 4},
    {"action_mode": "swap", "observation_mode": "weights"},
]


@pytest.mark.parametrize("env_id", sorted(aann_env.ENV_IDS))
@pytest.mark.parametrize("mode", MODES, ids=lambda m: "-".join(map(str, m.values())))
def test_gymnasium_and_sb3_checkers_pass(env_id, mode, request):
    # The car env runs on a small recorded data set (tests/conftest.py), not the full recording.
    car = aann_env.ENV_IDS[env_id] == "car"
    data = {"data_dir": request.getfixturevalue("small_car_file")} if car else {}
    check_env(gym.make(env_id, **SMALL, **mode, **data).unwrapped, skip_render_check=False)
    sb3_check_env(gym.make(env_id, **SMALL, **mode, **data))


def _rollout(env_kwargs, seed, actions_fn, n=12):
    env = gym.make("AANN-MNIST-v0", **SMALL, **env_kwargs)
    obs, info = env.reset(seed=seed)
    trace = [(obs.copy(), info["accuracy"], info["loss"])]
    for t in range(n):
        obs, reward, term, trunc, info = env.step(actions_fn(env, t))
        trace.append(
            (obs.copy(), reward, info["accuracy"], info["loss"], info["committed"], term, trunc)
        )
    return trace, env.unwrapped.network


def _swap_actions(env, t):
    return env.unwrapped.sample_swaps(1, layer=t % 3)[0]


@pytest.mark.parametrize(
    ("kwargs", "actions"),
    [
        ({"action_mode": "swap"}, _swap_actions),
        ({"action_mode": "layer", "neighborhood_size": 8}, lambda env, t: t % 3),
    ],
    ids=["swap", "layer"],
)
def test_same_seed_rollouts_are_identical(kwargs, actions):
    a, net_a = _rollout(kwargs, 3, actions)
    b, net_b = _rollout(kwargs, 3, actions)
    c, net_c = _rollout(kwargs, 4, actions)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x[0], y[0]) and x[1:] == y[1:]
    assert net_a == net_b and net_a != net_c


def test_reward_equals_prediction_and_from_scratch_evaluation():
    env = gym.make("AANN-MNIST-v0", **SMALL)
    env.reset(seed=0)
    u = env.unwrapped
    valid = u.task.split("valid").subset(300)
    for layer in range(3):
        swap = u.sample_swaps(1, layer=layer)[0]
        before = u.accuracy
        predicted = u.evaluate_swaps(swap[None])
        after = u.network.copy()
        after.apply_swap(swap)
        ref = evaluate(after, valid.pixels, valid.labels)
        _, reward, _, _, info = env.step(swap)
        assert isinstance(reward, float)
        assert info["accuracy"] == predicted.accuracy[0] == ref.accuracy
        assert info["loss"] == predicted.loss[0] == ref.loss
        assert reward == ref.accuracy - before
        assert u.network == after


def test_illegal_and_out_of_space_actions():
    env = gym.make("AANN-MNIST-v0", **SMALL)
    env.reset(seed=1)
    u = env.unwrapped
    before = u.network.copy()
    fc = u.network.flat(2)
    zero, nonzero = int(np.flatnonzero(fc == 0)[0]), int(np.flatnonzero(fc)[0])
    conv1_size = u.network.flat(0).size
    for illegal in ([2, zero, zero], [2, nonzero, nonzero], [0, conv1_size + 3, 0]):
        _, reward, _, _, info = env.step(np.array(illegal))
        assert reward == 0.0 and info["illegal_action"] is True and info["committed"] is False
    assert u.network == before
    for bad in (
        np.array([3, 0, 0]),
        np.array([0, -1, 0]),
        np.array([0, 0, 10**6]),
        np.array([0.5, 1, 2]),
        7,
    ):
        with pytest.raises(ValueError, match="not in MultiDiscrete"):
            env.step(bad)
    layer_env = gym.make("AANN-MNIST-v0", **SMALL, action_mode="layer")
    layer_env.reset(seed=0)
    with pytest.raises(ValueError, match="not in Discrete"):
        layer_env.step(3)


def test_layer_mode_never_lowers_accuracy_by_default_and_always_walks():
    env = gym.make("AANN-MNIST-v0", **SMALL, action_mode="layer", neighborhood_size=8)
    _, info = env.reset(seed=2)
    accuracy = info["accuracy"]
    for t in range(9):
        _, reward, _, _, info = env.step(t % 3)
        assert reward >= 0.0 and info["accuracy"] >= accuracy
        accuracy = info["accuracy"]
    walk = gym.make(
        "AANN-MNIST-v0", **SMALL, action_mode="layer", neighborhood_size=1, accept="always"
    )
    walk.reset(seed=2)
    start = walk.unwrapped.network.copy()
    for t in range(6):
        _, _, _, _, info = walk.step(t % 3)
        assert info["committed"]
    assert walk.unwrapped.network.hamming(start) > 0


def test_reset_init_options(tmp_path):
    env = gym.make("AANN-MNIST-v0", **SMALL)
    net = random_network(aann_env.MNIST, 0.9, 5)
    path = net.save(tmp_path / "start.npz")
    _, info = env.reset(seed=0, options={"init": str(path)})
    assert env.unwrapped.network == net and info["counts"] == net.family_signature()
    env.reset(options={"init": net})
    assert env.unwrapped.network == net and env.unwrapped.network is not net
    with pytest.raises(ValueError, match="p-SIREN"):  # none ships at 81%
        gym.make("AANN-MNIST-v0", **SMALL, sparsity=0.81).reset(options={"init": "psiren"})
    with pytest.raises(aann_env.CheckpointError):
        env.reset(options={"init": str(tmp_path / "missing.npz")})
    with pytest.raises(ValueError, match="'car' network"):
        env.reset(options={"init": random_network(aann_env.CAR, 0.8, 0)})


def test_episode_end_reports_test_accuracy():
    env = gym.make("AANN-MNIST-v0", **SMALL, max_episode_steps=3)
    env.reset(seed=0)
    for _ in range(3):
        _, _, term, trunc, info = env.step(env.unwrapped.sample_swaps(1, layer="fc")[0])
    assert trunc and not term
    test = env.unwrapped.task.split("test")
    assert (
        info["test_accuracy"] == evaluate(env.unwrapped.network, test.pixels, test.labels).accuracy
    )
    target = gym.make(
        "AANN-MNIST-v0", **SMALL, action_mode="layer", neighborhood_size=2, target_accuracy=0.0
    )
    target.reset(seed=0)
    _, _, term, _, info = target.step(2)
    assert term and "test_accuracy" in info


def test_render_modes():
    text_env = gym.make("AANN-MNIST-v0", **SMALL, render_mode="ansi")
    text_env.reset(seed=0)
    text = text_env.render()
    assert "validation accuracy" in text and "layer   fc" in text
    image_env = gym.make("AANN-MNIST-v0", **SMALL, render_mode="rgb_array")
    image_env.reset(seed=0)
    image = image_env.render()
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.std() > 0


def test_bad_constructor_arguments():
    for kwargs, match in [
        ({"action_mode": "bits"}, "action_mode"),
        ({"observation_mode": "pixels"}, "observation_mode"),
        ({"sparsity": 1.0}, "sparsity"),
        ({"accept": "sometimes"}, "accept"),
        ({"neighborhood_size": 0}, "neighborhood_size"),
        ({"render_mode": "video"}, "render_mode"),
    ]:
        with pytest.raises(ValueError, match=match):
            gym.make("AANN-MNIST-v0", **SMALL, **kwargs)
    with pytest.raises(gym.error.ResetNeeded):
        gym.make("AANN-MNIST-v0", **SMALL).unwrapped.sample_swaps(1)


def test_gymnasium_async_vector_env():
    make = functools.partial(gym.make, "aann_env:AANN-MNIST-v0", eval_size=200)
    envs = gym.vector.AsyncVectorEnv([make, make], context="spawn")
    try:
        obs, info = envs.reset(seed=[0, 1])
        assert obs.shape == (2, 23)
        obs, rewards, term, trunc, info = envs.step(np.array([[2, 0, 1], [2, 5, 6]]))
        assert rewards.shape == (2,) and obs.dtype == np.float32
        assert info["illegal_action"].shape == (2,) and info["accuracy"].dtype == np.float64
    finally:
        envs.close()


def test_sb3_subproc_vec_env():
    from stable_baselines3.common.vec_env import SubprocVecEnv

    make = functools.partial(
        gym.make, "aann_env:AANN-MNIST-v0", eval_size=200, action_mode="layer", neighborhood_size=2
    )
    venv = SubprocVecEnv([make, make], start_method="spawn")
    try:
        venv.seed(0)
        obs = venv.reset()
        obs, rewards, dones, infos = venv.step(np.array([2, 1]))
        assert obs.shape == (2, 23) and rewards.shape == (2,) and "accuracy" in infos[0]
    finally:
        venv.close()


def test_saved_network_round_trips_through_the_env(tmp_path):
    env = gym.make("AANN-MNIST-v0", **SMALL, action_mode="layer", neighborhood_size=4)
    env.reset(seed=0)
    env.step(2)
    path = env.unwrapped.network.save(tmp_path / "best.npz")
    again = gym.make("AANN-MNIST-v0", **SMALL)
    _, info = again.reset(options={"init": path})
    assert again.unwrapped.network == TernaryNetwork.load(path)
    assert info["accuracy"] == env.unwrapped.accuracy


@pytest.mark.parametrize("module", ["swap_env", "layer_env", "schedule_env", "proposal_env"])
def test_docstring_example_runs(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"aann_env.envs.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
