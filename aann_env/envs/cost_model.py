"""What a SENSE step costs, in evaluation-cost units: neighbours scored, or measured time.

Two models share one shape, :class:`CostModel`: a step of ``evals`` neighbours in layer ``l``
costs ``evals * neighbour[l] + step[l]``, plus ``commit[l]`` when it commits its best swap.

| name | what a unit is | per-step and commit costs |
|---|---|---|
| ``"neighbours"`` (default) | one output-layer neighbour scored; other layers by the fixed ratios of :data:`aann_env.envs.schedule.LAYER_COSTS` | none |
| ``"calibrated"`` | the measured time of scoring one output-layer neighbour (:data:`CALIBRATION_FILE`) | measured: sampling, kernel start and bookkeeping of every step, a share of moving the scoring batch, and both evaluators' updates on a commit |

The neighbour count is deterministic and machine-free, so budgets in it replay exactly anywhere;
but it makes small neighbourhoods look cheaper than they are (a step of 64 output-layer swaps
spends about as long on its fixed costs as on its scoring). Under ``"calibrated"`` a budget of
cost units takes about the same wall time whatever the schedule, so an agent that spends it is
compared with others in something close to seconds. Both models stay deterministic: the costs
are constants, measured once by ``benchmarks/step_cost.py --write`` (the file names the run).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from aann_env.envs.schedule import LAYER_COSTS

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
"""The measured constants of the ``"calibrated"`` model (written by ``benchmarks/step_cost.py
--write``)."""

COST_MODELS = ("neighbours", "calibrated")
"""The names :func:`cost_model` knows."""


@dataclass(frozen=True)
class CostModel:
    """The cost of a SENSE step (module docstring).

    Attributes:
        name: The model's name.
        neighbour: Cost of scoring one neighbour, per layer name (layers not named cost 1).
        step: Fixed cost of one step, per layer name (layers not named: 0).
        commit: Extra cost of a step that commits, per layer name (layers not named: 0).
        unit_seconds: Seconds one unit took where the model was measured (None: not a time).
        source: Where the constants come from.
    """

    name: str
    neighbour: Mapping[str, float]
    step: Mapping[str, float] = field(default_factory=dict)
    commit: Mapping[str, float] = field(default_factory=dict)
    unit_seconds: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        for what, table in (
            ("neighbour", self.neighbour),
            ("step", self.step),
            ("commit", self.commit),
        ):
            bad = {
                k: v for k, v in table.items() if not (float(v) >= 0 and float(v) < float("inf"))
            }
            if bad or (what == "neighbour" and any(float(v) == 0 for v in table.values())):
                raise ValueError(
                    f"cost model {self.name!r}: {what} costs must be finite and "
                    f"{'positive' if what == 'neighbour' else 'non-negative'}, got {dict(table)}"
                )

    def step_cost(self, layer: str, evals: int, committed: bool = False) -> float:
        """The cost of one step of ``evals`` neighbours in ``layer`` (committed or not).

        Under ``"neighbours"`` this is exactly ``evals * LAYER_COSTS[layer]``, the cost every
        budget was counted in before the model existed.
        """
        return evals * float(self.neighbour.get(layer, 1.0)) + self.overhead(layer, committed)

    def overhead(self, layer: str, committed: bool = False) -> float:
        """What a step of ``layer`` costs besides its neighbours: its fixed cost, plus the
        commit's if it committed (0 under ``"neighbours"``, and ``x + 0.0 == x``)."""
        cost = float(self.step.get(layer, 0.0))
        if committed:
            cost += float(self.commit.get(layer, 0.0))
        return cost

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "neighbour": dict(self.neighbour),
            "step": dict(self.step),
            "commit": dict(self.commit),
            "unit_seconds": self.unit_seconds,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> CostModel:
        """The model of :meth:`to_dict`'s record.

        Raises:
            ValueError: The record lacks a field or holds a bad number.
        """
        try:
            return cls(
                name=str(record["name"]),
                neighbour={str(k): float(v) for k, v in record["neighbour"].items()},
                step={str(k): float(v) for k, v in record.get("step", {}).items()},
                commit={str(k): float(v) for k, v in record.get("commit", {}).items()},
                unit_seconds=(
                    None if record.get("unit_seconds") is None else float(record["unit_seconds"])
                ),
                source=str(record.get("source", "")),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a cost model record ({exc!r}): {dict(record)}") from None


NEIGHBOURS = CostModel(
    "neighbours", dict(LAYER_COSTS), source="fixed ratios (schedule.LAYER_COSTS)"
)
"""The default: neighbours scored, weighted by :data:`~aann_env.envs.schedule.LAYER_COSTS`."""


@cache
def _calibrated(path: Path) -> CostModel:
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(
            f"the calibrated cost model needs {path}; measure it with "
            "`.venv/bin/python benchmarks/step_cost.py --write`"
        ) from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path} is not valid JSON ({exc}); rewrite it with "
            "`.venv/bin/python benchmarks/step_cost.py --write`"
        ) from None
    model = CostModel.from_dict(record)
    if model.name != "calibrated":
        raise ValueError(f"{path} holds the cost model {model.name!r}, not 'calibrated'")
    return model


def cost_model(name: str | CostModel) -> CostModel:
    """The model called ``name`` (:data:`COST_MODELS`); a model is returned as it is.

    Raises:
        ValueError: Unknown name, or the calibration file is missing or malformed.
    """
    if isinstance(name, CostModel):
        return name
    if name == "neighbours":
        return NEIGHBOURS
    if name == "calibrated":
        return _calibrated(CALIBRATION_FILE)
    raise ValueError(f"unknown cost model {name!r}; cost models: {', '.join(COST_MODELS)}")
