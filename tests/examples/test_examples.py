"""Every example's ``run_*()`` at a tiny budget, checked against what the env reports afresh."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import gymnasium as gym
import pytest

import aann_env  # noqa: F401  (registers the env ids)
from aann_env.core.forward import evaluate
from aann_env.core.network import TernaryNetwork
from aann_env.nets import load_psiren
from aann_env.tasks import get_task

pytestmark = pytest.mark.usefixtures("mnist_ready")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EVAL_SIZE = 500


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` (a script folder, not a package)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def env() -> Iterator[gym.Env]:
    """A fresh env to check the examples' figures with (same evaluation subset)."""
    env = gym.make("AANN-MNIST-v0", eval_size=EVAL_SIZE, max_episode_steps=-1)
    yield env
    env.close()


def test_custom_agent_climbs_within_the_family(env, capsys):
    result = load_example("custom_agent").run_custom_agent(steps=10, k=32, eval_size=EVAL_SIZE)
    assert "step   10: validation accuracy" in capsys.readouterr().out
    assert result["evals"] == 10 * 32
    assert result["accuracy"] >= result["start_accuracy"]  # hill climbing never goes down
    net, start = result["network"], result["start"]
    assert net.family_signature() == start.family_signature()
    assert 0 < net.hamming(start) <= 2 * result["committed"]

    env.reset(seed=0)  # the example's start is the env's seeded random start
    assert env.unwrapped.network == start
    _, info = env.reset(options={"init": net})
    assert info["accuracy"] == result["accuracy"]


def test_sense_agent_saves_the_best_network(env, tmp_path, capsys):
    out = tmp_path / "best.npz"
    result = load_example("sense_agent").run_sense_agent(
        budget_evals=400,
        neighborhood_size={"1.0": 2, "2.0": 8, "fc": 64},
        eval_size=EVAL_SIZE,
        out=out,
        print_every=1,
    )
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("step")]
    assert len(printed) == result["steps"]  # the callback ran after every step
    assert result["evals"] >= 400
    assert result["path"] == out
    assert TernaryNetwork.load(out) == result["network"]

    env.reset(seed=0)
    start = env.unwrapped.network.copy()
    assert result["network"].family_signature() == start.family_signature()
    _, info = env.reset(options={"init": str(out)})
    assert info["accuracy"] == result["val_accuracy"] >= result["start_accuracy"]
    assert env.unwrapped.test_accuracy() == result["test_accuracy"]


def test_from_psiren_starts_from_the_shipped_net(env):
    result = load_example("from_psiren").run_from_psiren(
        neighborhoods=5, neighborhood_size=64, eval_size=EVAL_SIZE
    )
    shipped = load_psiren("mnist", 0.9)
    assert result["start"] == shipped
    # The env started from the shipped net: its test accuracy is the one `aann train` recorded.
    assert result["start_test_accuracy"] == shipped.provenance["test_accuracy"]
    assert result["accuracy"] >= result["start_accuracy"]
    assert result["total_reward"] == pytest.approx(result["accuracy"] - result["start_accuracy"])
    net = result["network"]
    assert net.family_signature() == shipped.family_signature()
    assert net.hamming(shipped) <= 2 * result["committed"]

    _, info = env.reset(options={"init": net})
    assert info["accuracy"] == result["accuracy"]


def test_schedule_ppo_trains_and_compares_at_equal_cost():
    example = load_example("rl_schedule_ppo")
    out = example.run_schedule_ppo(
        total_steps=16,
        num_steps=4,
        eval_size=100,
        budget_low=2000.0,
        budget_high=4000.0,
        decisions=4,
        eval_budget=3000.0,
        eval_seeds=(5,),
        test_eval_size=200,
    )
    assert out["episode_returns"], "training finished no episode"
    assert set(out["results"]) == {"ppo", "fc", "adaptive"}
    for rows in out["results"].values():
        assert len(rows) == 1 and all(0.0 <= a <= 1.0 for a in rows[0])


def test_proposal_policy_and_uniform_spend_the_same_tries():
    example = load_example("rl_proposal")
    out = example.run_proposal(
        timesteps=64, n_candidates=4, tries=8, eval_size=100, test_eval_size=200, seeds=(5, 6)
    )
    assert set(out["results"]) == {"ppo", "uniform"}
    env = example.make_env(4, 8, 200)
    calls = []
    example.episode(env, lambda obs: calls.append(1) or 0, 5)
    assert len(calls) == 8  # an episode is exactly `tries` proposals, one evaluation each
    for rows in out["results"].values():
        assert len(rows) == 2


def test_analysis_family_of_best_neighbours():
    result = load_example("analysis").run_analysis(
        neighbours={"2.0": 6, "fc": 40}, members=3, eval_size=EVAL_SIZE
    )
    shipped, hood = load_psiren("mnist", 0.9), result["neighbours"]
    valid = get_task("mnist").split("valid").subset(EVAL_SIZE)
    test = get_task("mnist").split("test").subset(EVAL_SIZE)
    assert hood.base_accuracy == evaluate(shipped, valid.pixels, valid.labels).accuracy
    best = max(float(a) for s in hood.layers for a in s.accuracy)
    family = result["family"]
    # The first member is the best neighbour scored, each one swap from the shipped net.
    assert evaluate(family[0], valid.pixels, valid.labels).accuracy == best
    for member in family:
        assert member.family_signature() == shipped.family_signature()
        assert member.hamming(shipped) == 2
    tests = [evaluate(m, test.pixels, test.labels).accuracy for m in family]
    assert result["analysis"].accuracy["test"].tolist() == tests
    rows = {(r["size"], r["rule"]): r for r in result["curve"].rows}
    assert rows[1, "vote"]["ranked"] == tests[0]
    assert set(rows) == {(s, rule) for s in (1, 2, 3) for rule in ("vote", "logits")}


def test_layer_team_trains_a_shared_policy_and_compares_at_equal_cost(tmp_path):
    import numpy as np

    from agents.rl.team import make_team_vec_env

    out = load_example("rl_layer_team").run_layer_team(
        out=str(tmp_path),
        timesteps=24,
        n_steps=4,
        batch_size=12,
        eval_size=100,
        max_cycles=3,
        budget=6000.0,
        eval_seeds=(5,),
        test_eval_size=200,
        test_size=200,
    )
    assert out["episode_returns"], "training finished no episode"
    results = out["results"]
    assert set(results) == {"team-ppo", "team-random", "adaptive", "fc", "single-ppo"}
    for rows in results.values():
        assert len(rows) == 1 and all(0.0 <= a <= 1.0 for a in rows[0][:2])
    team_cost = results["team-ppo"][0][2]
    for name in ("adaptive", "fc", "single-ppo"):  # the single agent spends what the team spent
        assert results[name][0][2] >= max(team_cost, 1.0)
    assert (tmp_path / "policy.zip").is_file()
    table = (tmp_path / "results.md").read_text()
    assert table.count("\n") == 2 + len(results) and "| single-ppo |" in table
    with (tmp_path / "results.csv").open() as fh:
        assert len(fh.readlines()) == 1 + len(results)
    # The SB3 route seeds its envs: copy i of the team starts from seed + i.
    first = []
    for _ in range(2):
        venv = make_team_vec_env(2, eval_size=100, neighborhood_sizes=(2, 4), max_cycles=2)
        venv.seed(3)
        first.append(venv.reset())
        venv.close()
    assert first[0].shape == (2 * 3, 13) and np.array_equal(first[0], first[1])
    assert not np.array_equal(first[0][:3, 6:], first[0][3:, 6:])
