"""The layer team (PettingZoo Parallel env): PettingZoo's API and seed tests, exact joint rewards
and marginal contributions, determinism, budgets and bad actions."""

from __future__ import annotations

import importlib.util
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

import aann_env  # noqa: F401  (registers AANN-MNIST-v0)
from aann_env.core.forward import evaluate
from aann_env.envs import layer_team_v0
from aann_env.envs.layer_team import MAX_LAYERS, N_FEATURES, LayerTeamEnv
from aann_env.nets import load_psiren
from aann_env.tasks.car.dataset import CarDataConfig, build_car

pytestmark = pytest.mark.usefixtures("mnist_ready")

EVAL_SIZE = 100
SIZES = (2, 4)
"""Neighbourhood sizes of every layer (small: conv 1.0 swaps are the costly ones)."""
MNIST_AGENTS = ["layer_1.0", "layer_2.0", "layer_fc"]


def _team(**kwargs: Any) -> LayerTeamEnv:
    base: dict[str, Any] = dict(eval_size=EVAL_SIZE, neighborhood_sizes=SIZES, max_cycles=4)
    return layer_team_v0.parallel_env(**{**base, **kwargs})


def _scoring_images(env: LayerTeamEnv) -> tuple[np.ndarray, np.ndarray]:
    valid = env.task.split("valid").subset(EVAL_SIZE)
    return valid.pixels, valid.labels


# ------------------------------------------------------------------------ PettingZoo's tests
def test_parallel_api_test_passes() -> None:
    parallel_api_test(_team(), num_cycles=3)


def test_parallel_seed_test_passes() -> None:
    parallel_seed_test(lambda: _team(max_cycles=3), num_cycles=3)


def test_aec_api_and_seed_tests_pass() -> None:
    api_test(layer_team_v0.env(eval_size=EVAL_SIZE, neighborhood_sizes=SIZES, max_cycles=2))
    seed_test(
        lambda: layer_team_v0.env(eval_size=EVAL_SIZE, neighborhood_sizes=SIZES, max_cycles=2),
        num_cycles=2,
    )
    raw = layer_team_v0.raw_env(eval_size=EVAL_SIZE, neighborhood_sizes=SIZES)
    assert isinstance(raw.unwrapped, LayerTeamEnv)


def test_agents_are_the_layers_and_share_one_space() -> None:
    env = _team()
    obs, infos = env.reset(seed=0)
    assert env.possible_agents == env.agents == MNIST_AGENTS == list(obs) == list(infos)
    first = env.possible_agents[0]
    for agent in env.possible_agents:
        assert env.observation_space(agent) is env.observation_space(agent)
        assert env.action_space(agent) is env.action_space(agent)
        assert env.observation_space(agent) == env.observation_space(first)
        assert env.action_space(agent) == gym.spaces.Discrete(1 + len(SIZES))
        assert env.observation_space(agent).contains(obs[agent])
    assert env.observation_space(first).shape == (N_FEATURES,)
    # The one-hot layer id is all that tells the shared policy which layer it acts for.
    ids = np.stack([obs[a][:MAX_LAYERS] for a in MNIST_AGENTS])
    assert ids.tolist() == np.eye(MAX_LAYERS)[:3].tolist()
    assert obs["layer_1.0"][MAX_LAYERS] == np.float32(np.log10(1200.0) / 4)


# ----------------------------------------------------------------------- exact joint rewards
@pytest.mark.parametrize("reward", ["accuracy", "loss"])
def test_reward_equals_a_from_scratch_evaluation_of_the_joint_network(reward: str) -> None:
    env = _team(reward=reward, max_cycles=10)
    env.reset(seed=2)
    pixels, labels = _scoring_images(env)
    before_net = env.network.copy()
    before = evaluate(before_net, pixels, labels)
    n_proposed = 0
    for actions in ([2, 2, 2], [1, 0, 2], [2, 2, 1], [0, 1, 2]):
        joint = {a: act for a, act in zip(MNIST_AGENTS, actions, strict=True)}
        _, rewards, _, _, infos = env.step(joint)
        after = evaluate(env.network, pixels, labels)
        expected = (
            after.accuracy - before.accuracy if reward == "accuracy" else before.loss - after.loss
        )
        assert set(rewards.values()) == {expected}  # one team reward, exact
        assert infos["layer_fc"]["accuracy"] == after.accuracy
        assert infos["layer_fc"]["loss"] == after.loss
        # The joint network is the network before the step with every proposal applied, and
        # each agent's marginal is its swap alone, scored exactly.
        rebuilt = before_net.copy()
        for agent in MNIST_AGENTS:
            info = infos[agent]
            if not info["proposed"]:
                assert info["swap"] is None and info["marginal"] == 0.0
                continue
            n_proposed += 1
            rebuilt.apply_swap(info["swap"])
            alone = before_net.copy()
            alone.apply_swap(info["swap"])
            solo = evaluate(alone, pixels, labels)
            assert info["marginal_accuracy"] == solo.accuracy - before.accuracy
            assert info["marginal_loss"] == solo.loss - before.loss
            assert info["marginal"] == (
                info["marginal_accuracy"] if reward == "accuracy" else -info["marginal_loss"]
            )
        assert rebuilt == env.network
        before_net, before = env.network.copy(), after
    assert n_proposed >= 4


def test_passing_costs_nothing_and_an_agent_changes_only_its_layer() -> None:
    env = _team()
    env.reset(seed=3)
    start = env.network.copy()
    _, rewards, _, _, infos = env.step({})  # everyone passes
    assert env.network == start and set(rewards.values()) == {0.0}
    assert all(i["evals"] == 0 and i["cost"] == 0.0 for i in infos.values())
    assert infos["layer_fc"]["spent"] == 0.0
    _, _, _, _, infos = env.step({"layer_2.0": 2})
    assert infos["layer_2.0"]["evals"] == 4 and infos["layer_2.0"]["cost"] == 4 * 40.0
    assert infos["layer_1.0"]["evals"] == infos["layer_fc"]["evals"] == 0
    for name in ("1.0", "fc"):
        assert np.array_equal(env.network.weights[name], start.weights[name])
    assert env.network.hamming(start) == (2 if infos["layer_2.0"]["proposed"] else 0)


# ------------------------------------------------------------------------------- determinism
def _rollout(seed: int) -> tuple[list[Any], LayerTeamEnv]:
    env = _team(reward="loss", max_cycles=6)
    obs, infos = env.reset(seed=seed)
    out: list[Any] = [obs, infos]
    for actions in ([2, 1, 2], [0, 2, 2], [1, 1, 0], [2, 0, 1], [1, 2, 2]):
        step = env.step({a: act for a, act in zip(MNIST_AGENTS, actions, strict=True)})
        out += list(step)
    return out, env


def test_same_seed_rollouts_are_identical() -> None:
    (a, env_a), (b, env_b) = _rollout(7), _rollout(7)
    assert len(a) == len(b) == 2 + 5 * 5
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for agent in x:
            if isinstance(x[agent], np.ndarray):
                assert np.array_equal(x[agent], y[agent])
            else:
                assert x[agent] == y[agent]  # rewards, flags and info dicts, exactly
    assert env_a.network == env_b.network
    _, env_c = _rollout(8)
    assert env_c.network != env_a.network


# ------------------------------------------------------------------ observations and episodes
def test_observation_reports_the_last_step() -> None:
    env = _team(budget=20_000.0, max_cycles=10)
    obs, _ = env.reset(seed=4)
    o = MAX_LAYERS + 2  # the first feature that changes within an episode
    assert obs["layer_fc"][o + 2] == -1.0  # nothing of the episode done
    obs, rewards, _, _, infos = env.step({"layer_1.0": 1, "layer_fc": 2})  # 2 * 1200 + 4 * 1
    fc, conv = obs["layer_fc"], obs["layer_1.0"]
    assert fc[o] == np.float32(2.0 * infos["layer_fc"]["accuracy"] - 1.0)
    assert fc[o + 2] == np.float32(2.0 * 2404.0 / 20_000.0 - 1.0)  # the budget, not the steps
    assert fc[o + 3] == np.float32(np.tanh(100.0 * infos["layer_fc"]["marginal"]))
    assert fc[o + 4] == conv[o + 4] == np.float32(np.tanh(100.0 * rewards["layer_fc"]))
    assert fc[o + 6] == 1.0 and conv[o + 6] == 0.0 and obs["layer_2.0"][o + 6] == -1.0
    assert obs["layer_2.0"][o + 3] == obs["layer_2.0"][o + 5] == 0.0  # it passed


def test_the_budget_or_max_cycles_truncate_every_agent() -> None:
    env = _team(budget=5000.0, max_cycles=10)
    env.reset(seed=5)
    steps, truncations = 0, {}
    while env.agents:
        _, _, terminations, truncations, infos = env.step({"layer_1.0": 1})  # 2400 a step
        steps += 1
        assert not any(terminations.values())
    assert steps == 3 and infos["layer_1.0"]["spent"] == 7200.0
    assert truncations == dict.fromkeys(MNIST_AGENTS, True) and env.agents == []
    with pytest.raises(gym.error.ResetNeeded):
        env.step({})
    env.reset(seed=5)
    for _ in range(10):
        _, _, _, truncations, _ = env.step({})
    assert all(truncations.values()) and env.agents == []
    ranged = _team(budget=(1000.0, 4000.0))  # each episode draws its budget log-uniformly
    budgets = []
    for seed in (1, 2, 1):
        ranged.reset(seed=seed)
        budgets.append(ranged.budget)
    assert all(1000.0 <= b <= 4000.0 for b in budgets)
    assert budgets[0] == budgets[2] != budgets[1]


def test_bad_actions_and_arguments_raise() -> None:
    env = _team()
    env.reset(seed=6)
    with pytest.raises(ValueError, match="not in Discrete"):
        env.step({"layer_fc": 3})
    with pytest.raises(ValueError, match="not live"):
        env.step({"layer_fc1": 1})
    with pytest.raises(ValueError, match="max_cycles"):
        _team(max_cycles=0)
    with pytest.raises(ValueError, match="render_mode"):
        _team(render_mode="rgb_array")
    with pytest.raises(ValueError, match="criterion"):
        _team(criterion="speed")


def test_starts_are_the_single_agent_envs_starts() -> None:
    env, single = _team(), gym.make("AANN-MNIST-v0", eval_size=EVAL_SIZE)
    for seed in (0, 11):
        env.reset(seed=seed)
        single.reset(seed=seed)
        assert env.network == single.unwrapped.network
    obs, _ = env.reset(options={"init": "psiren"})  # the shipped net at the env's sparsity
    assert env.network == load_psiren("mnist", 0.8)
    shipped = load_psiren("mnist", 0.9)
    obs, infos = env.reset(options={"init": shipped})
    assert obs["layer_fc"][MAX_LAYERS + 1] == np.float32(2 * 0.1 - 1)  # the layer's density
    assert env.network == shipped
    assert infos["layer_fc"]["accuracy"] == evaluate(shipped, *_scoring_images(env)).accuracy


def test_render_ansi() -> None:
    env = _team(render_mode="ansi")
    env.reset(seed=0)
    env.step({"layer_fc": 1})
    assert "step 1" in env.render()


def test_docstring_example_runs() -> None:
    import doctest

    import aann_env.envs.layer_team

    result = doctest.testmod(aann_env.envs.layer_team, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# ------------------------------------------------------------------------------------- car
@pytest.mark.skipif(
    importlib.util.find_spec("Box2D") is None or importlib.util.find_spec("pygame") is None,
    reason='CarRacing needs `pip install "gymnasium[box2d]"`',
)
def test_car_team_has_four_layer_agents_with_the_mnist_spaces(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tiny = CarDataConfig(train_tracks=1, valid_tracks=1, test_tracks=1, base_seed=11, max_steps=60)
    data = str(build_car(tiny, tmp_path_factory.mktemp("car"), progress=False))
    env = layer_team_v0.parallel_env(
        task="car", data_dir=data, eval_size=40, neighborhood_sizes=SIZES, max_cycles=2
    )
    assert env.possible_agents == ["layer_1.0", "layer_2.0", "layer_fc1", "layer_fc2"]
    mnist = _team()
    assert env.observation_space("layer_fc2") == mnist.observation_space("layer_fc")
    assert env.action_space("layer_fc2") == mnist.action_space("layer_fc")
    parallel_api_test(env, num_cycles=2)
    obs, _ = env.reset(seed=0)
    assert obs["layer_fc2"][:MAX_LAYERS].tolist() == [0.0, 0.0, 0.0, 1.0]
