"""Tests of the search core (:mod:`aann_env.envs.core`), the formulation classes behind
``gym.make`` and the bookkeeping the schedule env and agent share."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import aann_env  # noqa: F401
from aann_env.envs import schedule
from aann_env.envs.core import FamilySearch
from aann_env.envs.factory import FORMULATIONS
from aann_env.envs.layer_env import LayerEnv
from aann_env.envs.observations import StepHistory
from aann_env.envs.proposal_env import ProposalEnv
from aann_env.envs.schedule_env import ScheduleEnv
from aann_env.envs.search_env import AANNEnv
from aann_env.envs.swap_env import SwapEnv
from aann_env.envs.wrappers import WeightsObservation
from aann_env.tasks import get_task

pytestmark = pytest.mark.usefixtures("mnist_ready")

SMALL = {"eval_size": 200}


@pytest.mark.parametrize(
    ("mode", "cls"),
    [("swap", SwapEnv), ("layer", LayerEnv), ("schedule", ScheduleEnv), ("proposal", ProposalEnv)],
)
def test_the_action_mode_picks_the_formulation_class(mode: str, cls: type) -> None:
    env = gym.make("AANN-MNIST-v0", **SMALL, action_mode=mode)
    u = env.unwrapped
    assert type(u) is cls and FORMULATIONS[mode] is cls and isinstance(u, AANNEnv)
    assert u.action_mode == mode and isinstance(u.search, FamilySearch)
    obs, _ = env.reset(seed=4)
    again = gym.make(env.spec)  # the spec makes the same env again
    assert type(again.unwrapped) is cls
    assert np.array_equal(again.reset(seed=4)[0], obs)


def test_the_weights_observation_is_a_wrapper_the_spec_recreates() -> None:
    env = gym.make("AANN-MNIST-v0", **SMALL, action_mode="layer", observation_mode="weights")
    chain, inner = [], env
    while isinstance(inner, gym.Wrapper):
        chain.append(type(inner))
        inner = inner.env
    assert chain[-1] is WeightsObservation and chain[0].__name__ == "EpisodeTestAccuracy"
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.int8 and np.array_equal(obs, env.unwrapped.network.flat_weights())
    assert env.observation_space.shape == (env.unwrapped.task.arch.n_weights,)
    assert env.spec.kwargs["observation_mode"] == "weights"
    assert [w.name for w in env.spec.additional_wrappers] == ["EpisodeTestAccuracy"]
    again = gym.make(env.spec)
    assert np.array_equal(again.reset(seed=0)[0], obs)


def test_arguments_of_other_formulations_are_checked_and_dropped() -> None:
    env = gym.make("AANN-MNIST-v0", **SMALL, neighborhood_size=4, n_candidates=3)
    assert type(env.unwrapped) is SwapEnv
    for kwargs, match in [
        ({"neighborhood_size": 0}, "neighborhood_size"),
        ({"n_candidates": 0}, "n_candidates"),
        ({"decisions": 3, "budget": 100.0}, "decisions"),
    ]:
        with pytest.raises(ValueError, match=match):
            gym.make("AANN-MNIST-v0", **SMALL, **kwargs)
    with pytest.raises(TypeError):
        gym.make("AANN-MNIST-v0", **SMALL, neighbourhood="typo")


def test_a_sense_step_of_the_core_is_a_step_of_the_layer_env() -> None:
    layer_env = gym.make("AANN-MNIST-v0", **SMALL, action_mode="layer", neighborhood_size=6)
    layer_env.reset(seed=8)
    swap_env = gym.make("AANN-MNIST-v0", **SMALL, max_episode_steps=-1)
    swap_env.reset(seed=8)
    search, committed = swap_env.unwrapped.search, 0.0
    for layer in (2, 0, 2, 1, 2):
        _, reward, _, _, info = layer_env.step(layer)
        step = search.sense_step(layer, 6, "accuracy", "no_worse", commit=swap_env.step)
        assert step.accepted == info["committed"] and np.array_equal(step.swap, info["swap"])
        assert step.evals == 6 and step.cost == info["cost"]
        assert reward == search.accuracy - step.before[0]
        committed += search.cost(layer) if step.accepted else 0.0
    assert swap_env.unwrapped.network == layer_env.unwrapped.network
    assert committed > 0 and swap_env.unwrapped.spent == committed  # commits went through step


def test_the_core_runs_without_an_env() -> None:
    task = get_task("mnist")
    search = FamilySearch.for_task(task, eval_size=100)
    with pytest.raises(gym.error.ResetNeeded):
        search.sample(1)
    rng = np.random.default_rng(3)
    search.start("balanced", 0.8, rng)
    start = search.network.copy()
    step = search.sense_step(2, 8, "loss", "always")
    assert step.accepted and search.network.hamming(start) == 2
    assert step.cost == search.cost(2, 8) == 8.0 and search.scorer.rounds == 1
    scores = search.score_round(search.sample(5, layer=0))
    assert scores.accuracy.shape == (5,) and search.scorer.rounds == 2
    assert search.scoring_state() == {"rounds": 2}


def test_the_env_generator_drives_the_core() -> None:
    env = gym.make("AANN-MNIST-v0", **SMALL)
    env.reset(seed=1)
    u = env.unwrapped
    assert u.search.rng is u.np_random
    u.np_random = np.random.default_rng(9)  # a new generator is the core's too
    assert np.array_equal(u.sample_swaps(4), u.network.sample_swaps(4, np.random.default_rng(9)))


def test_the_schedule_bookkeeping_round_trips() -> None:
    history = StepHistory(3)
    history.record(2, 0.01, 16.0)
    history.record(0, -0.02, 1200.0)
    again = StepHistory(3)
    again.load(history.state())
    assert (
        again.state()
        == history.state()
        == {
            "rewards": [-0.02, 0.01],
            "layer_rewards": [[-0.02], [], [0.01]],
            "layer_spent": [[1200.0], [], [16.0]],
        }
    )
    decision = schedule.Decision(2, 4, start=96.0, before=[0.5, 1.2])
    assert not decision.add(4.0, share=10.0, budget=1000.0)
    assert decision.add(4.0, share=10.0, budget=104.0)  # the budget is reached first
    assert schedule.Decision.from_dict(decision.to_dict()) == decision
    assert decision.to_dict() == {
        "layer": 2,
        "k": 4,
        "start": 96.0,
        "spent": 8.0,
        "before": [0.5, 1.2],
    }


def test_importing_aann_env_loads_no_optional_stack() -> None:
    code = (
        "import sys, aann_env, gymnasium as gym; "
        "gym.make('AANN-MNIST-v0', eval_size=10); "
        "heavy = ('pettingzoo', 'supersuit', 'matplotlib', 'stable_baselines3', 'ray', 'agents'); "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
