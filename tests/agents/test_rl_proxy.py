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


def test_snapshot_starts_give_deterministic_late_phase_episodes(tmp_path):
    import gymnasium as gym

    from agents.rl.starts import SnapshotStarts, load_snapshots, reference_curve

    snaps = tmp_path / "snaps"
    points = proxy.curves([4], [1000.0, 2000.0], ["fc"], snapshots=snaps)
    starts = load_snapshots(snaps)
    assert [(s.schedule, s.seed) for s in starts] == [("fc", 4), ("fc", 4)]
    assert sorted(s.spent for s in starts) == sorted(p.cost for p in points)
    assert reference_curve(points, 4, ["fc"]) == [(p.mark, p.held_out) for p in points]

    def episode():
        env = gym.make(
            "AANN-MNIST-v0",
            action_mode="schedule",
            neighborhood_sizes=(16, 64),
            budget=3000.0,
            decisions=4,
            observation_version=2,
            budget_end="terminated",
            reward="reference",
            max_episode_steps=-1,
            **proxy.PROXY,
        )
        env = SnapshotStarts(env, starts, budget=3000.0, points=points)
        obs, info = env.reset(seed=5)
        s = env.start
        assert info["spent"] == s.spent and info["val_accuracy"] == s.held_out
        out, done = [obs.tolist(), info["snapshot"]], False
        while not done:
            obs, reward, done, trunc, info = env.step(5)
            out.append((obs.tolist(), reward, info["spent"]))
            assert not trunc
        assert info["spent"] >= 3000.0
        return out

    assert episode() == episode()
    with pytest.raises(ValueError, match="before the budget"):
        SnapshotStarts(gym.make("AANN-MNIST-v0", eval_size=100), starts, budget=500.0)
    (snaps / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="not a snapshot"):
        load_snapshots(snaps)
