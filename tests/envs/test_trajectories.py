"""Same-seed rollouts of every formulation and runs of every agent are bit-identical to those the
code made before the search core and the formulation classes (issue 25) existed.

The records are in ``tests/data/trajectories/`` (how they were made: ``tests/support/trajectories.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import trajectories

pytestmark = pytest.mark.usefixtures("mnist_ready")

RECORDS = Path(__file__).resolve().parents[1] / "data" / "trajectories"


def test_every_case_has_a_record() -> None:
    assert sorted(p.stem for p in RECORDS.glob("*.json")) == sorted(trajectories.CASES)


@pytest.mark.parametrize("case", sorted(trajectories.CASES))
def test_the_trajectory_is_the_recorded_one(case: str) -> None:
    recorded = json.loads((RECORDS / f"{case}.json").read_text())
    now = json.loads(json.dumps(trajectories.CASES[case]()))
    assert len(now) == len(recorded)
    for step, (a, b) in enumerate(zip(now, recorded, strict=True)):
        assert a == b, f"{case}: step {step} differs"
