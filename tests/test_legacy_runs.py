"""Run directories and networks written before the layout change (commit 82da2b1) still load,
and resume onto the very trajectory that a run of today's code takes from the start."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from aann_env.core.network import TernaryNetwork
from aann_env.training.config import TrainConfig
from aann_env.training.psiren import PSIRENRun
from agents.run import SearchConfig, SearchRun

pytestmark = pytest.mark.usefixtures("mnist_ready")

LEGACY = Path(__file__).resolve().parent / "data" / "legacy"


def _rows(path: Path, drop: tuple[str, ...]) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return [{k: v for k, v in r.items() if k not in drop} for r in csv.DictReader(fh)]


def test_a_legacy_search_run_resumes_onto_todays_trajectory(tmp_path: Path) -> None:
    old = shutil.copytree(LEGACY / "search-run", tmp_path / "old")
    stored = json.loads((old / "config.json").read_text())
    assert TernaryNetwork.load(old / "best.npz").arch.name == "mnist"

    resumed = SearchRun(old, None, resume=True)
    resumed.config.budget_evals = 2 * stored["budget_evals"]
    resumed.run(progress=False)
    fresh = SearchConfig.from_dict({**stored, "budget_evals": 2 * stored["budget_evals"]})
    SearchRun(tmp_path / "new", fresh).run(progress=False)

    drop = ("wall_time", "test_accuracy")
    assert len(_rows(old / "history.csv", drop)) > 10
    assert _rows(old / "history.csv", drop) == _rows(tmp_path / "new" / "history.csv", drop)
    for name in ("best.npz", "current.npz"):
        assert TernaryNetwork.load(old / name) == TernaryNetwork.load(tmp_path / "new" / name)


def test_a_legacy_psiren_run_resumes_onto_todays_trajectory(tmp_path: Path) -> None:
    old = shutil.copytree(LEGACY / "psiren-run", tmp_path / "old")
    stored = TrainConfig.from_dict(json.loads((old / "config.json").read_text()))
    assert PSIRENRun(old, None, resume=True).run(progress=False)["finished"]
    PSIRENRun(tmp_path / "new", stored).run(progress=False)

    # Backprop losses are float32 sums whose last bits depend on the torch / numpy build that
    # ran them (the legacy rows were written by another one): losses to 1e-6, the rest exactly.
    drop = ("wall_time",)
    for name in ("history.csv", "sweep.csv"):
        a, b = _rows(old / name, drop), _rows(tmp_path / "new" / name, drop)
        assert [r.keys() for r in a] == [r.keys() for r in b]
        for ra, rb in zip(a, b, strict=True):
            for key in ra:
                if "loss" in key and ra[key]:
                    assert float(ra[key]) == pytest.approx(float(rb[key]), rel=1e-6), key
                else:
                    assert ra[key] == rb[key], key
    nets = sorted(p.name for p in (tmp_path / "new" / "nets").glob("*.npz"))
    assert nets == ["psiren-00.npz", "psiren-90.npz"]
    for name in nets:
        assert TernaryNetwork.load(old / "nets" / name) == TernaryNetwork.load(
            tmp_path / "new" / "nets" / name
        )
