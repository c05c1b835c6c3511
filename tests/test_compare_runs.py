"""Tests of scripts/compare_runs.py on the legacy run fixtures (no data needed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEGACY = ROOT / "tests" / "data" / "legacy"


def _compare(*dirs: Path) -> subprocess.CompletedProcess[str]:
    script = ROOT / "scripts" / "compare_runs.py"
    return subprocess.run(
        [sys.executable, str(script), *map(str, dirs)], capture_output=True, text=True, cwd=ROOT
    )


def test_equal_runs_match_and_a_changed_row_does_not(tmp_path: Path) -> None:
    for name in ("search-run", "psiren-run"):
        copy = shutil.copytree(LEGACY / name, tmp_path / name)
        same = _compare(LEGACY / name, copy)
        assert same.returncode == 0 and same.stdout.startswith("same:"), same.stdout
        lines = (copy / "history.csv").read_text().splitlines()
        lines[-1] = lines[-1].replace(",0.", ",1.", 1)
        (copy / "history.csv").write_text("\n".join(lines) + "\n")
        changed = _compare(LEGACY / name, copy)
        assert changed.returncode == 1 and "DIFFERENT" in changed.stdout, changed.stdout
    assert _compare(LEGACY / "search-run").returncode == 2  # an odd number of directories
