"""Print Markdown result rows of search runs, read from their run directories.

Usage::

    .venv/bin/python scripts/search_table.py RUN [RUN ...] [--at SECONDS ...]

For each run, one row per time in ``--at`` (the last checkpoint at or before it: the current
network's validation, test and, when the run scored on the training split, scoring accuracy),
and one row for the end of the run (its best network by validation, from ``summary.json``).
The gap column is validation minus test, the selection metric's optimism. Every figure in the
README's search results comes from this script.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from aann_env.runs.history import load_history


def _pct(x: float | None) -> str:
    return "" if x is None or not np.isfinite(x) else f"{100 * x:.2f}%"


def rows(run_dir: Path, at: list[float]) -> list[str]:
    """Markdown rows of one run: its checkpoints at the ``at`` times, then its end."""
    h = load_history(run_dir)
    out = []
    tested = np.flatnonzero(np.isfinite(h.test_accuracy))
    for limit in at:
        before = tested[h.wall_time[tested] <= limit]
        if len(before) == 0:
            continue
        i = int(before[-1])
        score = None if h.score_accuracy is None else float(h.score_accuracy[i])
        val, test = float(h.val_accuracy[i]), float(h.test_accuracy[i])
        out.append(
            f"| {run_dir.name} | checkpoint at {h.wall_time[i]:.0f} s | {h.evals[i]:,} | "
            f"{_pct(score)} | {_pct(val)} | {_pct(test)} | {100 * (val - test):+.2f} |"
        )
    summary_path = run_dir / "summary.json"
    if summary_path.is_file():
        s = json.loads(summary_path.read_text())
        val, test = s["best_val_accuracy"], s["best_test_accuracy"]
        out.append(
            f"| {run_dir.name} | end, best by validation ({s['wall_time']:.0f} s) | "
            f"{s['evals']:,} | {_pct(s.get('score_accuracy') if s.get('score_on') == 'train' else None)} | "
            f"{_pct(val)} | {_pct(test)} | {100 * (val - test):+.2f} |"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories")
    parser.add_argument("--at", nargs="*", type=float, default=[], help="times in seconds")
    args = parser.parse_args()
    print("| run | when | evaluations | scoring | validation | test | gap (points) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for run in args.runs:
        for row in rows(run, args.at):
            print(row)


if __name__ == "__main__":
    main()
