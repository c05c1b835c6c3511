"""History CSVs of run directories: each schema is defined here once, written and read here.

| file | run | one row per | columns |
|---|---|---|---|
| ``history.csv`` | search (``aann search``) | agent step | :data:`SEARCH_COLUMNS` |
| ``history.csv`` | p-SIREN (``aann train``) | epoch | :data:`TRAIN_COLUMNS` |
| ``sweep.csv`` | p-SIREN | finished level | :data:`SWEEP_COLUMNS` |
| ``population.csv`` | population search (``aann search --population``) | exploit | :data:`POPULATION_COLUMNS` |

:class:`CsvLog` appends rows under a fixed header and, on resume, drops the rows written after
the checkpoint being resumed from (they are recomputed). :func:`load_history` and
:func:`read_sweep` parse the files for the plots.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from aann_env.errors import CheckpointError

SEARCH_COLUMNS = (
    "step",
    "evals",
    "wall_time",
    "layer",
    "committed",
    "val_accuracy",
    "val_loss",
    "test_accuracy",
    "best_val_accuracy",
)
"""A search's ``history.csv``: cumulative evaluations and wall time, the step's layer, whether it
committed, validation accuracy and loss after it, test accuracy (at checkpoints only), and the
best validation accuracy so far. Row 0 is the start."""

SEARCH_HEADER = ",".join(SEARCH_COLUMNS)

SCORE_COLUMNS = ("score_accuracy", "score_loss")
"""Extra columns of a search that scores on another split than it selects by (the training
split): accuracy and loss on the scoring images after the step. Runs that score on the
validation split (and runs written before the choice existed) leave them out."""

TRAIN_COLUMNS = (
    "stage",
    "sparsity",
    "epoch",
    "train_loss",
    "val_accuracy",
    "val_loss",
    "exponents",
    "wall_time",
)
"""A p-SIREN run's ``history.csv``: stage 0 is the dense phase (blank sparsity), then one stage
per level; ``exponents`` are the layers' log2 scales (blank when dense)."""

SWEEP_COLUMNS = (
    "sparsity",
    "epochs",
    "best_epoch",
    "val_accuracy",
    "val_loss",
    "test_accuracy",
    "test_loss",
    "wall_time",
    "path",
)
"""A p-SIREN run's ``sweep.csv``: one row per finished level, with its saved network's path."""

POPULATION_COLUMNS = (
    "segment",
    "source",
    "target",
    "source_val_accuracy",
    "target_val_accuracy",
    "target_evals",
    "wall_time",
)
"""A population search's ``population.csv``: one row per exploit, when chain ``target`` took the
current network of chain ``source`` at the end of segment ``segment`` (the validation accuracy
of both networks then, the target's evaluations so far, the driver's wall time)."""


class CsvLog:
    """An append-only CSV file with a fixed header.

    Args:
        path: The file.
        columns: Its header.
        fsync: Force every row to disk (for rare, expensive rows such as epochs); otherwise rows
            are only flushed.
    """

    def __init__(self, path: Path, columns: Sequence[str], fsync: bool = False) -> None:
        self.path = path
        self.columns = tuple(columns)
        self.fsync = fsync
        self.rows = 0
        self._fh: IO[str] | None = None
        self._writer: Any = None

    def create(self) -> None:
        """Start the file afresh with only the header."""
        self.close()
        self._open("w")
        self._writer.writerow(self.columns)
        self._sync()

    def resume(self, rows: int) -> None:
        """Keep the header and the first ``rows`` rows (those a checkpoint accounts for)."""
        self.close()
        lines = self.path.read_text().splitlines(keepends=True) if self.path.exists() else []
        if len(lines) < rows + 1:
            raise CheckpointError(
                f"{self.path} has fewer rows than its checkpoint records ({len(lines) - 1} < "
                f"{rows}); it was edited or truncated. Restore it, or start a new run"
            )
        self.path.write_text("".join(lines[: rows + 1]))
        self._open("a")
        self.rows = rows

    def append(self, row: Sequence[Any]) -> None:
        if self._writer is None:
            raise RuntimeError(f"{self.path} is not open: call create() or resume() first")
        self._writer.writerow(row)
        self._sync()
        self.rows += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh = self._writer = None

    def _open(self, mode: str) -> None:
        self._fh = open(self.path, mode, newline="")  # noqa: SIM115  (closed by close())
        self._writer = csv.writer(self._fh)

    def _sync(self) -> None:
        assert self._fh is not None
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())


# ------------------------------------------------------------------------------------ reading
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
    score_accuracy: np.ndarray | None = None  # float64 scoring accuracy (SCORE_COLUMNS), if kept
    score_loss: np.ndarray | None = None  # float64 scoring loss, if kept


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
    columns: dict[str, list[Any]] = {name: [] for name in SEARCH_COLUMNS}
    wanted: tuple[str, ...] = SEARCH_COLUMNS
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise CheckpointError(f"{path}: is empty; expected the header {SEARCH_HEADER}")
            header = [name.strip() for name in header]
            if missing := [name for name in SEARCH_COLUMNS if name not in header]:
                names = ", ".join(missing)
                raise CheckpointError(f"{path}: missing column(s) {names}; need {SEARCH_HEADER}")
            if all(name in header for name in SCORE_COLUMNS):
                wanted = SEARCH_COLUMNS + SCORE_COLUMNS
                columns.update({name: [] for name in SCORE_COLUMNS})
            index = {name: header.index(name) for name in wanted}
            for row in reader:
                if not row:
                    continue
                line = reader.line_num
                if len(row) != len(header):
                    raise CheckpointError(
                        f"{path}: line {line} has {len(row)} fields but the header has {len(header)}"
                    )
                for name in wanted:
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


def read_sweep(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of a p-SIREN run's ``sweep.csv`` with numbers parsed.

    Raises:
        CheckpointError: The file is missing, or a row does not parse.
    """
    path = Path(run_dir) / "sweep.csv"
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not a p-SIREN run (no sweep.csv)")
    floats = ("sparsity", "val_accuracy", "val_loss", "test_accuracy", "test_loss", "wall_time")
    out = []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                parsed: dict[str, Any] = dict(row)
                parsed.update({k: float(row[k]) for k in floats})
                parsed.update({k: int(row[k]) for k in ("epochs", "best_epoch")})
            except (KeyError, TypeError, ValueError) as exc:
                raise CheckpointError(f"{path}: a row does not parse ({exc!r})") from exc
            out.append(parsed)
    return out
