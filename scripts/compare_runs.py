"""Compare two run directories (``aann search`` or ``aann train``) for equal results.

Usage::

    .venv/bin/python scripts/compare_runs.py RUN_A RUN_B [RUN_A2 RUN_B2 ...]

For each pair it reports whether the histories are identical in every column but the clock
(``wall_time``; a search's ``test_accuracy`` is compared only where both runs measured it, since
time-based checkpoints fall on different steps), whether every network file holds the same
network (architecture, weights, scales, offset), and whether the summaries' figures agree. Exit
status 0 when every pair matches, 1 otherwise. Used to show that a refactor left seeded runs
unchanged.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

from aann_env.core.network import TernaryNetwork

CLOCK = {"wall_time"}


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _same_csv(a: Path, b: Path) -> tuple[bool, str]:
    ra, rb = _rows(a), _rows(b)
    if len(ra) != len(rb):
        return False, f"{a.name}: {len(ra)} vs {len(rb)} rows"
    tested = 0
    for x, y in zip(ra, rb, strict=True):
        for key in x.keys() - CLOCK:
            if key == "test_accuracy" and not (x[key] and y[key]):
                continue
            tested += key == "test_accuracy"
            if x[key] != y.get(key):
                return False, f"{a.name}: {key} differs ({x[key]} vs {y.get(key)})"
    note = f", test accuracy at {tested} common rows" if tested else ""
    return True, f"{a.name}: {len(ra)} rows equal{note}"


def _figures(value: Any) -> Any:
    """``value`` without clock readings and paths, at any depth."""
    if isinstance(value, dict):
        return {
            k: _figures(v) for k, v in value.items() if k not in CLOCK and not k.endswith("path")
        }
    if isinstance(value, list):
        return [_figures(v) for v in value]
    return value


def _same_summary(a: Path, b: Path) -> tuple[bool, str]:
    sa, sb = _figures(json.loads(a.read_text())), _figures(json.loads(b.read_text()))
    keys = sorted(sa.keys() & sb.keys())
    bad = [k for k in keys if sa[k] != sb[k]]
    return not bad, f"summary: {'differs in ' + ', '.join(bad) if bad else 'figures equal'}"


def compare(a: Path, b: Path) -> bool:
    """Print the comparison of two run directories; return whether they match."""
    checks: list[tuple[bool, str]] = []
    for name in ("history.csv", "sweep.csv"):
        if (a / name).is_file():
            checks.append(_same_csv(a / name, b / name))
    nets = sorted(p.relative_to(a) for p in a.rglob("*.npz") if not p.name.startswith("checkpoint"))
    same_nets = [TernaryNetwork.load(a / n) == TernaryNetwork.load(b / n) for n in nets]
    checks.append((all(same_nets), f"networks: {sum(same_nets)} of {len(nets)} equal"))
    if (a / "summary.json").is_file():
        checks.append(_same_summary(a / "summary.json", b / "summary.json"))
    ok = all(c[0] for c in checks)
    print(f"{'same' if ok else 'DIFFERENT'}: {a} vs {b}: " + "; ".join(c[1] for c in checks))
    return ok


def main(argv: list[str]) -> int:
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    pairs = zip(argv[::2], argv[1::2], strict=True)
    return 0 if all([compare(Path(a), Path(b)) for a, b in pairs]) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
