"""Tests of aann_env.viz.plots: reading run histories and drawing the run plots."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.image import imread

from aann_env.errors import CheckpointError
from aann_env.runs.history import SEARCH_COLUMNS as COLUMNS
from aann_env.runs.history import load_history
from aann_env.viz import plot_all, plot_climb, plot_runs

LAYERS = ["1.0", "2.0", "fc"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def history_rows(
    n_steps: int = 30, evals_per_step: int = 40, seconds_per_step: float = 2.0
) -> list[str]:
    """CSV data rows: a step-0 row, then steps over the three layers, test accuracy every 10th."""
    rows = ["0,0,0.0,,0,0.1,2.3,0.098,0.1"]
    for step in range(1, n_steps + 1):
        layer = LAYERS[(step - 1) * len(LAYERS) // n_steps]
        val = 0.1 + 0.8 * step / n_steps
        test = f"{val - 0.02:.4f}" if step % 10 == 0 else ""
        evals, wall = step * evals_per_step, step * seconds_per_step
        rows.append(
            f"{step},{evals},{wall},{layer},{step % 2},{val:.4f},{2.3 - val:.4f},{test},{val:.4f}"
        )
    return rows


def write_run(
    root: Path,
    name: str = "run-a",
    agent: str = "sense",
    rows: list[str] | None = None,
    header: str = ",".join(COLUMNS),
    **config: Any,
) -> Path:
    """Write a synthetic run directory with config.json and history.csv; return its path."""
    run_dir = root / name
    run_dir.mkdir(parents=True)
    settings = {"agent": agent, "task": "mnist", "seed": 0, "sparsity": 0.8, "layer_names": LAYERS}
    (run_dir / "config.json").write_text(json.dumps({**settings, **config}))
    lines = [header, *(history_rows() if rows is None else rows)]
    (run_dir / "history.csv").write_text("\n".join(lines) + "\n")
    return run_dir


def assert_png(path: Path) -> None:
    """The file is a non-empty PNG that is not a blank image."""
    assert path.is_file()
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert float(np.std(image)) > 0


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


def test_plot_climb_writes_png(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path)
    out = plot_climb(run_dir, tmp_path / "figs" / "climb.png")
    assert out == tmp_path / "figs" / "climb.png"
    assert_png(out)


def test_plot_runs_two_runs(tmp_path: Path) -> None:
    first = write_run(tmp_path, "sense-0")
    # A long run: evals past 1000 (log axis) and wall time past 600 s (minutes axis).
    second = write_run(tmp_path, "random-0", agent="random", rows=history_rows(50, 400, 30.0))
    out = plot_runs([first, str(second)], tmp_path / "nested" / "dir" / "acc.png", title="compare")
    assert out == tmp_path / "nested" / "dir" / "acc.png"
    assert_png(out)


def test_plot_runs_needs_a_run(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        plot_runs([], tmp_path / "empty.png")


def test_plot_all_writes_both(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, agent="random", layer_names=["1.0", "2.0", "fc", "extra"])
    paths = plot_all(run_dir)
    assert paths == [run_dir / "plots" / "accuracy.png", run_dir / "plots" / "climb.png"]
    for path in paths:
        assert_png(path)


def test_plots_tolerate_a_bare_config_and_a_start_only_history(tmp_path: Path) -> None:
    run_dir = tmp_path / "bare"
    run_dir.mkdir()
    (run_dir / "config.json").write_text('{"agent": "sense"}')
    (run_dir / "history.csv").write_text(",".join(COLUMNS) + "\n0,0,0.0,,0,0.1,2.3,,0.1\n")
    for path in plot_all(run_dir):
        assert path.is_file() and path.read_bytes().startswith(PNG_SIGNATURE)


def test_missing_history_file(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path)
    (run_dir / "history.csv").unlink()
    with pytest.raises(CheckpointError, match=r"history\.csv: file not found"):
        load_history(run_dir)


def test_missing_run_dir(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="run directory not found"):
        plot_climb(tmp_path / "nope", tmp_path / "x.png")


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
