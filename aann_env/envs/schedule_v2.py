"""The schedule formulation's second observation and its held-out rewards (issue 26).

**Observation v2** (``observation_version=2``) says what a schedule needs to decide *when* to
switch layers, which the first one could not (a layer's gain rate never aged, density and sign
balance do not move under swaps, ``tanh(100 r)`` saturated). ``Box(-1, 1, (3 L + 5,), float32)``:

| index | feature |
|---|---|
| ``3 l + 0`` | layer ``l``'s recent held-out gain per unit of cost (its last :data:`RECENT` decisions), on a signed log scale (:func:`rate_feature`); 0 before its first decision |
| ``3 l + 1`` | decisions since layer ``l`` was last chosen, ``2 a / (a + 4) - 1``; 1 before its first |
| ``3 l + 2`` | share of the SENSE steps of ``l``'s last decision that committed ``* 2 - 1`` (a plateau signal); 0 before its first |
| ``3 L + 0`` | held-out accuracy ``* 2 - 1`` |
| ``3 L + 1`` | decisions since the held-out accuracy last improved, ``2 d / (d + 4) - 1`` |
| ``3 L + 2`` | ``tanh(held-out loss - scoring loss)``: the generalisation gap |
| ``3 L + 3`` | fraction of the budget spent ``* 2 - 1`` |
| ``3 L + 4`` | the cost remaining, :func:`aann_env.envs.schedule.budget_feature` of it |

The held-out images are those ``val_accuracy`` is measured on (the validation selection set when
the env scores on the training split; the scoring images otherwise).

**Rewards.** ``reward="held_out"``: the change of held-out accuracy over the action.
``reward="reference"``: potential-based against a reference curve ``ref(cost)`` (held-out
accuracy of a hand schedule from the same start, passed to ``reset(options={"reference":
[(cost, accuracy), ...]})``), with potential ``held_out - ref(spent)``: an episode's rewards sum
to how far the policy ends above the reference minus how far it started above it, so a policy that
beats the hand schedule at the budget earns a positive return whatever the start.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces

from aann_env.envs.checks import SCHEDULE_REWARDS
from aann_env.envs.schedule import budget_feature

RECENT = 3
"""Decisions of a layer its gain rate is taken over."""

RATE_FLOOR, RATE_DECADES = 1e-9, 5.0
""":func:`rate_feature` maps gains per cost of ``RATE_FLOOR`` to 0 and ``RATE_FLOOR * 10 **
RATE_DECADES`` (1e-4) to 1 on a log scale: an fc step of 64 swaps that gains 0.1 points of
accuracy is 1.6e-5 (0.84), a conv ``1.0`` step of 8 swaps that gains 0.05 points 5e-8 (0.34)."""


def rate_feature(rate: float) -> float:
    """``sign(rate) * clip(log10(|rate| / RATE_FLOOR) / RATE_DECADES, 0, 1)``."""
    if rate == 0.0 or not np.isfinite(rate):
        return 0.0
    level = np.log10(abs(rate) / RATE_FLOOR) / RATE_DECADES
    return float(np.sign(rate) * np.clip(level, 0.0, 1.0))


def age_feature(n: int) -> float:
    """Decisions ``n`` as a feature: ``2 n / (n + 4) - 1`` (-1 at 0, 1 in the limit)."""
    return 2.0 * n / (n + 4.0) - 1.0


@dataclass
class LayerRecord:
    """What the observation remembers of one layer's decisions."""

    gains: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))
    costs: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))
    last_decision: int | None = None
    commit_share: float | None = None


class Progress:
    """The search's progress as observation v2 sees it: per layer, its recent decisions; globally,
    the decisions taken and the best held-out accuracy so far.

    Args:
        n_layers: Layers of the network.
    """

    def __init__(self, n_layers: int) -> None:
        self.n_layers = n_layers
        self.reset(0.0)

    def reset(self, held_out: float) -> None:
        self.layers = [LayerRecord() for _ in range(self.n_layers)]
        self.decisions = 0
        self.best = held_out
        self.best_decision = 0

    def record(self, layer: int, gain: float, cost: float, commits: int, steps: int) -> None:
        """A decision in ``layer`` that changed the held-out accuracy by ``gain`` for ``cost``,
        with ``commits`` of its ``steps`` SENSE steps committed."""
        self.decisions += 1
        rec = self.layers[layer]
        rec.gains.appendleft(gain)
        rec.costs.appendleft(cost)
        rec.last_decision = self.decisions
        rec.commit_share = commits / max(steps, 1)

    def held_out(self, accuracy: float) -> None:
        """Note the held-out accuracy after the latest decision."""
        if accuracy > self.best:
            self.best, self.best_decision = accuracy, self.decisions

    def state(self) -> dict[str, Any]:
        """JSON-able (the rl agent's checkpoints)."""
        return {
            "decisions": self.decisions,
            "best": self.best,
            "best_decision": self.best_decision,
            "layers": [
                [list(r.gains), list(r.costs), r.last_decision, r.commit_share] for r in self.layers
            ],
        }

    def load(self, state: dict[str, Any]) -> None:
        """Put back what :meth:`state` returned."""
        self.decisions = int(state["decisions"])
        self.best, self.best_decision = float(state["best"]), int(state["best_decision"])
        self.layers = [
            LayerRecord(deque(g, maxlen=RECENT), deque(c, maxlen=RECENT), last, share)
            for g, c, last, share in state["layers"]
        ]

    def observation(
        self, held_out: float, gap: float, fraction: float, remaining: float | None
    ) -> np.ndarray:
        """The v2 vector (module docstring): ``gap`` is held-out minus scoring loss,
        ``remaining`` the cost left (None without a budget)."""
        feats: list[float] = []
        for rec in self.layers:
            spent = float(sum(rec.costs))
            feats.append(rate_feature(float(sum(rec.gains)) / spent) if spent > 0 else 0.0)
            age = None if rec.last_decision is None else self.decisions - rec.last_decision
            feats.append(1.0 if age is None else age_feature(age))
            feats.append(0.0 if rec.commit_share is None else 2.0 * rec.commit_share - 1.0)
        feats += [
            2.0 * held_out - 1.0,
            age_feature(self.decisions - self.best_decision),
            float(np.tanh(gap)),
            2.0 * min(fraction, 1.0) - 1.0,
            budget_feature(None if remaining is None else max(remaining, 1.0)),
        ]
        return np.clip(np.asarray(feats, dtype=np.float32), -1.0, 1.0)


def observation_space(n_layers: int) -> spaces.Box:
    return spaces.Box(-1.0, 1.0, (3 * n_layers + 5,), np.float32)


class Reference:
    """A reference curve: held-out accuracy against cost spent, linear between its points and
    constant beyond them.

    Args:
        points: ``(cost, accuracy)`` pairs, at least one, costs non-negative and increasing.

    Raises:
        ValueError: The points are not such pairs.
    """

    def __init__(self, points: Sequence[Sequence[float]]) -> None:
        try:
            table = np.asarray(points, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"a reference is (cost, accuracy) pairs, got {points!r}") from exc
        if table.ndim != 2 or table.shape[1] != 2 or len(table) == 0:
            raise ValueError(f"a reference is (cost, accuracy) pairs, got shape {table.shape}")
        if not np.isfinite(table).all() or (table[:, 0] < 0).any():
            raise ValueError("a reference's costs must be finite and >= 0, its accuracies finite")
        if (np.diff(table[:, 0]) <= 0).any():
            raise ValueError("a reference's costs must increase")
        self.costs, self.accuracies = table[:, 0], table[:, 1]

    def __call__(self, cost: float) -> float:
        return float(np.interp(cost, self.costs, self.accuracies))


__all__ = [
    "RECENT",
    "SCHEDULE_REWARDS",
    "Progress",
    "Reference",
    "observation_space",
    "rate_feature",
]
