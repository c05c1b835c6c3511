"""Synthetic run directories: a ``config.json`` and a ``history.csv`` in the search schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aann_env.runs.history import SEARCH_COLUMNS as COLUMNS

LAYERS = ["1.0", "2.0", "fc"]


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
