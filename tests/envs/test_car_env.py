"""AANN-CarRacing-v0, p-SIREN on the car task, and `aann drive`, on a tiny recorded data set."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from support.car import needs_box2d

import aann_env
from aann_env.core.forward import evaluate
from aann_env.core.network import TernaryNetwork, random_network
from aann_env.nets import shipped_levels
from aann_env.tasks import get_task
from aann_env.tasks.car.policy import NetworkPolicy
from agents.cli import main

pytestmark = needs_box2d


@pytest.fixture
def tiny_file(small_car_file: str) -> str:
    """The small recorded data set of tests/conftest.py: ten frames of each of three tracks."""
    return small_car_file


def test_car_env_passes_the_checkers(tiny_file):
    env = gym.make("AANN-CarRacing-v0", data_dir=tiny_file, eval_size=40)
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(gym.make("AANN-CarRacing-v0", data_dir=tiny_file, action_mode="layer"))
    assert "AANN-CarRacing-v0" in aann_env.ENV_IDS


def test_car_reward_is_the_change_of_imitation_accuracy(tiny_file):
    env = gym.make("AANN-CarRacing-v0", data_dir=tiny_file, sparsity=0.8)
    _, info = env.reset(seed=3)
    valid = get_task("car").split("valid", tiny_file)
    net = env.unwrapped.network
    assert net.arch.name == "car" and net.offset == 0.5
    assert info["accuracy"] == evaluate(net, valid.pixels, valid.labels).accuracy
    rng = np.random.default_rng(0)
    for _ in range(6):
        swap = net.sample_swaps(1, rng)[0]
        before = evaluate(net, valid.pixels, valid.labels).accuracy
        _, reward, _, _, info = env.step(swap)
        after = evaluate(env.unwrapped.network, valid.pixels, valid.labels).accuracy
        assert reward == after - before and info["accuracy"] == after


def test_car_env_starts_from_the_shipped_psiren_net(tiny_file):
    if 0.9 not in shipped_levels("car"):
        pytest.skip("no car p-SIREN nets ship in this checkout")
    env = gym.make("AANN-CarRacing-v0", data_dir=tiny_file, sparsity=0.9)
    env.reset(options={"init": "psiren"})
    assert env.unwrapped.network.provenance["task"] == "car"


def test_psiren_trains_the_car_net(tiny_file, tmp_path):
    out = tmp_path / "car"
    args = ["train", "--task", "car", "--data-dir", tiny_file, "--out", str(out)]
    args += ["--levels", "50,99", "--dense-epochs", "1", "--level-epochs", "1"]
    args += ["--long-epochs", "1", "--no-progress", "--no-plot"]
    assert main(args) == 0
    net = TernaryNetwork.load(out / "nets" / "psiren-99.npz", arch="car")
    test = get_task("car").split("test", tiny_file)
    assert evaluate(net, test.pixels, test.labels).accuracy == net.provenance["test_accuracy"]
    assert net.family_signature()["fc2"][1] == round(0.99 * 300)


def test_aann_drive_reports_returns_and_writes_a_gif(tmp_path, capsys):
    path = random_network("car", 0.8, 0, offset=0.5).save(tmp_path / "car.npz")
    gif = tmp_path / "drive.gif"
    args = ["drive", str(path), "--tracks", "1", "--seed", "5", "--max-steps", "30"]
    assert main([*args, "--video", str(gif), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "track 5: return" in out and "mean return" in out and gif.stat().st_size > 0
    mnist = random_network("mnist", 0.8, 0).save(tmp_path / "mnist.npz")
    assert main(["drive", str(mnist), "--tracks", "1"]) == 2
    assert "needs a 'car' network" in capsys.readouterr().err


def test_policy_picks_the_first_largest_logit():
    net = random_network("car", 0.8, 1, offset=0.5)
    policy = NetworkPolicy(net)
    frames = np.random.default_rng(0).integers(0, 256, (5, 96, 96), dtype=np.uint8)
    ev = evaluate(net, frames, np.zeros(5, dtype=np.int64), keep_logits=True)
    assert ev.logits is not None
    assert [policy(f) for f in frames] == ev.logits.argmax(1).tolist()
    assert policy.counts.sum() == 5


def test_car_data_dir_errors_are_clear(tmp_path):
    bad = Path(tmp_path / "car-v1-broken.npz")
    bad.write_bytes(b"not a data set")
    with pytest.raises(aann_env.DataError, match="car-v1-broken.npz"):
        get_task("car").split("valid", str(bad))
