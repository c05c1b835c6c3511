"""Points of the proxy check: where a hand schedule's search stood at each cost mark, as rows of
a CSV (:func:`read`) and as a Markdown table (:func:`table`). Written by
:func:`agents.rl.proxy.curves`; the reference curves of :mod:`agents.rl.starts` are read from
them."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agents.rl.records import columns


@dataclass(frozen=True)
class Point:
    """Where one schedule's search from one start stood when it crossed a cost mark."""

    schedule: str
    seed: int
    mark: float
    cost: float
    held_out: float
    steps: int


COLUMNS = columns(Point)


def read(path: str | os.PathLike[str]) -> list[Point]:
    """Points written by :func:`curves`.

    Raises:
        ValueError: The file is not such a CSV.
    """
    with Path(path).open(newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or tuple(rows[0]) != COLUMNS:
        raise ValueError(f"{path} is not a proxy-curve CSV (columns {COLUMNS})")
    return [
        Point(r[0], int(r[1]), float(r[2]), float(r[3]), float(r[4]), int(r[5])) for r in rows[1:]
    ]


def table(points: Sequence[Point]) -> str:
    """Markdown: mean held-out accuracy per schedule (columns) at each cost mark (rows)."""
    names = list(dict.fromkeys(p.schedule for p in points))
    lines = [
        "| cost | " + " | ".join(names) + " | starts |",
        "|---:|" + "---:|" * (len(names) + 1),
    ]
    for mark in sorted({p.mark for p in points}):
        cells = []
        for name in names:
            at = [p.held_out for p in points if p.mark == mark and p.schedule == name]
            cells.append(f"{np.mean(at):.2%}" if at else "")
        starts = len({p.seed for p in points if p.mark == mark})
        lines.append(f"| {mark:,.0f} | " + " | ".join(cells) + f" | {starts} |")
    return "\n".join(lines)


__all__ = ["COLUMNS", "Point", "read", "table"]
