"""What defines a population search: :class:`PopulationConfig`, stored as a population run's
``config.json`` (the chains' search under ``"search"``), and what a resume may change.

See :mod:`agents.distributed.population` for the run itself.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents.distributed.chain import Segment
from agents.run.config import SearchConfig

DEFAULT_EXPLOIT_SECONDS = 60.0
"""Seconds of search per chain between exploits, unless exploit_evals is given."""
POPULATION_RESUMABLE = ("workers", "ray_address")
"""The population's own fields that a resume may change (its chains' are
:data:`agents.run.config.RESUMABLE_FIELDS`: the budgets)."""


@dataclass
class PopulationConfig:
    """Everything that defines a population search."""

    search: SearchConfig = field(default_factory=SearchConfig)
    """Each chain's search (budgets are per chain); chain ``i`` has seed ``search.seed + i``."""
    size: int = 4
    """Number of chains."""
    exploit_seconds: float | None = None
    """Seconds of each chain's search between exploits (default 60 without exploit_evals)."""
    exploit_evals: int | None = None
    """Evaluations of each chain between exploits: a deterministic population."""
    exploit_fraction: float = 0.25
    """Share of the chains (at least one) that take the best chain's network at an exploit."""
    workers: int | None = None
    """Ray actors the chains run on (None: one after another in this process)."""
    ray_address: str | None = None
    """The Ray cluster of the workers (None: a local Ray instance)."""

    def __post_init__(self) -> None:
        if int(self.size) < 1:
            raise ValueError(f"a population needs at least 1 chain, got {self.size}")
        if self.exploit_evals is not None and int(self.exploit_evals) < 1:
            raise ValueError(f"exploit_evals must be positive, got {self.exploit_evals}")
        if self.exploit_evals is not None and self.exploit_seconds is not None:
            raise ValueError("give exploit_evals or exploit_seconds, not both")
        if self.exploit_evals is None and self.exploit_seconds is None:
            self.exploit_seconds = DEFAULT_EXPLOIT_SECONDS
        if self.exploit_seconds is not None and not self.exploit_seconds > 0:
            raise ValueError(f"exploit_seconds must be positive, got {self.exploit_seconds}")
        if not 0.0 < self.exploit_fraction <= 0.5:
            raise ValueError(f"exploit_fraction must be in (0, 0.5], got {self.exploit_fraction}")
        if self.workers is not None and int(self.workers) < 1:
            raise ValueError(f"workers must be at least 1 Ray actor, got {self.workers}")

    def chain(self, index: int) -> SearchConfig:
        """Chain ``index``'s search: the population's, with seed ``seed + index``."""
        return dataclasses.replace(
            self.search, seed=self.search.seed + index, workers=None, ray_address=None
        )

    def segment(self, index: int) -> Segment:
        """Where segment ``index`` ends."""
        return Segment(index, self.exploit_evals, self.exploit_seconds)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["population"] = data.pop("size")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PopulationConfig:
        if "population" not in data or not isinstance(data.get("search"), dict):
            raise ValueError("not a population search's config (no 'population' and 'search')")
        values = {k: v for k, v in data.items() if k in {f.name for f in dataclasses.fields(cls)}}
        values["size"] = data["population"]
        values["search"] = SearchConfig.from_dict(data["search"])
        return cls(**values)

    def resumed(self, **changes: Any) -> PopulationConfig:
        """This population with some of :data:`~agents.run.config.RESUMABLE_FIELDS` changed
        (None values are ignored): ``workers`` and ``ray_address`` are the population's, the
        budgets its chains'."""
        own = {k: changes.pop(k) for k in POPULATION_RESUMABLE if changes.get(k) is not None}
        changes = {k: v for k, v in changes.items() if k not in POPULATION_RESUMABLE}
        return dataclasses.replace(self, search=self.search.resumed(**changes), **own)

    def trajectory_fields(self) -> dict[str, Any]:
        """The fields the population's results depend on (budgets and workers may change)."""
        return {
            "population": self.size,
            "exploit_seconds": self.exploit_seconds,
            "exploit_evals": self.exploit_evals,
            "exploit_fraction": self.exploit_fraction,
            "search": self.search.trajectory_fields(),
        }


def is_population(run_dir: str | os.PathLike[str]) -> bool:
    """Whether ``run_dir`` holds a population search (its ``config.json`` says so)."""
    path = Path(run_dir) / "config.json"
    try:
        return "population" in json.loads(path.read_text())
    except (OSError, ValueError, TypeError):
        return False


__all__ = ["DEFAULT_EXPLOIT_SECONDS", "POPULATION_RESUMABLE", "PopulationConfig", "is_population"]
