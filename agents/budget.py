"""What a search may spend (:class:`Budget`) and what one of its steps did (:class:`StepInfo`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """When a search stops: after ``evals`` neighbour evaluations or ``seconds`` of wall time."""

    evals: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.evals is None and self.seconds is None:
            raise ValueError("a budget needs evals, seconds or both")
        if self.evals is not None and self.evals <= 0:
            raise ValueError(f"budget evals must be positive, got {self.evals}")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"budget seconds must be positive, got {self.seconds}")

    def exhausted(self, evals: int, seconds: float) -> bool:
        return (self.evals is not None and evals >= self.evals) or (
            self.seconds is not None and seconds >= self.seconds
        )

    def fraction(self, evals: int, seconds: float) -> float:
        """How much of the budget is spent, in [0, 1] (the larger of the two fractions)."""
        parts = []
        if self.evals is not None:
            parts.append(evals / self.evals)
        if self.seconds is not None:
            parts.append(seconds / self.seconds)
        return float(min(1.0, max(parts)))


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
