"""Plots of search runs: accuracy against evaluations and wall time, and the per-layer climb.

The runs are read with :func:`aann_env.runs.history.load_history`, which owns the history schema.

Figures are drawn with matplotlib's Agg canvas directly (no pyplot, no global backend switch), so
this works headless and from any thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from aann_env.runs.history import RunHistory, load_history
from aann_env.viz.figure import save_png

LAYER_COLOURS = ("tab:red", "tab:green", "tab:blue", "tab:purple", "tab:brown", "tab:pink")
LOG_EVALS_ABOVE = 1000  # the evaluations axis is logarithmic above this many evaluations
MINUTES_ABOVE_S = 600.0  # the wall-time axis is in minutes for runs longer than this


def plot_runs(
    run_dirs: Sequence[str | Path], out_path: str | Path, title: str | None = None
) -> Path:
    """Plot validation accuracy of runs against evaluations and against wall time.

    Args:
        run_dirs: The run directories, one line each, labelled ``"<agent> (<run name>)"``.
        out_path: The PNG to write (parent folders are created).
        title: An optional title over both panels.

    Returns:
        The path written.

    Raises:
        CheckpointError: If a run cannot be read (see :func:`load_history`).
        ValueError: If ``run_dirs`` is empty.
    """
    if not run_dirs:
        raise ValueError("plot_runs needs at least one run directory")
    runs = [load_history(run_dir) for run_dir in run_dirs]
    max_evals = max((int(run.evals.max()) for run in runs if run.evals.size), default=0)
    max_time = max((float(run.wall_time.max()) for run in runs if run.wall_time.size), default=0.0)
    minutes = max_time > MINUTES_ABOVE_S
    figure = Figure(figsize=(12.0, 4.8), layout="constrained")
    FigureCanvasAgg(figure)  # draw with Agg directly: no pyplot, no global backend
    ax_evals, ax_time = figure.subplots(1, 2, sharey=True)
    if max_evals > LOG_EVALS_ABOVE:
        ax_evals.set_xscale("log")
    for i, run in enumerate(runs):
        colour, label = f"C{i % 10}", f"{run.agent} ({run.name})"
        time = run.wall_time / 60.0 if minutes else run.wall_time
        for ax, x in ((ax_evals, run.evals.astype(np.float64)), (ax_time, time)):
            keep = x > 0 if ax.get_xscale() == "log" else np.isfinite(x)
            ax.plot(x[keep], run.val_accuracy[keep], color=colour, linewidth=1.4, label=label)
            tested = keep & np.isfinite(run.test_accuracy)
            ax.plot(x[tested], run.test_accuracy[tested], "o", color=colour, markersize=5)
    ax_evals.set_xlabel("evaluations" + (" (log scale)" if max_evals > LOG_EVALS_ABOVE else ""))
    ax_time.set_xlabel("wall time (minutes)" if minutes else "wall time (seconds)")
    ax_evals.set_ylabel("validation accuracy")
    for ax in (ax_evals, ax_time):
        ax.grid(True, alpha=0.3)
    ax_evals.plot([], [], "o", color="0.4", label="test accuracy")  # a legend entry for the dots
    ax_evals.legend(loc="best", fontsize="small")
    if title:
        figure.suptitle(title)
    return save_png(figure, out_path)


def _climb_title(run: RunHistory) -> str:
    """E.g. ``"sense on mnist, 80% sparse, seed 0"`` (parts absent from the config are left out)."""
    parts = [run.agent + (f" on {run.config['task']}" if "task" in run.config else "")]
    sparsity = run.config.get("sparsity")
    if isinstance(sparsity, (int, float)):
        percent = sparsity * 100 if sparsity <= 1 else sparsity
        parts.append(f"{percent:g}% sparse")
    if "seed" in run.config:
        parts.append(f"seed {run.config['seed']}")
    return ", ".join(parts)


def _layer_colours(run: RunHistory) -> dict[str, str]:
    """A fixed colour per layer: config ``layer_names`` order, then any others as they appear."""
    names = run.config.get("layer_names")
    order = [str(name) for name in names] if isinstance(names, list) else []
    order += [name for name in dict.fromkeys(run.layer) if name and name not in order]
    return {name: LAYER_COLOURS[i % len(LAYER_COLOURS)] for i, name in enumerate(order)}


def plot_climb(run_dir: str | Path, out_path: str | Path) -> Path:
    """Plot one run's climb in the style of the paper's Figs. 5-8.

    Validation accuracy against step is drawn with each segment coloured by the layer of the
    step it ends at (first layer red, second green, third blue, ...); test accuracy at the
    checkpoints is a black line with orange markers, and the accuracy on the scoring images, when
    a run scored on the training split, a thin grey line.

    Args:
        run_dir: The run directory.
        out_path: The PNG to write (parent folders are created).

    Returns:
        The path written.

    Raises:
        CheckpointError: If the run cannot be read (see :func:`load_history`).
    """
    run = load_history(run_dir)
    colours = _layer_colours(run)
    figure = Figure(figsize=(9.0, 5.0), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    x = run.step.astype(np.float64)
    points = np.column_stack([x, run.val_accuracy])
    segments = np.stack([points[:-1], points[1:]], axis=1)  # segment i ends at row i + 1
    seg_colours = [colours.get(name, "0.5") for name in run.layer[1:]]
    ax.add_collection(LineCollection(segments, colors=seg_colours, linewidths=1.5))
    used = set(run.layer[1:])
    handles: list[Any] = [
        Line2D([], [], color=colour, linewidth=2, label=f"layer {name}")
        for name, colour in colours.items()
        if name in used
    ]
    if run.score_accuracy is not None:
        handles += ax.plot(
            x, run.score_accuracy, color="0.55", lw=0.6, label="scoring accuracy (training batch)"
        )
    tested = np.isfinite(run.test_accuracy)
    if tested.any():
        style = {"color": "black", "lw": 1.0, "ms": 5, "mfc": "orange", "mec": "darkorange"}
        handles += ax.plot(
            x[tested], run.test_accuracy[tested], "o-", label="test accuracy", **style
        )
    ax.autoscale_view()
    ax.set_xlabel("step (neighbourhood)" if run.agent == "sense" else "step")
    ax.set_ylabel("accuracy")
    ax.set_title(_climb_title(run))
    ax.grid(True, alpha=0.3)
    if handles:
        ax.legend(handles=handles, loc="best", fontsize="small")
    return save_png(figure, out_path)


def plot_all(run_dir: str | Path) -> list[Path]:
    """Write ``<run_dir>/plots/accuracy.png`` and ``<run_dir>/plots/climb.png``.

    Args:
        run_dir: The run directory.

    Returns:
        The two paths written, accuracy first.

    Raises:
        CheckpointError: If the run cannot be read (see :func:`load_history`).
    """
    plots = Path(run_dir) / "plots"
    return [plot_runs([run_dir], plots / "accuracy.png"), plot_climb(run_dir, plots / "climb.png")]
