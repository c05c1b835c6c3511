"""A hand rule that schedules decisions from observation v2: the teacher a policy is cloned from.

The rule acts where a learned schedule policy acts (one decision of the schedule env, a share of
the budget in one layer) and sees only what it sees (observation v2 of
:mod:`aann_env.envs.schedule_v2`), so a policy network can imitate it exactly before it is
fine-tuned (:mod:`agents.rl.clone`), and it runs as a contender of ``aann rl eval`` and of the
proxy check (``rule:RATE``) through the same agent as a trained policy
(:class:`agents.rl.agent.RLSchedule`):

1. the output layer while it has not been tried or its recent held-out gain per unit of cost
   is at least ``handoff_rate`` (the fast early climb);
2. then each layer not tried yet, from the output down (the cheapest to score first);
3. then a layer not chosen for ``stale`` decisions (the stalest), so that no layer's gain rate
   stays an old figure;
4. otherwise the layer with the highest recent gain per unit of cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aann_env.envs.schedule_v2 import age_feature, rate_feature
from agents.rl.config import RLConfig

RULE_SIZES: dict[str, tuple[int, ...]] = {"fc": (64,), "2.0": (32,), "1.0": (8,)}
"""The neighbourhood sizes of the rule and of the policies cloned from it (MNIST): fc 64 swaps
(the fastest climb per unit of cost, issue 26) and ``aann search``'s conv sizes; one size per
layer, so an action is a layer."""

RULE_DECISIONS = 40
"""Decisions per search (each a 40th of the budget)."""


def parse_rule(name: str) -> float:
    """The handoff rate of ``"rule:RATE"``.

    Raises:
        ValueError: Not such a name.
    """
    kind, _, rate = name.partition(":")
    try:
        value = float(rate)
    except ValueError:
        value = -1.0
    if kind != "rule" or not value > 0.0:
        raise ValueError(f"a hand rule is rule:RATE with RATE > 0 (e.g. rule:1e-7), got {name!r}")
    return value


@dataclass
class HandRule:
    """The rule of the module docstring, with the interface of :class:`agents.rl.policy.Policy`
    that :class:`agents.rl.agent.RLSchedule` uses (``act``, ``config``, ``observation_shape``,
    ``path``, ``provenance``).

    Args:
        handoff_rate: Held-out accuracy gained per unit of cost below which the output layer's
            phase ends (a fraction per unit: 1e-7 is 0.1 points per 10,000 units).
        stale: Decisions after which a layer not chosen is chosen again.
        decisions: Decisions per search.
    """

    handoff_rate: float = 1e-7
    stale: int = 8
    decisions: int = RULE_DECISIONS
    n_layers: int = 3
    config: RLConfig = field(init=False)
    path: Path = field(init=False)
    provenance: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        if not self.handoff_rate > 0.0:
            raise ValueError(f"handoff_rate must be > 0, got {self.handoff_rate}")
        if self.stale < 1:
            raise ValueError(f"stale must be a positive number of decisions, got {self.stale}")
        self.config = RLConfig(
            observation_version=2,
            decisions=self.decisions,
            neighborhood_sizes=dict(RULE_SIZES),
            reward="held_out",
            score_on="train",
            criterion="loss",
        )
        self.path = Path(self.name)
        self.provenance = {"rule": self.name, "sha256": None}
        self._rate = rate_feature(self.handoff_rate)
        self._stale = age_feature(self.stale)

    @property
    def name(self) -> str:
        return f"rule:{self.handoff_rate:g}"

    @property
    def observation_shape(self) -> tuple[int, ...]:
        return (3 * self.n_layers + 5,)

    def act(self, obs: np.ndarray) -> int:
        """The layer to spend the next decision in (the action of a one-size table)."""
        n = self.n_layers
        rates, ages = obs[0 : 3 * n : 3], obs[1 : 3 * n : 3]
        out = n - 1
        if ages[out] >= 1.0 or rates[out] >= self._rate:
            return out
        untried = [layer for layer in range(n) if ages[layer] >= 1.0]
        if untried:
            return max(untried)  # the nearest the output: the cheapest to score
        if float(ages.max()) >= self._stale:
            return int(np.argmax(ages))
        return int(np.argmax(rates))

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> tuple[np.ndarray, None]:
        """SB3's ``predict`` for one observation or a batch (the cloning rollouts use it)."""
        obs = np.asarray(obs)
        if obs.ndim == 1:
            return np.asarray(self.act(obs)), None
        return np.array([self.act(o) for o in obs]), None


__all__ = ["RULE_DECISIONS", "RULE_SIZES", "HandRule", "parse_rule"]
