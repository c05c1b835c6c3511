"""Paired differences between contenders of ``aann rl eval``: the same starts, so per seed.

Every contender runs from the same held-out starts, so contender A against B is judged on the
per-seed differences of the best network's test accuracy: their mean, a 95% Student-t interval
and on how many seeds A was ahead (:func:`paired`); :func:`paired_table` is the Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from agents.rl.evaluate import Result


@dataclass(frozen=True)
class Paired:
    """``name`` minus ``other`` at ``budget`` over the seeds both ran."""

    budget: float
    name: str
    other: str
    seeds: int
    mean: float
    low: float
    high: float
    ahead: int


def paired(
    results: Sequence[Result], name: str, metric: str = "best_test_accuracy"
) -> list[Paired]:
    """``name`` against every other contender, per budget (a pair needs two common seeds for
    an interval; with one the interval is the difference itself)."""
    out = []
    for budget in sorted({r.budget for r in results}):
        at = {(r.name, r.seed): float(getattr(r, metric)) for r in results if r.budget == budget}
        mine = {seed: v for (n, seed), v in at.items() if n == name}
        for other in dict.fromkeys(n for n, _ in at):
            if other == name:
                continue
            diffs = np.array([v - at[(other, s)] for s, v in mine.items() if (other, s) in at])
            if len(diffs) == 0:
                continue
            mean = float(diffs.mean())
            if len(diffs) > 1:
                half = float(stats.t.ppf(0.975, len(diffs) - 1) * diffs.std(ddof=1))
                half /= np.sqrt(len(diffs))
            else:
                half = 0.0
            ahead = int((diffs > 0).sum())
            out.append(
                Paired(budget, name, other, len(diffs), mean, mean - half, mean + half, ahead)
            )
    return out


def paired_table(rows: Sequence[Paired]) -> str:
    """Markdown: one row per pair, differences in points of test accuracy."""
    lines = [
        "| budget | contender | minus | seeds | mean difference | 95% interval | ahead on |",
        "|---:|---|---|---:|---:|---|---:|",
    ]
    for p in rows:
        lines.append(
            f"| {p.budget:,.0f} | {p.name} | {p.other} | {p.seeds} | {100 * p.mean:+.2f} | "
            f"[{100 * p.low:+.2f}, {100 * p.high:+.2f}] | {p.ahead}/{p.seeds} |"
        )
    return "\n".join(lines)


__all__ = ["Paired", "paired", "paired_table"]
