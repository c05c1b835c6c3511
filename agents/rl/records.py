"""Result rows as CSV: one dataclass instance a row, appended as each result comes."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import astuple, fields
from pathlib import Path
from typing import Any


def columns(record_type: type) -> tuple[str, ...]:
    """The CSV columns of a dataclass: its field names."""
    return tuple(f.name for f in fields(record_type))


def append_rows(path: Path, records: Sequence[Any]) -> None:
    """Append ``records`` (instances of one dataclass) to ``path``, with the header if new."""
    if not records:
        return
    new = not path.exists()
    with path.open("a", newline="") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(columns(type(records[0])))
        writer.writerows(astuple(r) for r in records)
