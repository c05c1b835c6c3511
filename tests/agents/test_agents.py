from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from agents import SENSE, BaseCallback, Budget, CallbackList, RandomSearch, SimulatedAnnealing

pytestmark = pytest.mark.usefixtures("mnist_ready")


def _env(**kwargs):
    env = gym.make("AANN-MNIST-v0", eval_size=300, max_episode_steps=-1, **kwargs)
    env.reset(seed=0)
    return env


class _Record(BaseCallback):
    """Records one field of every step's info."""

    def __init__(self, field):
        super().__init__()
        self.field = field
        self.values = []

    def _on_step(self, info):
        self.values.append(getattr(info, self.field))
        return True


@pytest.mark.parametrize(
    "agent",
    [
        SENSE(neighborhood_size={"1.0": 2, "2.0": 4, "fc": 32}, schedule="alternate", seed=0),
        SENSE(neighborhood_size=16, schedule="adaptive", seed=0),
        RandomSearch(batch=8, seed=0),
        SimulatedAnnealing(batch=8, seed=0),
    ],
    ids=["sense", "sense-adaptive", "random", "annealing"],
)
def test_every_agent_improves_on_its_start(agent):
    env = _env()
    start = env.unwrapped.accuracy
    best = agent.run(env, Budget(evals=1500))
    assert agent.evals >= 1500 and agent.steps > 0
    assert agent.best_accuracy > start
    assert best.family_signature() == env.unwrapped.network.family_signature()


def test_sense_by_accuracy_never_lowers_it_and_respects_the_budget():
    env = _env()

    watch = _Record("val_accuracy")
    agent = SENSE(neighborhood_size=8, schedule="fc", criterion="accuracy", seed=1)
    agent.run(env, Budget(evals=400), callback=watch)
    assert watch.values == sorted(watch.values)
    assert agent.evals == 400 and watch.n_calls == 50


def test_a_callback_can_stop_the_search():
    class StopAt(BaseCallback):
        def _on_step(self, info):
            return info.step < 3

    class Count(BaseCallback):
        def _on_step(self, info):
            return True

    count = Count()
    agent = SENSE(neighborhood_size=4, schedule="fc", seed=0)
    agent.run(_env(), Budget(evals=10**6), callback=CallbackList([count, StopAt()]))
    assert agent.steps == 3 and count.n_calls == 3


@pytest.mark.parametrize(
    ("kwargs", "check"),
    [
        ({"schedule": "alternate", "block": 2}, lambda ls: ls[:8] == [0, 0, 1, 1, 2, 2, 0, 0]),
        ({"schedule": "fc"}, lambda ls: set(ls) == {2}),
        ({"schedule": "uniform", "layer_weights": [0, 1, 0]}, lambda ls: set(ls) == {1}),
        (
            {"schedule": "random-block", "block": 3},
            lambda ls: (
                all(len(set(ls[i : i + 3])) == 1 for i in range(0, 9, 3))
                and ls[0] != ls[3]
                and ls[3] != ls[6]
            ),
        ),
    ],
    ids=["alternate", "fc", "uniform", "random-block"],
)
def test_sense_schedules(kwargs, check):
    agent = SENSE(neighborhood_size=2, seed=3, **kwargs)
    layers = [agent._layer_for_step(3) for agent.steps in range(9)]
    assert check(layers), layers


def test_bad_agent_arguments_and_envs():
    with pytest.raises(ValueError, match="schedule"):
        SENSE(schedule="zigzag")
    with pytest.raises(ValueError, match="neighbourhood sizes"):
        SENSE(neighborhood_size=0)
    with pytest.raises(ValueError, match="temperatures"):
        SimulatedAnnealing(t_start=0)
    with pytest.raises(ValueError, match="budget"):
        Budget()
    with pytest.raises(ValueError, match="action_mode='swap'"):
        SENSE().run(_env(action_mode="layer"), Budget(evals=10))


def test_annealing_temperature_follows_the_budget():
    agent = SimulatedAnnealing(t_start=1e-2, t_end=1e-4, seed=0)
    agent.budget = Budget(evals=100)
    agent.evals = 0
    assert agent.temperature() == pytest.approx(1e-2)
    agent.evals = 50
    assert agent.temperature() == pytest.approx(1e-3)
    agent.evals = 100
    assert agent.temperature() == pytest.approx(1e-4)


def test_sense_defaults_to_the_best_configuration_with_the_tasks_sizes():
    agent = SENSE(seed=0)
    assert (agent.schedule, agent.criterion) == ("adaptive", "loss")
    env = _env()
    agent.run(env, Budget(evals=1))
    assert agent.evals == 8  # the adaptive schedule tries conv 1.0 first: MNIST's size is 8


def test_state_dict_round_trip_continues_the_same_stream():
    a = SENSE(schedule="uniform", seed=5)
    a.rng.random(7)
    b = SENSE(schedule="uniform", seed=99)
    b.load_state_dict(a.state_dict(), None)
    assert np.array_equal(a.rng.random(5), b.rng.random(5))
    with pytest.raises(ValueError, match="belongs to agent"):
        RandomSearch().load_state_dict(a.state_dict(), None)


def test_adaptive_schedule_tries_every_layer_then_follows_the_gain_per_cost():
    watch = _Record("layer")
    agent = SENSE(
        neighborhood_size={"1.0": 2, "2.0": 4, "fc": 32}, schedule="adaptive", epsilon=0.0, seed=0
    )
    agent.run(_env(), Budget(evals=2000), callback=watch)
    assert watch.values[:3] == ["1.0", "2.0", "fc"]
    # From a random start fc gains the most per unit of cost, so it is chosen most.
    assert watch.values.count("fc") > len(watch.values) / 2
    assert agent.state_dict()["gain_rate"] is not None


HEAVY = ("stable_baselines3", "ray", "supersuit", "matplotlib")
"""Optional stacks that only the features needing them may import."""


def test_importing_agents_and_a_sense_search_import_no_heavy_stack(tmp_path):
    """``import agents``, the ``aann`` parser and a small SENSE search run (what ``aann search
    --agent sense --no-plot`` does) import none of :data:`HEAVY` (the agent registry is lazy)."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "import agents, agents.cli\n"
        f"heavy = {HEAVY!r}\n"
        "assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]\n"
        "from agents.cli import main\n"
        "argv = ['search', '--eval-size', '100', '--selection-size', '100', '--budget-evals', "
        "'40', '--neighborhood-size', '8', '--no-progress', '--no-plot', '--out', sys.argv[1]]\n"
        "assert main(argv) == 0\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "run")],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_registry_loads_an_agent_by_name_only_when_asked():
    from agents.registry import AGENTS, agent_class, make_agent

    assert set(AGENTS) == {"sense", "random", "annealing", "rl"}
    assert agent_class("random") is RandomSearch
    assert isinstance(make_agent("sense", neighborhood_size=8), SENSE)
    with pytest.raises(ValueError, match="unknown agent 'hillclimb'"):
        agent_class("hillclimb")


def test_handoff_searches_fc_until_its_gain_rate_drops_then_adapts():
    env = _env()

    sizes = {"1.0": 2, "2.0": 4, "fc": 16}
    never = SENSE(neighborhood_size=sizes, schedule="handoff", handoff_rate=0.0, seed=2)
    seen = _Record("layer")
    never.run(env, Budget(evals=320), callback=seen)
    assert set(seen.values) == {"fc"}  # a rate never falls below 0 under no_worse
    env = _env()
    at_once = SENSE(neighborhood_size=sizes, schedule="handoff", handoff_rate=1.0, seed=2)
    seen = _Record("layer")
    at_once.run(env, Budget(evals=400), callback=seen)
    assert seen.values[:3] == ["fc", "1.0", "2.0"]  # one fc step, then adaptive tries the rest
    state = at_once.state_dict()
    assert state["handed_off"] is True
    again = SENSE(neighborhood_size=sizes, schedule="handoff", handoff_rate=1.0)
    again.load_state_dict(state, at_once.best_network)
    assert again._handed_off and again._gain_rate == at_once._gain_rate
    with pytest.raises(ValueError, match="handoff_rate"):
        SENSE(schedule="handoff", handoff_rate=-1.0)
