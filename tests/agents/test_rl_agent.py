"""Tests of a trained schedule policy as a search agent (``aann search --agent rl``), policy
files (provenance, hash check) and ``aann rl eval``, at tiny budgets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import agents.rl.policy as policy_module
from agents.budget import Budget
from agents.cli import main
from agents.presets import DEFAULT
from agents.rl.agent import NOMINAL_RATE, RLSchedule
from agents.rl.evaluate import (
    Result,
    compare,
    protocol_kwargs,
    read_csv,
    settings_path,
    timeline_path,
)
from agents.rl.paired import paired
from agents.rl.policy import PolicyError, load_policy
from agents.rl.timeline import cost_share, parse_share, read_segments

pytestmark = pytest.mark.usefixtures("mnist_ready")

SIZES = "1.0=1/2,2.0=2/4,fc=4/16"
BUDGET = 3000.0


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A schedule policy trained for a few steps, with its provenance."""
    out = tmp_path_factory.mktemp("rl") / "run"
    args = ["rl", "train", "--formulation", "schedule", "--neighborhood-sizes", SIZES]
    args += ["--budget", "2000,4000", "--decisions", "6", "--n-envs", "1", "--n-steps", "8"]
    args += ["--batch-size", "8", "--eval-size", "100", "--timesteps", "8", "--no-progress"]
    assert main([*args, "--eval-every", "100", "--out", str(out)]) == 0
    return out / "policy.zip"


def test_training_writes_the_policy_with_its_provenance(policy_file: Path) -> None:
    record = json.loads(policy_file.with_suffix(".json").read_text())
    assert record["command"].startswith("aann rl train") and record["seed"] == 0
    assert record["timesteps"] == 8 and record["stable_baselines3"] and record["torch"]
    assert record["config"]["decisions"] == 6
    assert record["sha256"] == policy_module.sha256(policy_file)
    policy = load_policy(policy_file)
    assert policy.config.neighborhood_sizes == {"1.0": (1, 2), "2.0": (2, 4), "fc": (4, 16)}


def test_the_agent_makes_the_moves_of_the_policy_in_the_schedule_env(policy_file: Path) -> None:
    policy = load_policy(policy_file)
    cfg = policy.config
    env = gym.make(
        "AANN-MNIST-v0",
        action_mode="schedule",
        eval_size=100,
        criterion=cfg.criterion,
        reward=cfg.reward,
        budget=BUDGET,
        decisions=cfg.decisions,
        neighborhood_sizes=cfg.neighborhood_sizes,
        max_episode_steps=-1,
        test_at_episode_end=False,
    )
    obs, _ = env.reset(seed=11)
    done, spent = False, 0.0
    while not done:
        obs, _, terminated, truncated, info = env.step(policy.act(obs))
        done, spent = terminated or truncated, info["spent"]
    search_env = gym.make("AANN-MNIST-v0", eval_size=100, max_episode_steps=-1)
    search_env.reset(seed=11)
    agent = RLSchedule(policy_file)
    agent.run(search_env, Budget(cost=BUDGET))
    assert agent.cost == spent
    assert search_env.unwrapped.network == env.unwrapped.network


def test_aann_search_with_the_rl_agent_resumes_the_same_trajectory(
    policy_file: Path, tmp_path: Path
) -> None:
    base = ["search", "--agent", "rl", "--policy", str(policy_file), "--eval-size", "100"]
    base += ["--selection-size", "100"]
    base += ["--seed", "3", "--no-progress", "--no-plot", "--checkpoint-steps", "100"]
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    budget = BUDGET / 2
    assert main([*base, "--budget-cost", str(budget), "--out", str(straight)]) == 0
    assert main([*base, "--budget-cost", str(budget / 3), "--out", str(broken)]) == 0
    assert main(["search", "--out", str(broken), "--resume", "--budget-cost", str(budget)]) == 0
    for name in ("current.npz", "best.npz", "history.csv"):
        a, b = (straight / name).read_bytes(), (broken / name).read_bytes()
        if name == "history.csv":  # wall times (and when tests ran) differ; the moves do not
            a, b = (_moves(x.decode()) for x in (a, b))
        assert a == b, name
    no_cost = [*base[:5], "--budget-evals", "10", "--out", str(tmp_path / "x")]
    assert main(no_cost) == 2 and not (tmp_path / "x").exists()  # needs a cost or time budget
    timed = [*base, "--budget-seconds", "3", "--out", str(tmp_path / "timed")]
    assert main(timed) == 0  # a wall-time budget: the policy sees the time spent as its fraction
    rows = (tmp_path / "timed" / "history.csv").read_text().splitlines()
    assert len(rows) > 2


def test_a_wall_time_budget_is_turned_into_cost_at_the_measured_rate(policy_file: Path) -> None:
    agent = RLSchedule(policy_file)
    agent.budget = Budget(seconds=100.0)
    agent.elapsed, agent.cost = 0.0, 0.0
    # no rate measured yet: the nominal one (the clock has run since the agent was built)
    assert agent.budget_cost() == pytest.approx(100.0 * NOMINAL_RATE, rel=0.05)
    agent.elapsed, agent.cost = 40.0, 20_000.0  # 500 units a second so far
    assert agent.budget_cost() == pytest.approx(50_000.0, rel=0.05)


def _moves(text: str) -> list[list[str]]:
    rows = [line.split(",") for line in text.splitlines()]
    drop = {rows[0].index("wall_time"), rows[0].index("test_accuracy")}
    return [[v for i, v in enumerate(r) if i not in drop] for r in rows]


def test_policy_files_are_checked_before_loading(
    policy_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = tmp_path / "bare.zip"
    shutil.copy(policy_file, bare)
    with pytest.raises(PolicyError, match="no provenance"):
        load_policy(bare)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(PolicyError, match="not a readable model"):
        load_policy(broken)
    with pytest.raises(PolicyError, match="no policy file"):
        load_policy(tmp_path / "missing.zip")
    shipped = tmp_path / "shipped.zip"
    shutil.copy(policy_file, shipped)
    shutil.copy(policy_file.with_suffix(".json"), shipped.with_suffix(".json"))
    monkeypatch.setattr(policy_module, "SHIPPED", shipped)
    monkeypatch.setattr(policy_module, "SHIPPED_SHA256", "0" * 64)
    with pytest.raises(PolicyError, match="does not match its recorded SHA-256"):
        load_policy("shipped")
    monkeypatch.setattr(policy_module, "SHIPPED_SHA256", policy_module.sha256(shipped))
    assert load_policy("shipped").config.decisions == 6


def test_the_shipped_policy_loads_and_matches_its_hash() -> None:
    policy = load_policy("shipped")
    assert policy.config.formulation == "schedule"
    assert policy.provenance["sha256"] == policy_module.SHIPPED_SHA256
    assert policy.provenance["command"].startswith("aann rl train")
    obs = np.zeros(policy.model.observation_space.shape, dtype=np.float32)
    assert 0 <= policy.act(obs) < policy.model.action_space.n


def test_rl_eval_runs_every_contender_at_equal_cost(policy_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    args = ["rl", "eval", str(policy_file), "--seeds", "900000", "--budget", "300,500"]
    args += ["--eval-size", "100", "--selection-size", "200"]
    assert main([*args, "--out", str(out)]) == 0
    results = read_csv(out)
    assert all(0 < r.best_test_accuracy < 1 and r.best_val_accuracy > 0 for r in results)
    names = ["policy", "alternate", "fc", "random-block", "uniform", "adaptive", "handoff"]
    assert [r.name for r in results] == names * 2
    for r in results:
        assert r.budget <= r.cost < r.budget + 32 * 1200  # ends at the first step past it
    assert out.with_suffix(".md").is_file() and out.with_suffix(".png").is_file()
    merged = tmp_path / "merged.csv"
    assert main(["rl", "eval", "--results", str(out), str(out), "--out", str(merged)]) == 0
    assert len(read_csv(merged)) == 28
    assert len(read_segments(timeline_path(merged))) == 2 * len(read_segments(timeline_path(out)))
    assert settings_path(merged).read_text() == settings_path(out).read_text()
    assert main(["rl", "eval", "--results", str(out), "--out", str(out)]) == 2  # would erase it
    before = out.read_text()
    assert main([*args, "--out", str(out)]) == 0  # the same command again: nothing left to run
    assert out.read_text() == before
    # Resuming under other settings would mix incomparable rows: refused, nothing written.
    other = [a if a != "200" else "300" for a in args]
    assert main([*other, "--out", str(out)]) == 2
    assert main([*args[:-4], "--out", str(out)]) == 2  # the protocol's default image counts
    assert out.read_text() == before
    with pytest.raises(ValueError, match="selection_size"):
        compare(policy_file, [900000], [300], eval_size=100, selection_size=300, log=out)
    assert main(["rl", "eval", "--budget", "100", "--contenders", "fc,greedy"]) == 2
    assert main(["rl", "eval", "--budget", "100", "--contenders", "fc:1e-6"]) == 2
    assert main(["rl", "eval", "--budget", "100", "--contenders", "rule:x"]) == 2


def test_rl_eval_runs_the_hand_rule_and_a_tuned_handoff_with_given_sizes(tmp_path: Path) -> None:
    out = tmp_path / "hand.csv"
    args = ["rl", "eval", "--seeds", "900000", "--budget", "400", "--eval-size", "100"]
    args += ["--selection-size", "200", "--contenders", "rule:1e-7,handoff:1e-5,fc"]
    assert main([*args, "--sizes", "fc=64", "--out", str(out)]) == 0
    rule, handoff, fc = read_csv(out)
    assert (rule.name, handoff.name, fc.name) == ("rule:1e-7", "handoff:1e-5", "fc")
    assert fc.steps == 7 and fc.cost == 448.0  # neighbourhoods of 64 until 400 are spent
    assert rule.cost >= 400 and rule.steps >= 1
    assert parse_share(fc.cost_share) == {"fc": 1.0}
    segments = read_segments(timeline_path(out))
    for r in (rule, handoff, fc):  # the timeline covers the search, and gives its cost share
        mine = [s for s in segments if s.name == r.name]
        assert mine[0].start == 0.0 and mine[-1].end == r.cost
        assert sum(s.steps for s in mine) == r.steps
        assert parse_share(r.cost_share) == pytest.approx(
            {k: round(v, 3) for k, v in cost_share(mine).items()}, abs=1e-9
        )
    assert (tmp_path / "hand.timeline-400.png").is_file()
    text = out.with_suffix(".md").read_text()
    assert "| 400 | rule:1e-7 | fc | 1 |" in text  # the first contender against the others


def test_paired_differences_and_their_interval() -> None:
    rows = [
        Result(name, seed, 10.0, 0, 0, 1, 10.0, 1.0, 0, acc)
        for name, seed, acc in [
            ("a", 1, 0.90),
            ("a", 2, 0.92),
            ("a", 3, 0.94),
            ("b", 1, 0.89),
            ("b", 2, 0.90),
            ("b", 3, 0.91),
        ]
    ]
    (p,) = paired(rows, "a")
    assert (p.other, p.seeds, p.ahead) == ("b", 3, 3)
    assert p.mean == pytest.approx(0.02)
    half = 4.302652729911275 * 0.01 / np.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert (p.low, p.high) == pytest.approx((0.02 - half, 0.02 + half))


def test_the_comparison_is_reproducible() -> None:
    kwargs = dict(eval_size=100, selection_size=200, contenders=["fc", "uniform"])
    first = compare(None, [5], [200.0], **kwargs)
    again = compare(None, [5], [200.0], **kwargs)
    strip = [(r.name, r.val_accuracy, r.test_accuracy, r.steps, r.cost) for r in first]
    assert strip == [(r.name, r.val_accuracy, r.test_accuracy, r.steps, r.cost) for r in again]
    search = protocol_kwargs("search")
    assert search == {k: DEFAULT[k] for k in search} and search["score_on"] == "train"
    assert protocol_kwargs("paper", 100, 200) == {"score_on": "valid", "eval_size": 100}
    with pytest.raises(ValueError, match="protocol"):
        compare(None, [5], [200.0], protocol="mine")
    fc = first[0]
    assert fc.steps == 1 and fc.cost == 256.0  # one fc neighbourhood of 256 (1 unit each)


def test_results_settings_bind_the_policy_hash_only_where_the_policy_ran(tmp_path: Path) -> None:
    from agents.rl.evaluate import check_settings

    log = tmp_path / "r.csv"
    base = {"task": "mnist", "scoring": {"eval_size": 100}, "policy_sha256": None}
    check_settings(log, base)  # SENSE contenders only: recorded, not bound to a policy
    check_settings(log, {**base, "policy_sha256": "a" * 64})  # the policy joins: now bound
    assert json.loads(settings_path(log).read_text())["policy_sha256"] == "a" * 64
    check_settings(log, base)  # SENSE contenders again: still fine
    with pytest.raises(ValueError, match="policy_sha256"):
        check_settings(log, {**base, "policy_sha256": "b" * 64})
    with pytest.raises(ValueError, match="scoring"):
        check_settings(log, {**base, "scoring": {"eval_size": 200}})
    settings_path(log).write_text("{broken")
    with pytest.raises(ValueError, match="not valid JSON"):
        check_settings(log, base)
