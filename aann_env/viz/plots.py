"""Plots of search runs: accuracy against evaluations and wall time, and the per-layer climb.

Figures are drawn with matplotlib's Agg canvas directly (no pyplot, no global backend switch), so
this works headless and from any thread.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from aann_env.errors import CheckpointError

LAYER_COLOURS = ("tab:red", "tab:green", "tab:blue", "tab:purple", "tab:brown", "tab:pink")
LOG_EVALS_ABOVE = 1000  # the evaluations axis is logarithmic above this many evaluations
MINUTES_ABOVE_S = 600.0  # the wall-time axis is in minutes for runs longer than this


@dataclass(frozen=True, eq=False)
class RunHistory:
    """The history of one search run (``config.json`` and ``history.csv``): one entry per row."""

    name: str  # the run directory's name
    agent: str  # config["agent"], e.g. "sense"
    config: dict[str, Any]  # the whole of config.json
    step: np.ndarray  # int64 step numbers; 0 is the start, where recorded
    evals: np.ndarray  # int64 cumulative neighbour evaluations
    wall_time: np.ndarray  # float64 seconds since the run started
    layer: list[str]  # layer name of each step, kept as a string ("2.0"); "" for the start row
    committed: np.ndarray  # bool, whether the step committed a change
    val_accuracy: np.ndarray  # float64 validation accuracy after the step
    val_loss: np.ndarray  # float64 validation loss after the step
    test_accuracy: np.ndarray  # float64 test accuracy, NaN where not measured
    best_val_accuracy: np.ndarray  # float64 best validation accuracy so far


HEADER = (
    "step,evals,wall_time,layer,committed,val_accuracy,val_loss,test_accuracy,best_val_accuracy"
)
"""The columns ``history.csv`` must have (any order; extra columns are ignored)."""
COLUMNS = tuple(HEADER.split(","))
_DTYPES: dict[str, Any] = {"step": np.int64, "evals": np.int64, "committed": np.bool_}
_EXPECTED = {"step": "an integer", "evals": "an integer", "committed": "0 or 1"}


def _parse_cell(name: str, cell: str) -> Any:
    """Parse one cell of column ``name``; a ValueError's message says what it must be."""
    text = cell.strip()
    if name == "layer":
        return text
    if name == "test_accuracy" and not text:
        return math.nan
    try:
        if name == "committed":
            return {"0": False, "1": True}[text]
        return int(text) if name in ("step", "evals") else float(text)
    except (KeyError, ValueError):
        raise ValueError(_EXPECTED.get(name, "a number")) from None


def _load_config(path: Path) -> dict[str, Any]:
    """Read and check ``config.json``."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # ValueError covers bad JSON and bad UTF-8
        raise CheckpointError(f"{path}: cannot be read as JSON ({err})") from err
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: expected a JSON object, found {type(config).__name__}")
    if not isinstance(config.get("agent"), str):
        raise CheckpointError(f'{path}: has no "agent" string; a run config must name its agent')
    return config


def _load_rows(path: Path) -> dict[str, list[Any]]:
    """Read ``history.csv`` into one list of parsed values per column."""
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise CheckpointError(f"{path}: is empty; expected the header {HEADER}")
            header = [name.strip() for name in header]
            if missing := [name for name in COLUMNS if name not in header]:
                names = ", ".join(missing)
                raise CheckpointError(f"{path}: missing column(s) {names}; need {HEADER}")
            index = {name: header.index(name) for name in COLUMNS}
            for row in reader:
                if not row:
                    continue
                line = reader.line_num
                if len(row) != len(header):
                    raise CheckpointError(
                        f"{path}: line {line} has {len(row)} fields but the header has {len(header)}"
                    )
                for name in COLUMNS:
                    cell = row[index[name]]
                    try:
                        columns[name].append(_parse_cell(name, cell))
                    except ValueError as err:
                        raise CheckpointError(
                            f"{path}: line {line}, column {name}: {cell!r} is not {err}"
                        ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise CheckpointError(f"{path}: cannot be read as CSV ({err})") from err
    return columns


def load_history(run_dir: str | Path) -> RunHistory:
    """Read a run directory's ``config.json`` and ``history.csv``.

    Args:
        run_dir: The run directory.

    Returns:
        The run's history; layer names stay strings (``"2.0"``), unmeasured test accuracy is NaN.

    Raises:
        CheckpointError: If the directory or either file is missing or unreadable, the JSON is
            invalid or has no ``"agent"``, a column is missing, or a value cannot be parsed.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: run directory not found")
    config_path, history_path = run_dir / "config.json", run_dir / "history.csv"
    for path in (config_path, history_path):
        if not path.is_file():
            raise CheckpointError(f"{path}: file not found; is {run_dir} a search run directory?")
    config = _load_config(config_path)
    cols = _load_rows(history_path)
    layer = cols.pop("layer")
    arrays = {
        name: np.asarray(values, dtype=_DTYPES.get(name, np.float64))
        for name, values in cols.items()
    }
    return RunHistory(run_dir.resolve().name, config["agent"], config, layer=layer, **arrays)


def _save(figure: Figure, out_path: str | Path) -> Path:
    """Write ``figure`` as a PNG, creating parent folders."""
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png", dpi=120)
    return out


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
    return _save(figure, out_path)


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
    checkpoints is a black line with orange markers.

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
    return _save(figure, out_path)


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
    from aann_env.training.psiren import read_sweep

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
    return _save(figure, out_path)
