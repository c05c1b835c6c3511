"""The issue-26 chain at a tiny budget: proxy snapshots -> `aann rl train` on the proxy (observation
v2, reference reward, termination at the budget, gamma 1) -> the policy as a search agent, making
the moves it makes in the schedule env -> `aann search --agent rl`."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest

from agents.budget import Budget
from agents.cli import main
from agents.rl.agent import RLSchedule
from agents.rl.policy import load_policy

pytestmark = pytest.mark.usefixtures("mnist_ready")

SIZES = "1.0=1/2,2.0=2/4,fc=16/64"
BUDGET = 3000.0
PROXY = ["--score-on", "train", "--rotate-every", "3", "--selection-size", "300"]


@pytest.fixture(scope="module")
def v2_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rl-v2")
    proxy = ["rl", "proxy", "--seeds", "5", "--step", "1000", "--marks", "2"]
    assert main([*proxy, "--out", str(root / "proxy"), "--snapshots", str(root / "snaps")]) == 0
    args = ["rl", "train", "--neighborhood-sizes", SIZES, "--budget", str(BUDGET)]
    args += ["--decisions", "4", "--n-envs", "1", "--n-steps", "8", "--batch-size", "8"]
    args += ["--eval-size", "200", "--timesteps", "8", "--eval-every", "100", "--no-progress"]
    args += [*PROXY, "--observation-version", "2", "--budget-end", "terminated", "--gamma", "1"]
    args += ["--reward", "reference", "--snapshots", str(root / "snaps")]
    args += ["--reference", str(root / "proxy.csv"), "--out", str(root / "run")]
    assert main(args) == 0
    return root / "run"


def test_a_v2_policy_trains_on_snapshot_starts_and_records_its_proxy(v2_run: Path) -> None:
    cfg = load_policy(v2_run / "policy.zip").config
    assert (cfg.observation_version, cfg.budget_end, cfg.gamma) == (2, "terminated", 1.0)
    assert (cfg.score_on, cfg.rotate_every, cfg.reward) == ("train", 3, "reference")


def test_the_agent_makes_the_moves_of_a_v2_policy_in_the_schedule_env(v2_run: Path) -> None:
    policy = load_policy(v2_run / "policy.zip")
    cfg = policy.config
    scoring = dict(score_on="train", eval_size=200, rotate_every=3, selection_size=300)
    env = gym.make(
        "AANN-MNIST-v0",
        action_mode="schedule",
        criterion=cfg.criterion,
        reward="held_out",
        budget=BUDGET,
        decisions=cfg.decisions,
        neighborhood_sizes=cfg.neighborhood_sizes,
        observation_version=2,
        budget_end="terminated",
        max_episode_steps=-1,
        test_at_episode_end=False,
        **scoring,
    )
    obs, _ = env.reset(seed=11)
    done, spent, actions = False, 0.0, []
    while not done:
        actions.append(policy.act(obs))
        obs, _, terminated, truncated, info = env.step(actions[-1])
        done, spent = terminated or truncated, info["spent"]
    search_env = gym.make("AANN-MNIST-v0", max_episode_steps=-1, **scoring)
    search_env.reset(seed=11)
    agent = RLSchedule(v2_run / "policy.zip")
    agent.run(search_env, Budget(cost=BUDGET))
    assert agent.cost == spent
    assert search_env.unwrapped.network == env.unwrapped.network


def test_aann_search_runs_and_resumes_a_v2_policy(v2_run: Path, tmp_path: Path) -> None:
    base = ["search", "--agent", "rl", "--policy", str(v2_run / "policy.zip")]
    base += ["--eval-size", "200", "--selection-size", "300", "--rotate-every", "3"]
    base += ["--seed", "3", "--no-progress", "--no-plot", "--checkpoint-steps", "50"]
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    assert main([*base, "--budget-cost", str(BUDGET), "--out", str(straight)]) == 0
    assert main([*base, "--budget-cost", str(BUDGET / 3), "--out", str(broken)]) == 0
    assert main(["search", "--out", str(broken), "--resume", "--budget-cost", str(BUDGET)]) == 0
    for name in ("current.npz", "best.npz"):
        assert (straight / name).read_bytes() == (broken / name).read_bytes()
