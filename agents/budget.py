"""What a search may spend (:class:`Budget`) and what one of its steps did (:class:`StepInfo`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """When a search stops: after ``evals`` neighbour evaluations, ``seconds`` of wall time or
    ``cost`` of evaluation cost (neighbours weighted by their layer's cost, the schedule env's
    cost model in :mod:`aann_env.envs.schedule`), whichever comes first."""

    evals: int | None = None
    seconds: float | None = None
    cost: float | None = None

    def __post_init__(self) -> None:
        if self.evals is None and self.seconds is None and self.cost is None:
            raise ValueError("a budget needs evals, seconds, cost or several")
        if self.cost is not None and not self.cost > 0:
            raise ValueError(f"budget cost must be positive, got {self.cost}")
        if self.evals is not None and self.evals <= 0:
            raise ValueError(f"budget evals must be positive, got {self.evals}")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"budget seconds must be positive, got {self.seconds}")

    def exhausted(self, evals: int, seconds: float, cost: float = 0.0) -> bool:
        return self.fraction(evals, seconds, cost, clip=False) >= 1.0

    def fraction(self, evals: int, seconds: float, cost: float = 0.0, clip: bool = True) -> float:
        """How much of the budget is spent, in [0, 1] (the largest of the fractions)."""
        parts = []
        if self.evals is not None:
            parts.append(evals / self.evals)
        if self.seconds is not None:
            parts.append(seconds / self.seconds)
        if self.cost is not None:
            parts.append(cost / self.cost)
        return float(min(1.0, max(parts))) if clip else float(max(parts))


@dataclass(frozen=True)
class StepInfo:
    """What one agent step did."""

    step: int
    evals: int
    wall_time: float
    layer: str
    committed: bool
    val_accuracy: float
    val_loss: float
    best_val_accuracy: float
    score_accuracy: float | None = None
    """Accuracy on the scoring images when they are not the validation images (else None)."""
    score_loss: float | None = None
