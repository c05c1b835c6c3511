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
    resumed = json.loads((out / "summary.json").read_text())
    assert resumed["timesteps"] == 32
    assert resumed["wall_time"] > resumed["wall_time_this_session"]  # both sessions counted
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
