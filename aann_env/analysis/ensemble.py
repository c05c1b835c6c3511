"""Ensembles of networks (family members): accuracy against ensemble size.

Two ways to combine M members' logits (each (N, C)):

- ``"vote"``: each member votes for its predicted class; the class with most votes wins, and a tie
  goes to the tied class with the largest summed logits (then to the first such class).
- ``"logits"``: the class with the largest sum of the members' logits.

For each ensemble size m, :func:`ensemble_curve` scores every m-subset of the members, or
``max_subsets`` distinct random ones when there are more, and reports their mean, smallest and
largest accuracy; it also scores the ensemble a user would build without the test set: the m
members best by validation accuracy (``ranked``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aann_env.analysis.records import write_csv, write_json

RULES = ("vote", "logits")
"""How :func:`ensemble_predictions` combines members."""


def ensemble_predictions(logits: torch.Tensor, rule: str) -> torch.Tensor:
    """(N,) predicted classes of the ensemble of all members in ``logits`` (M, N, C)."""
    summed = logits.to(torch.float64).sum(0)  # (N, C)
    if rule == "logits":
        return summed.argmax(-1)
    if rule != "vote":
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    votes = torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).sum(0)  # (N, C)
    tied = votes == votes.max(-1, keepdim=True).values
    return torch.where(tied, summed, torch.full_like(summed, -math.inf)).argmax(-1)


def ensemble_accuracy(logits: torch.Tensor, labels: torch.Tensor, rule: str) -> float:
    """Accuracy of the ensemble of all members in ``logits`` (M, N, C)."""
    return float((ensemble_predictions(logits, rule) == labels).double().mean())


def default_sizes(m: int) -> list[int]:
    """1, 2, 4, ... up to ``m`` members, and ``m``."""
    return sorted({*(2**i for i in range(m.bit_length())), m})


def _subsets(
    m: int, size: int, max_subsets: int, rng: np.random.Generator
) -> list[tuple[int, ...]]:
    """Every ``size``-subset of ``range(m)``, or ``max_subsets`` distinct random ones."""
    if math.comb(m, size) <= max_subsets:
        return list(itertools.combinations(range(m), size))
    seen: set[tuple[int, ...]] = set()
    while len(seen) < max_subsets:
        seen.add(tuple(sorted(rng.choice(m, size, replace=False).tolist())))
    return sorted(seen)


@dataclass
class EnsembleCurve:
    """Ensemble accuracy against size.

    Attributes:
        names: The members' labels.
        member_accuracy: (M,) each member's own accuracy on the scored split.
        ranking: Member indices, best validation accuracy first (the ``ranked`` ensembles).
        rows: One dict per (size, rule): ``size``, ``rule``, ``subsets``, ``mean``, ``min``,
            ``max``, ``ranked``.
        meta: What produced it, copied into the summary.
    """

    names: list[str]
    member_accuracy: np.ndarray
    ranking: list[int]
    rows: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, out_dir: str | Path) -> list[Path]:
        """Write ``ensemble.csv`` (one row per size and rule) and ``ensemble.json``."""
        out = Path(out_dir)
        cols = ("size", "rule", "subsets", "mean", "min", "max", "ranked")
        summary = {
            **self.meta,
            "members": self.names,
            "member_accuracy": self.member_accuracy.tolist(),
            "ranking": [self.names[i] for i in self.ranking],
            "rows": self.rows,
        }
        return [
            write_csv(out / "ensemble.csv", cols, ([r[c] for c in cols] for r in self.rows)),
            write_json(out / "ensemble.json", summary),
        ]


def ensemble_curve(
    logits: torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    names: Sequence[str],
    *,
    sizes: Sequence[int] | None = None,
    ranking: Sequence[int] | None = None,
    max_subsets: int = 50,
    seed: int = 0,
) -> EnsembleCurve:
    """Accuracy of ensembles of each size, by vote and by summed logits.

    Args:
        logits: (M, N, C) logits of the members on the scored split (usually test).
        labels: (N,) labels of that split.
        names: A label per member.
        sizes: Ensemble sizes (each in 1..M); default :func:`default_sizes`.
        ranking: Member indices in the order the ``ranked`` ensembles take them (best
            validation accuracy first); default: the given order.
        max_subsets: Most subsets scored per size.
        seed: Seed of the random subsets.

    Raises:
        ValueError: A size outside 1..M, or a ranking that is not a permutation of the members.
    """
    m = len(logits)
    if len(names) != m:
        raise ValueError(f"{m} members' logits but {len(names)} names")
    sizes = default_sizes(m) if sizes is None else sizes
    bad = [s for s in sizes if not 1 <= s <= m]
    if bad:
        raise ValueError(f"ensemble sizes must be in 1..{m} (the number of members), got {bad}")
    order = list(range(m)) if ranking is None else [int(i) for i in ranking]
    if sorted(order) != list(range(m)):
        raise ValueError(f"ranking must be a permutation of 0..{m - 1}, got {order}")
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    rng = np.random.default_rng(seed)
    rows = []
    for size in sizes:
        subsets = _subsets(m, size, max_subsets, rng)
        for rule in RULES:
            acc = [ensemble_accuracy(logits[list(s)], y, rule) for s in subsets]
            rows.append(
                {
                    "size": int(size),
                    "rule": rule,
                    "subsets": len(subsets),
                    "mean": float(np.mean(acc)),
                    "min": float(np.min(acc)),
                    "max": float(np.max(acc)),
                    "ranked": ensemble_accuracy(logits[order[:size]], y, rule),
                }
            )
    member = (logits.argmax(-1) == y).double().mean(-1).numpy()
    return EnsembleCurve([str(n) for n in names], member, order, rows)
