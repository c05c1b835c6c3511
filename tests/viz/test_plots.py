"""Tests of aann_env.viz: the run plots and the sweep plot's readers of run directories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from support.run_files import history_rows, write_run

from aann_env.errors import CheckpointError
from aann_env.runs.history import SEARCH_COLUMNS as COLUMNS
from aann_env.viz import plot_all, plot_climb, plot_runs

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    """The file is a non-empty PNG that is not a blank image."""
    assert path.is_file()
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert float(np.std(image)) > 0


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


def test_missing_run_dir(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="run directory not found"):
        plot_climb(tmp_path / "nope", tmp_path / "x.png")
