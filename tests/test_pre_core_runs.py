"""A run directory that ``aann search`` wrote before the search core and the run lifecycle of
issue 25 (default SENSE, training-split scoring with a rotation) resumes onto the trajectory that
the old code took in one go: its history (less wall times and test accuracies) and networks are
the old code's, byte for byte.

Made with the code of commit c8fdb84 (``F="--eval-size 200 --selection-size 300 --rotate-every 3
--seed 0 --no-progress --no-plot --checkpoint-steps 5"``): ``aann search $F --budget-evals 1500
--out sense-train-run`` and ``aann search $F --budget-evals 3000 --out sense-train-straight``.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from aann_env.core.network import TernaryNetwork
from agents.cli import main

pytestmark = pytest.mark.usefixtures("mnist_ready")

LEGACY = Path(__file__).resolve().parent / "data" / "legacy"


def _rows(path: Path) -> list[dict[str, str]]:
    drop = ("wall_time", "test_accuracy")
    with open(path, newline="") as fh:
        return [{k: v for k, v in r.items() if k not in drop} for r in csv.DictReader(fh)]


def test_an_old_default_run_resumes_onto_the_old_codes_trajectory(tmp_path: Path) -> None:
    run = shutil.copytree(LEGACY / "sense-train-run", tmp_path / "run")
    straight = LEGACY / "sense-train-straight"
    assert len(_rows(run / "history.csv")) < len(_rows(straight / "history.csv"))
    argv = ["search", "--out", str(run), "--resume", "--budget-evals", "3000"]
    assert main([*argv, "--no-progress", "--no-plot"]) == 0
    assert _rows(run / "history.csv") == _rows(straight / "history.csv")
    for name in ("best.npz", "current.npz"):
        assert TernaryNetwork.load(run / name) == TernaryNetwork.load(straight / name)
