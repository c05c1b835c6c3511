"""Tests of aann_env.runs.history: reading a search run's history for the plots."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from aann_env.errors import CheckpointError
from aann_env.runs.history import SEARCH_COLUMNS as COLUMNS
from aann_env.runs.history import load_history
from support.run_files import LAYERS, history_rows, write_run


def test_load_history_types(tmp_path: Path) -> None:
    history = load_history(write_run(tmp_path, agent="annealing"))
    assert history.name == "run-a"
    assert history.agent == "annealing"
    assert history.config["sparsity"] == 0.8
    assert len(history.layer) == history.step.size == 31
    assert history.step.dtype == np.int64 and history.evals.dtype == np.int64
    assert history.step[0] == 0 and history.step[-1] == 30 and history.evals[-1] == 1200
    assert history.wall_time.dtype == np.float64 and history.wall_time[-1] == 60.0
    assert history.committed.dtype == np.bool_
    assert history.committed[:3].tolist() == [False, True, False]
    assert history.layer[0] == ""
    assert history.layer[1] == "1.0" and "2.0" in history.layer and history.layer[-1] == "fc"
    assert all(isinstance(name, str) for name in history.layer)
    assert history.test_accuracy.dtype == np.float64
    measured = np.flatnonzero(np.isfinite(history.test_accuracy))
    assert measured.tolist() == [0, 10, 20, 30]
    assert math.isnan(history.test_accuracy[1])
    assert history.val_accuracy[-1] == pytest.approx(0.9)
    assert history.val_loss[-1] == pytest.approx(1.4)
    assert history.best_val_accuracy[-1] == pytest.approx(0.9)


def test_load_history_reordered_columns_and_blank_lines(tmp_path: Path) -> None:
    header = "layer,step,evals,wall_time,committed,val_accuracy,val_loss,test_accuracy,best_val_accuracy,extra"
    rows = ["2.0,1,10,0.5,1,0.5,1.0,,0.5,x", "", "fc,2,20,1.0,0,0.5,1.0,0.45,0.5,y"]
    history = load_history(write_run(tmp_path, rows=rows, header=header))
    assert history.layer == ["2.0", "fc"]
    assert history.evals.tolist() == [10, 20]
    assert math.isnan(history.test_accuracy[0]) and history.test_accuracy[1] == 0.45


def test_missing_history_file(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path)
    (run_dir / "history.csv").unlink()
    with pytest.raises(CheckpointError, match=r"history\.csv: file not found"):
        load_history(run_dir)


def test_missing_column(tmp_path: Path) -> None:
    header = ",".join(name for name in COLUMNS if name != "val_loss")
    rows = ["1,10,0.5,fc,1,0.5,,0.5"]
    with pytest.raises(CheckpointError, match=r"history\.csv: missing column\(s\) val_loss"):
        load_history(write_run(tmp_path, rows=rows, header=header))


def test_malformed_number(tmp_path: Path) -> None:
    rows = history_rows(5)
    rows[3] = rows[3].replace(",0.", ",zero.", 1)
    with pytest.raises(
        CheckpointError, match=r"history\.csv: line 5, column \w+: 'zero\.\d+' is not a number"
    ):
        load_history(write_run(tmp_path, rows=rows))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("1.5,10,0.5,fc,1,0.5,1.0,,0.5", r"line 2, column step: '1\.5' is not an integer"),
        ("1,10,0.5,fc,yes,0.5,1.0,,0.5", r"line 2, column committed: 'yes' is not 0 or 1"),
        ("1,10,0.5,fc,1,0.5,1.0,,", r"line 2, column best_val_accuracy: '' is not a number"),
        ("1,10,0.5,fc,1,0.5", r"line 2 has 6 fields but the header has 9"),
    ],
)
def test_bad_cells(tmp_path: Path, row: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        load_history(write_run(tmp_path, rows=[row]))


@pytest.mark.parametrize(
    ("config_text", "message"),
    [
        ("{not json", r"config\.json: cannot be read as JSON"),
        ("[1, 2]", r"config\.json: expected a JSON object, found list"),
        ('{"task": "mnist"}', r'config\.json: has no "agent"'),
    ],
)
def test_bad_config(tmp_path: Path, config_text: str, message: str) -> None:
    run_dir = write_run(tmp_path)
    (run_dir / "config.json").write_text(config_text)
    with pytest.raises(CheckpointError, match=message):
        load_history(run_dir)


def test_empty_history(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path)
    (run_dir / "history.csv").write_text("")
    with pytest.raises(CheckpointError, match=r"history\.csv: is empty"):
        load_history(run_dir)
