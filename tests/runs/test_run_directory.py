"""Tests of aann_env.runs: the lock, the run directory's guard and checkpoints, the history CSV."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from aann_env.core.network import TernaryNetwork
from aann_env.errors import CheckpointError, RunLockedError
from aann_env.runs.directory import RunDirectory
from aann_env.runs.history import CsvLog
from aann_env.runs.lock import LOCK_NAME, RunLock


def test_a_second_lock_is_refused_and_names_the_holder(tmp_path: Path) -> None:
    with RunLock(tmp_path, command="aann search --out here") as lock:
        assert lock.held
        info = json.loads((tmp_path / LOCK_NAME).read_text())
        assert info["pid"] == os.getpid() and info["command"] == "aann search --out here"
        with pytest.raises(
            RunLockedError, match=rf"process {os.getpid()} .*aann search --out here"
        ):
            RunLock(tmp_path).acquire()
    with RunLock(tmp_path) as again:  # released: free again
        assert again.held


def test_a_lock_of_a_killed_process_does_not_block(tmp_path: Path) -> None:
    code = (
        "import sys, time; from aann_env.runs.lock import RunLock; "
        "lock = RunLock(sys.argv[1], 'holder'); lock.acquire(); print('held', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError, match=f"process {proc.pid} .*holder"):
            RunLock(tmp_path).acquire()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    lock = RunLock(tmp_path)
    while not lock.held:  # the kernel drops a dead process's lock
        try:
            lock.acquire()
        except RunLockedError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    lock.release()


def test_the_resume_guard(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path / "run")
    with pytest.raises(CheckpointError, match="nothing to resume"):
        run.read_config()
    run.check_new()
    with pytest.raises(RuntimeError, match="lock"):
        run.write_config({"a": 1})  # writing needs the lock
    with run.lock:
        run.write_config({"a": 1, "b": [2]})
    assert run.read_config() == {"a": 1, "b": [2]}
    with pytest.raises(CheckpointError, match="already holds a run"):
        run.check_new()
    run.check_same({"a": 1}, {"a": 1}, "budgets")
    with pytest.raises(CheckpointError, match=r"another configuration.*\(a; only budgets"):
        run.check_same({"a": 2}, {"a": 1}, "budgets")
    run.config_path.write_text("{not json")
    with pytest.raises(CheckpointError, match="not a valid run config"):
        run.read_config()


def _read(path: Path) -> str:
    text = path.read_text()
    if not text.startswith("ok"):
        raise CheckpointError(f"{path.name} is unreadable")
    return text


def test_checkpoints_keep_the_previous_one_and_fall_back_to_it(tmp_path, capsys) -> None:
    run = RunDirectory(tmp_path, ".txt")
    assert run.load_checkpoint(_read) is None  # none yet
    with run.lock:
        run.save_checkpoint(lambda fh: fh.write(b"ok 1"))
        run.save_checkpoint(lambda fh: fh.write(b"ok 2"))
    assert run.load_checkpoint(_read) == "ok 2"
    assert run.previous_checkpoint_path.read_text() == "ok 1"
    run.checkpoint_path.write_text("torn")
    assert run.load_checkpoint(_read) == "ok 1"
    assert "resuming from checkpoint.prev.txt" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="no usable checkpoint.*belongs elsewhere"):
        run.load_checkpoint(_read, lambda s: "belongs elsewhere")


def test_csv_log_resumes_at_the_checkpointed_row(tmp_path: Path) -> None:
    log = CsvLog(tmp_path / "h.csv", ("a", "b"))
    log.create()
    for i in range(5):
        log.append([i, i * i])
    log.close()
    assert log.rows == 5
    log.resume(3)
    log.append([9, 9])
    log.close()
    assert (tmp_path / "h.csv").read_text().splitlines() == ["a,b", "0,0", "1,1", "2,4", "9,9"]
    with pytest.raises(CheckpointError, match="fewer rows than its checkpoint"):
        CsvLog(tmp_path / "h.csv", ("a", "b")).resume(10)
    with pytest.raises(RuntimeError, match="not open"):
        CsvLog(tmp_path / "other.csv", ("a",)).append([1])


def test_a_snapshot_is_one_call_that_writes_the_checkpoint_and_both_networks(tmp_path) -> None:
    from aann_env.core.network import random_network
    from aann_env.runs.snapshot import Snapshot

    arch = "mnist"
    rng = np.random.default_rng(0)
    first = Snapshot(random_network(arch, 0.8, rng), random_network(arch, 0.8, rng), {"n": 1})
    second = Snapshot(random_network(arch, 0.8, rng), first.best, {"n": 2})
    run = RunDirectory(tmp_path)
    with run.lock:
        run.save_snapshot(first)
        run.save_snapshot(second)
    loaded = run.load_snapshot()
    assert loaded is not None and loaded.state == {"schema": 1, "n": 2}
    assert loaded.current == second.current and loaded.best == second.best
    assert TernaryNetwork.load(tmp_path / "current.npz") == second.current
    assert TernaryNetwork.load(tmp_path / "best.npz") == second.best
    assert Snapshot.read(run.previous_checkpoint_path).state["n"] == 1
    run.checkpoint_path.write_bytes(b"torn")
    assert run.load_snapshot(lambda s: None).state["n"] == 1  # type: ignore[union-attr]
    with pytest.raises(CheckpointError, match="belongs elsewhere"):
        run.load_snapshot(lambda s: "belongs elsewhere")
    with pytest.raises(RuntimeError, match="holding its lock"):
        run.save_snapshot(first)
