"""Late-phase episodes from snapshots of long searches (issue 26).

A schedule matters most late in a long search, when the output layer is exhausted and conv
swaps pay off. Training a policy on whole long searches pays for the early phase every episode;
instead, :func:`agents.rl.proxy.curves` saves snapshots along hand-schedule searches (network,
cost spent, scoring rotation), and :class:`SnapshotStarts` resets the schedule env to one of
them: ``reset(options={"init": net, "spent": s, "budget": B, "scoring": ..., "reference":
...})``, so an episode is the rest of a search of budget ``B`` from cost ``s`` on. The reference
curve for ``reward="reference"`` is the better hand schedule's held-out accuracy from the same
start seed at each cost (:func:`reference_curve`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from aann_env.core.network import TernaryNetwork
from agents.rl.points import Point


@dataclass(frozen=True)
class Snapshot:
    """A saved point of a hand-schedule search: a start for a late-phase episode."""

    path: Path
    schedule: str
    seed: int
    spent: float
    held_out: float
    scoring: dict[str, int]


def load_snapshots(folder: str | os.PathLike[str]) -> list[Snapshot]:
    """The snapshots :func:`agents.rl.proxy.curves` saved in ``folder``, by name.

    Raises:
        ValueError: The folder holds none, or a snapshot's JSON is malformed.
    """
    out = []
    for meta_path in sorted(Path(folder).glob("*.json")):
        try:
            meta = json.loads(meta_path.read_text())
            out.append(
                Snapshot(
                    meta_path.parent / meta["network"],
                    str(meta["schedule"]),
                    int(meta["seed"]),
                    float(meta["cost"]),
                    float(meta["held_out"]),
                    {k: int(v) for k, v in meta["scoring"].items()},
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"{meta_path} is not a snapshot of aann rl proxy ({exc}); remove it or run "
                "the proxy check again with --snapshots"
            ) from exc
    if not out:
        raise ValueError(f"{folder} holds no snapshots: run aann rl proxy with --snapshots")
    return out


def reference_curve(
    points: Sequence[Point], seed: int, schedules: Sequence[str] = ("fc", "adaptive")
) -> list[tuple[float, float]]:
    """Per cost mark, the best held-out accuracy of ``schedules`` from start ``seed``.

    Raises:
        ValueError: No point of those schedules from that seed.
    """
    marks: dict[float, float] = {}
    for p in points:
        if p.seed == seed and p.schedule in schedules:
            marks[p.mark] = max(marks.get(p.mark, 0.0), p.held_out)
    if not marks:
        raise ValueError(f"no proxy points of {list(schedules)} from seed {seed}")
    return sorted(marks.items())


class SnapshotStarts(gym.Wrapper):
    """Reset a schedule env to a snapshot drawn uniformly (from a generator seeded by the
    reset's seed), with the long search's budget and the reference curve of its seed.

    Args:
        env: A schedule env (``action_mode="schedule"``) scoring as the proxy does.
        snapshots: The starts (:func:`load_snapshots`).
        budget: The long search's budget; snapshots at or past it are left out.
        points: The proxy points the reference curves come from (None: no reference).
    """

    def __init__(
        self,
        env: gym.Env,
        snapshots: Sequence[Snapshot],
        budget: float,
        points: Sequence[Point] | None = None,
    ) -> None:
        super().__init__(env)
        self.snapshots = [s for s in snapshots if s.spent < budget]
        if not self.snapshots:
            raise ValueError(f"no snapshot was taken before the budget {budget:,.0f}")
        self.budget = float(budget)
        self.points = None if points is None else list(points)
        self._rng = np.random.default_rng()
        self.start: Snapshot | None = None
        """The snapshot of the current episode."""

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.start = s = self.snapshots[int(self._rng.integers(len(self.snapshots)))]
        start = {
            "init": TernaryNetwork.load(s.path),
            "spent": s.spent,
            "budget": self.budget,
            "scoring": s.scoring,
        }
        if self.points is not None:
            start["reference"] = reference_curve(self.points, s.seed)
        obs, info = self.env.reset(seed=seed, options={**start, **(options or {})})
        info["snapshot"] = s.path.name
        return obs, info


__all__ = ["Snapshot", "SnapshotStarts", "load_snapshots", "reference_curve"]
