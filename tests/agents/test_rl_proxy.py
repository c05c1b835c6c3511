"""`aann rl proxy`: the training proxy's phase check, its table and its resume."""

from __future__ import annotations

import pytest

from agents.cli import main
from agents.rl import proxy

pytestmark = pytest.mark.usefixtures("mnist_ready")


def test_proxy_table_resumes_and_rejects_bad_input(tmp_path, capsys):
    out = tmp_path / "proxy"
    args = ["rl", "proxy", "--seeds", "3", "--step", "1500", "--marks", "2", "--out", str(out)]
    assert main(args) == 0
    first = capsys.readouterr().out
    points = proxy.read(out.with_suffix(".csv"))
    assert [(p.schedule, p.mark) for p in points] == [
        ("fc", 1500.0),
        ("fc", 3000.0),
        ("adaptive", 1500.0),
        ("adaptive", 3000.0),
    ]
    assert all(p.cost >= p.mark and 0 < p.held_out < 1 for p in points)
    assert "| 3,000 |" in first and out.with_suffix(".md").read_text().strip() in first
    rows = out.with_suffix(".csv").read_text()
    assert main(args) == 0  # every run is in the CSV: read back, nothing run again
    assert out.with_suffix(".csv").read_text() == rows
    assert capsys.readouterr().out == first
    assert main([*args[:-1], str(tmp_path / "bad"), "--schedules", "handoff"]) == 2
    assert "handoff:RATE" in capsys.readouterr().err
    (tmp_path / "junk.csv").write_text("a,b\n1,2\n")
    assert main([*args[:-1], str(tmp_path / "junk")]) == 2
    assert "not a proxy-curve CSV" in capsys.readouterr().err
