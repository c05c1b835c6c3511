"""Tests of RL training (agents.rl, ``aann rl train``) at tiny budgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aann_env.errors import RunLockedError
from aann_env.runs.lock import RunLock
from agents.cli import main
from agents.rl import RLConfig, RLTraining

pytestmark = pytest.mark.usefixtures("mnist_ready")

TINY = [
    "--n-envs", "1", "--n-steps", "8", "--batch-size", "8", "--eval-size", "100",
    "--checkpoint-steps", "8", "--eval-every", "8", "--no-progress",
]  # fmt: skip


def test_schedule_training_checkpoints_and_resumes(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    args = ["rl", "train", "--formulation", "schedule", "--neighborhood-sizes", "2,4"]
    args += ["--budget", "400", *TINY, "--out", str(out)]
    assert main([*args, "--timesteps", "16"]) == 0
    assert "policy in" in capsys.readouterr().out
    assert {"config.json", "checkpoint.zip", "policy.zip", "eval.csv"} <= {
        p.name for p in out.iterdir()
    }
    summary = json.loads((out / "summary.json").read_text())
    assert summary["timesteps"] == 16 and summary["command"].startswith("aann rl train")
    rows = (out / "eval.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 2  # header, two evaluations of two held-out seeds
    # Resume to a larger budget: the step count continues from the checkpoint.
    assert main(["rl", "train", "--out", str(out), "--resume", "--timesteps", "32"]) == 0
    assert json.loads((out / "summary.json").read_text())["timesteps"] == 32
    assert len((out / "eval.csv").read_text().splitlines()) == 1 + 4 * 2
    # Other options than the timesteps do not resume.
    assert main(["rl", "train", "--out", str(out), "--resume", "--seed", "3"]) == 2


def test_proposal_training_with_dqn_and_one_writer(tmp_path: Path) -> None:
    cfg = RLConfig(
        formulation="proposal",
        algo="dqn",
        timesteps=24,
        n_envs=1,
        n_steps=8,
        batch_size=8,
        eval_size=100,
        n_candidates=4,
        episode_steps=6,
        checkpoint_steps=8,
        eval_every=12,
        eval_seeds=(900_000,),
    )
    out = tmp_path / "dqn"
    with RunLock(out, "another trainer"), pytest.raises(RunLockedError, match="another trainer"):
        RLTraining(out, cfg).run(progress=False)
    summary = RLTraining(out, cfg).run(progress=False)
    assert summary["algo"] == "dqn" and summary["timesteps"] == 24
    rows = (out / "eval.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[4]) for r in rows] == [6, 6]  # each held-out episode: 6 tries


def test_bad_options_fail_before_anything_is_written(tmp_path: Path) -> None:
    args = ["rl", "train", "--out", str(tmp_path / "x"), "--formulation", "proposal"]
    assert main([*args, "--proposal-layer", "fc9"]) == 2
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="reward"):
        RLConfig(reward="error")


def test_rl_eval_compares_the_policy_with_fixed_schedules_at_equal_cost(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["rl", "train", "--formulation", "schedule", "--neighborhood-sizes", "2,4"]
    assert main([*args, "--budget", "400", *TINY, "--timesteps", "8", "--out", str(out)]) == 0
    table = tmp_path / "table.md"
    eval_args = ["rl", "eval", str(out / "policy.zip"), "--seeds", "900000"]
    eval_args += ["--budget", "300", "--eval-size", "100", "--neighborhood-sizes", "2,4"]
    assert main([*eval_args, "--out", str(table)]) == 0
    rows = table.read_text().splitlines()
    assert [r.split(" | ")[0].strip("| ") for r in rows[2:]] == [
        "policy",
        "fc",
        "alternate",
        "random-block",
        "uniform",
        "adaptive",
    ]
    assert all(r.split(" | ")[1] == "1" for r in rows[2:])  # one start each
    assert main([*eval_args[:-2], "--neighborhood-sizes", "2,4,8"]) == 2  # not the policy's


def test_fixed_schedules_spend_the_same_budget_reproducibly() -> None:
    from agents.rl.evaluate import compare

    first = compare(None, [5], 200.0, eval_size=100, neighborhood_sizes=(2, 4))
    again = compare(None, [5], 200.0, eval_size=100, neighborhood_sizes=(2, 4))
    assert first == again
    for r in first:
        assert r.spent >= 200.0  # every contender ran until the budget was spent
    fc = next(r for r in first if r.name == "fc")
    assert fc.steps == 50 and fc.spent == 200.0  # 4 fc neighbours, 1 unit each
    assert [r.name for r in first] == ["fc", "alternate", "random-block", "uniform", "adaptive"]


def test_the_adaptive_schedule_tries_each_layer_then_follows_gain_per_cost() -> None:
    import numpy as np

    from agents.rl.evaluate import fixed_schedule

    act = fixed_schedule("adaptive", n_layers=3, n_sizes=2, size_index=1, seed=0)
    obs = np.zeros(26, dtype=np.float32)
    assert [act(obs, t) for t in range(3)] == [1, 3, 5]  # layer * 2 + 1, each layer once
    obs[-3:] = (0.1, 0.9, 0.2)
    picks = [act(obs, t) for t in range(3, 43)]
    assert picks.count(3) >= 32 and set(picks) <= {1, 3, 5}  # mostly the best; sometimes random
