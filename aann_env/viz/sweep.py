"""The p-SIREN sweep plot: accuracy against sparsity, as in the paper's Fig. 2."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from aann_env.errors import CheckpointError
from aann_env.runs.history import read_sweep
from aann_env.viz.figure import save_png


def plot_sweep(run_dirs: Sequence[str | Path], out_path: str | Path) -> Path:
    """Test accuracy against sparsity of p-SIREN sweeps, as in the paper's Fig. 2.

    One line per run (``sweep.csv`` of an ``aann train`` run directory): test accuracy as a solid
    line with markers, validation accuracy dashed.

    Args:
        run_dirs: p-SIREN run directories.
        out_path: The PNG to write (parent folders are created).

    Returns:
        The path written.

    Raises:
        CheckpointError: If a run has no readable ``sweep.csv``.
    """
    if not run_dirs:
        raise ValueError("plot_sweep needs at least one run directory")
    figure = Figure(figsize=(7.5, 4.8), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    tasks = []
    for i, run_dir in enumerate(run_dirs):
        try:
            rows = read_sweep(run_dir)
            config = json.loads((Path(run_dir) / "config.json").read_text())
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError(f"cannot read the p-SIREN sweep in {run_dir}: {exc}") from exc
        tasks.append(str(config.get("task", "?")))
        x = np.array([100.0 * row["sparsity"] for row in rows])
        colour = f"C{i % 10}"
        name = Path(run_dir).name
        ax.plot(
            x, [row["test_accuracy"] for row in rows], "o-", color=colour, label=f"{name}: test"
        )
        ax.plot(
            x,
            [row["val_accuracy"] for row in rows],
            "--",
            color=colour,
            alpha=0.6,
            label=f"{name}: validation",
        )
    ax.set_xlabel("sparsity (% of weights that are 0)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"p-SIREN ternary networks ({', '.join(sorted(set(tasks)))})")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    return save_png(figure, out_path)
