from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aann_env.core.network import TernaryNetwork
from aann_env.errors import CheckpointError
from agents.run import SearchConfig, SearchRun, Start
from agents.run.config import RESUMABLE_FIELDS, UNKEYED_FIELDS

pytestmark = pytest.mark.usefixtures("mnist_ready")

ROOT = Path(__file__).resolve().parents[2]
ARGS = [
    "--eval-size",
    "300",
    "--budget-evals",
    "500",
    "--seed",
    "4",
    "--checkpoint-steps",
    "7",
    "--no-progress",
    "--no-plot",
]
ARGS += ["--neighborhood-size", "fc=16,2.0=4,1.0=2", "--schedule", "alternate", "--block", "2"]
ARGS += ["--score-on", "train", "--rotate-every", "7", "--selection-size", "250"]  # batches move


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "agents.cli", "search", *args]


def _rows(run: Path) -> list[tuple]:
    """History rows without the columns that depend on timing (wall time, test accuracy)."""
    with open(run / "history.csv") as fh:
        return [
            (r["step"], r["evals"], r["layer"], r["committed"], r["val_accuracy"], r["val_loss"])
            + (r["score_accuracy"], r["score_loss"])
            for r in csv.DictReader(fh)
        ]


def test_a_killed_run_resumes_the_very_same_trajectory(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(
        _cli(*ARGS, "--out", str(whole)), check=True, env=env, cwd=ROOT, capture_output=True
    )

    proc = subprocess.Popen(
        _cli(*ARGS, "--out", str(killed)),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = (killed / "checkpoint.prev.npz").exists() and len(
            (killed / "history.csv").read_text().splitlines()
        ) > 14
        if done or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed; raise its budget"
    # While it lives (paused here, so it cannot finish meanwhile), a second writer is refused at
    # once with an error that names it, and writes nothing.
    os.kill(proc.pid, signal.SIGSTOP)
    rows_before = (killed / "history.csv").read_text()
    second = subprocess.run(
        _cli("--out", str(killed), "--resume", "--no-progress", "--no-plot"),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert second.returncode == 2, second.stderr
    assert f"being written by process {proc.pid}" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert (killed / "history.csv").read_text() == rows_before
    # Killed, it leaves its lock file behind, and the lock does not block the resume below.
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (killed / "run.lock").exists()
    assert not (killed / "summary.json").exists()

    resumed = subprocess.run(
        _cli("--out", str(killed), "--resume", "--no-progress", "--no-plot"),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert _rows(killed) == _rows(whole)
    for name in ("best.npz", "current.npz"):
        assert TernaryNetwork.load(killed / name) == TernaryNetwork.load(whole / name)


def _config(**kwargs) -> SearchConfig:
    base = {
        "eval_size": 200,
        "selection_size": 200,
        "budget_evals": 300,
        "seed": 1,
        "checkpoint_steps": 6,
        "agent_kwargs": {"neighborhood_size": 16, "schedule": "fc"},
    }
    return SearchConfig(**{**base, **kwargs})


def test_resume_falls_back_to_the_previous_checkpoint_and_reports_corruption(tmp_path, capsys):
    run_dir = tmp_path / "run"
    SearchRun(run_dir, _config()).run(progress=False)
    expected = _rows(run_dir)
    (run_dir / "checkpoint.npz").write_bytes(b"garbage")
    SearchRun(run_dir, resume=True).run(progress=False)
    assert "resuming from checkpoint.prev.npz" in capsys.readouterr().err  # a warning
    assert _rows(run_dir) == expected
    (run_dir / "checkpoint.npz").write_bytes(b"garbage")
    data = (run_dir / "checkpoint.prev.npz").read_bytes()
    (run_dir / "checkpoint.prev.npz").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="no usable checkpoint"):
        SearchRun(run_dir, resume=True).run(progress=False)


def test_run_directory_errors(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(CheckpointError, match="nothing to resume"):
        SearchRun(run_dir, resume=True)
    SearchRun(run_dir, _config()).run(progress=False)
    with pytest.raises(CheckpointError, match="already holds a run"):
        SearchRun(run_dir, _config())
    with pytest.raises(CheckpointError, match="differ"):
        SearchRun(run_dir, _config(seed=2), resume=True)
    # A larger budget extends a finished run.
    SearchRun(run_dir, _config(budget_evals=600), resume=True).run(progress=False)
    assert int(_rows(run_dir)[-1][1]) >= 600
    with pytest.raises(ValueError, match="unknown agent"):
        SearchConfig(agent="hillclimb")


def test_trajectory_keys_are_those_the_old_runner_stored():
    """Recorded with agents/runner.py before the run package: old run dirs match their key."""
    legacy = json.loads(
        (ROOT / "tests" / "data" / "legacy" / "search-run" / "config.json").read_text()
    )
    keys = {
        "0989bf7b10a2dbac1c4ed231308dba5c3d160ceb61f817eb44640a888dca571f": SearchConfig(
            budget_evals=5
        ),
        "08d633bd4981b6e6b7ac60ef555015a1d09c8237ac18bd15544b518b4413bd7d": (
            SearchConfig.from_dict(legacy)
        ),
        "8c21b87f5c8962df399662d2eeb4f1fd3a742ea66402f7906c755db3778e1db8": SearchConfig(
            agent="random", init="x/../a.npz", budget_evals=5, rotate_every=3, workers=2
        ),
    }
    for key, config in keys.items():
        assert config.trajectory_key() == key


def test_the_start_grammar_is_parsed_once():
    assert Start.parse("psiren") == Start("psiren") and Start.parse("random").path is None
    start = SearchConfig(budget_evals=5, init="nets/./a.npz").start
    assert (start.kind, start.reset_option()) == ("file", "nets/a.npz")
    with pytest.raises(ValueError, match="neither 'random', 'balanced', 'psiren' nor a network"):
        start.check("mnist", 0.8)
    with pytest.raises(ValueError, match="p-SIREN|ships"):
        Start.parse("psiren").check("mnist", 0.123)


def test_a_resume_changes_only_the_resumable_fields():
    config = _config()
    resumed = config.resumed(budget_evals=900, budget_seconds=None, workers=3)
    assert (resumed.budget_evals, resumed.budget_seconds, resumed.workers) == (900, None, 3)
    assert resumed.trajectory_key() == config.trajectory_key()
    assert config.resumed() is config
    with pytest.raises(ValueError, match="may change only"):
        config.resumed(seed=3)
    assert set(RESUMABLE_FIELDS) <= set(UNKEYED_FIELDS)
