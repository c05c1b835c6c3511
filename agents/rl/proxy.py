"""The training proxy's phase check: held-out accuracy against cost for hand schedules.

A schedule policy is trained on a cheaper copy of the real search (the *proxy*: fewer images
scored at a time, rotating over the training split as ``aann search`` does, a held-out reward).
The proxy is only worth training on if it has the real search's phase structure: output-layer
steps climb fastest at first, and the conv layers pay off once the output layer has stalled, so
that ``adaptive`` overtakes ``fc`` within the training budgets. :func:`curves` runs the hand
schedules from the same starts and records the held-out accuracy each time a cost mark is
crossed; :func:`table` prints it (``aann rl proxy``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import gymnasium as gym
import numpy as np

from aann_env.atomic import atomic_write
from agents.base import BaseCallback, SearchAgent
from agents.budget import Budget, StepInfo
from agents.rl.points import Point, read, table
from agents.rl.records import append_rows
from agents.sense import SENSE

PROXY: dict[str, int | str] = {
    "score_on": "train",
    "eval_size": 2_000,
    "rotate_every": 200,
    "selection_size": 5_000,
}
"""The proxy's scoring: 2,000 training images at a time, moved to the next batch every 200
SENSE steps (as ``aann search`` moves its 10,000), reward and selection on 5,000 validation
images."""

HAND_SIZES: dict[str, int] = {"fc": 64, "2.0": 32, "1.0": 8}
"""The hand schedules' neighbourhood sizes (MNIST): fc 64 swaps, the default conv sizes."""


class _Marks(BaseCallback):
    def __init__(
        self, schedule: str, seed: int, marks: Sequence[float], snapshots: Path | None
    ) -> None:
        super().__init__()
        self.schedule, self.seed = schedule, seed
        self.marks = sorted(float(m) for m in marks)
        self.snapshots = snapshots
        self.points: list[Point] = []

    def _on_step(self, info: StepInfo) -> bool:
        assert self.agent is not None
        cost = float(self.agent.cost)
        while self.marks and cost >= self.marks[0]:
            mark = self.marks.pop(0)
            point = Point(self.schedule, self.seed, mark, cost, info.val_accuracy, info.step)
            self.points.append(point)
            if self.snapshots is not None:
                self._snapshot(point)
        return True

    def _snapshot(self, point: Point) -> None:
        """Save the network and where the search stood: a start for a late-phase episode."""
        assert self.env is not None and self.snapshots is not None
        u = self.env.unwrapped
        stem = f"{point.schedule.replace(':', '_')}-{point.seed}-{int(point.mark)}"
        u.network.save(self.snapshots / f"{stem}.npz")
        meta = {**asdict(point), "scoring": u.scoring_state(), "network": f"{stem}.npz"}
        atomic_write(
            self.snapshots / f"{stem}.json", lambda fh: fh.write(json.dumps(meta).encode())
        )


def hand_schedule(name: str) -> SearchAgent:
    """A hand schedule by name: the SENSE schedules ``fc``, ``adaptive`` and ``handoff:R`` (hand
    over from fc at gain rate ``R``; loss criterion, :data:`HAND_SIZES`), or the decision-level
    rule ``rule:R`` of :mod:`agents.rl.rule` (run as a schedule policy would be).

    Raises:
        ValueError: Not such a name.
    """
    if name.startswith("rule"):
        from agents.rl.agent import RLSchedule
        from agents.rl.rule import HandRule, parse_rule

        return RLSchedule(HandRule(parse_rule(name)))
    schedule, _, rate = name.partition(":")
    if schedule not in ("fc", "adaptive", "handoff") or (schedule == "handoff") != bool(rate):
        raise ValueError(
            f"a hand schedule is fc, adaptive, handoff:RATE or rule:RATE, got {name!r}"
        )
    kwargs = {"handoff_rate": float(rate)} if rate else {}
    return SENSE(neighborhood_size=dict(HAND_SIZES), schedule=schedule, criterion="loss", **kwargs)  # type: ignore[arg-type]


def curves(
    seeds: Sequence[int],
    marks: Sequence[float],
    schedules: Sequence[str] = ("fc", "adaptive"),
    scoring: Mapping[str, int | str] | None = None,
    log: str | os.PathLike[str] | None = None,
    snapshots: str | os.PathLike[str] | None = None,
) -> list[Point]:
    """Run every schedule from every seed's random start to the last mark.

    Args:
        seeds: Start seeds (the env is reset with the seed; the agent's generator is
            ``(seed, 1)``, as ``aann search`` seeds it).
        marks: Cost marks to record the held-out accuracy at.
        schedules: SENSE schedules to run.
        scoring: The env's scoring arguments (default :data:`PROXY`).
        log: Append each point to this CSV as a run ends; the runs it already holds (every
            mark of that schedule and seed) are read back, not run again, so an interrupted
            check resumes.
        snapshots: Save a snapshot (network and JSON: cost spent, scoring rotation, held-out
            accuracy) at every mark in this folder (:mod:`agents.rl.starts` reads them).
    """
    folder = None if snapshots is None else Path(snapshots)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    for name in schedules:  # a bad name fails before any search runs
        hand_schedule(name)
    done = read(log) if log is not None and Path(log).exists() else []
    env = gym.make("AANN-MNIST-v0", max_episode_steps=-1, **dict(scoring or PROXY))
    points: list[Point] = []
    for seed in seeds:
        for name in schedules:
            kept = [p for p in done if (p.schedule, p.seed) == (name, seed) and p.mark in marks]
            if len({p.mark for p in kept}) == len(set(marks)):
                points += kept
                continue
            agent = hand_schedule(name)
            agent.rng = np.random.default_rng((seed, 1))
            env.reset(seed=seed)
            recorder = _Marks(name, seed, marks, folder)
            agent.run(env, Budget(cost=max(marks)), recorder)
            points += recorder.points
            if log is not None:
                append_rows(Path(log), recorder.points)
    env.close()
    return points


__all__ = ["HAND_SIZES", "PROXY", "Point", "curves", "hand_schedule", "read", "table"]
