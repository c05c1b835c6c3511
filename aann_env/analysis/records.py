"""Writing an analysis's data: CSV tables and a JSON summary, each written atomically."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aann_env.atomic import atomic_write


def write_csv(path: str | Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write a CSV file with a header row; floats keep every digit (``repr``)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([repr(v) if isinstance(v, float) else v for v in row])
    data = text.getvalue().encode()
    return atomic_write(path, lambda fh: fh.write(data))


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars become Python numbers, NaN becomes None."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_json(path: str | Path, data: Mapping[str, Any]) -> Path:
    """Write ``data`` as indented JSON."""
    text = (json.dumps(_plain(data), indent=2) + "\n").encode()
    return atomic_write(path, lambda fh: fh.write(text))


def read_csv(path: str | Path) -> list[dict[str, str]]:
    """Read a CSV file written by :func:`write_csv` as a list of rows (column -> text)."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))
