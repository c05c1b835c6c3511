"""Where a search spent its budget: its layer choices as segments of cost, and cost per layer.

:class:`LayerTimeline` is a search callback that records which layer each step searched and what
it cost; consecutive steps in one layer form a :class:`Segment`. The segments of every contender
of ``aann rl eval`` are written beside its results (``<out>.timeline.csv``), so the action
timeline of a search can be plotted (:func:`plot_timeline`) and each contender's cost share per
layer reported.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from agents.base import BaseCallback
from agents.budget import StepInfo


@dataclass(frozen=True)
class Segment:
    """Consecutive steps of one search in one layer, from cost ``start`` to cost ``end``."""

    name: str
    seed: int
    budget: float
    layer: str
    start: float
    end: float
    steps: int


class LayerTimeline(BaseCallback):
    """Records the layer and cost of every step (see the module docstring).

    Args:
        name, seed, budget: What the segments are labelled with.
    """

    def __init__(self, name: str, seed: int, budget: float) -> None:
        super().__init__()
        self.name, self.seed, self.budget = name, seed, float(budget)
        self.segments: list[Segment] = []
        self._cost = 0.0

    def _on_step(self, info: StepInfo) -> bool:
        assert self.agent is not None
        cost = float(self.agent.cost)
        last = self.segments[-1] if self.segments else None
        if last is not None and last.layer == info.layer:
            self.segments[-1] = Segment(
                last.name, last.seed, last.budget, last.layer, last.start, cost, last.steps + 1
            )
        else:
            self.segments.append(
                Segment(self.name, self.seed, self.budget, info.layer, self._cost, cost, 1)
            )
        self._cost = cost
        return True


def cost_share(segments: Sequence[Segment]) -> dict[str, float]:
    """The fraction of the cost spent in each layer."""
    spent: dict[str, float] = {}
    for s in segments:
        spent[s.layer] = spent.get(s.layer, 0.0) + s.end - s.start
    total = sum(spent.values())
    return {layer: v / total for layer, v in sorted(spent.items())} if total > 0 else {}


def format_share(share: dict[str, float]) -> str:
    """``"1.0=0.120;2.0=0.300;fc=0.580"`` (the results CSV's ``cost_share`` column)."""
    return ";".join(f"{layer}={v:.3f}" for layer, v in share.items())


def parse_share(text: str) -> dict[str, float]:
    """The inverse of :func:`format_share` (``""``: no record)."""
    if not text:
        return {}
    pairs = [part.split("=") for part in text.split(";")]
    return {layer: float(v) for layer, v in pairs}


COLUMNS = tuple(f.name for f in fields(Segment))


def read_segments(path: str | os.PathLike[str]) -> list[Segment]:
    """Segments written beside the results.

    Raises:
        ValueError: Not such a file.
    """
    with Path(path).open(newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or tuple(rows[0]) != COLUMNS:
        raise ValueError(f"{path} is not a timeline CSV of aann rl eval (columns {COLUMNS})")
    return [
        Segment(r[0], int(r[1]), float(r[2]), r[3], float(r[4]), float(r[5]), int(r[6]))
        for r in rows[1:]
    ]


def plot_timeline(segments: Sequence[Segment], out_path: str | os.PathLike[str]) -> Path:
    """One row per contender: the layer each part of the budget went to (one seed, one budget)."""
    from matplotlib.figure import Figure

    from aann_env.viz.figure import save_png

    names = list(dict.fromkeys(s.name for s in segments))
    layers = sorted({s.layer for s in segments})
    colours = {layer: f"C{i}" for i, layer in enumerate(layers)}
    fig = Figure(figsize=(8.0, 0.6 * len(names) + 1.4))
    ax = fig.add_subplot()
    for row, name in enumerate(names):
        for s in (s for s in segments if s.name == name):
            ax.barh(row, s.end - s.start, left=s.start, color=colours[s.layer], height=0.7)
    for layer, colour in colours.items():
        ax.barh(0, 0, color=colour, label=f"layer {layer}")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("evaluation cost spent")
    ax.legend(fontsize="small", ncol=len(layers), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return save_png(fig, out_path)


__all__ = [
    "LayerTimeline",
    "Segment",
    "cost_share",
    "format_share",
    "parse_share",
    "plot_timeline",
    "read_segments",
]
