"""The SENSE step's decision: which of K scored neighbours is best, and whether to move to it.

One implementation, used by the SENSE step of the search core
(:meth:`aann_env.envs.core.FamilySearch.sense_step`: the ``"layer"`` and ``"schedule"`` envs, the
SENSE and schedule agents), the proposal env and the layer team:

- **best**: by ``criterion``: ``"accuracy"`` takes the highest validation accuracy, the lowest
  loss breaking ties; ``"loss"`` the lowest loss, the highest accuracy breaking ties; remaining
  ties go to the first neighbour drawn.
- **gain**: ``(primary, secondary)``, what the best neighbour gains over the current network in
  the criterion's units (accuracy increase, loss decrease), then in the other's.
- **accept**: ``"always"`` moves; ``"better"`` moves if the gain is positive (lexicographically:
  a tie in the criterion is broken by the other); ``"no_worse"`` moves unless the criterion
  gets worse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Criterion = Literal["accuracy", "loss"]
AcceptRule = Literal["no_worse", "better", "always"]

CRITERIA: tuple[Criterion, ...] = ("accuracy", "loss")
ACCEPT_RULES: tuple[AcceptRule, ...] = ("no_worse", "better", "always")


@dataclass(frozen=True)
class Selection:
    """The decision of one SENSE step.

    Attributes:
        index: The best neighbour (a row of the scored swaps).
        gain: (primary, secondary) gain of the best neighbour, in the criterion's units first.
        accept: Whether to move to it.
    """

    index: int
    gain: tuple[float, float]
    accept: bool


def check_rules(criterion: str, accept: str) -> None:
    """Raise ValueError for an unknown criterion or accept rule."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    if accept not in ACCEPT_RULES:
        raise ValueError(f"accept must be one of {ACCEPT_RULES}, got {accept!r}")


def select(
    accuracy: np.ndarray,
    loss: np.ndarray,
    current_accuracy: float,
    current_loss: float,
    criterion: Criterion = "accuracy",
    accept: AcceptRule = "no_worse",
) -> Selection:
    """Pick the best of K scored neighbours and apply the accept rule (see the module docstring).

    Args:
        accuracy: (K,) validation accuracy of each neighbour.
        loss: (K,) validation loss of each neighbour.
        current_accuracy: The current network's validation accuracy.
        current_loss: The current network's validation loss.
        criterion: ``"accuracy"`` or ``"loss"``.
        accept: ``"no_worse"``, ``"better"`` or ``"always"``.
    """
    check_rules(criterion, accept)
    if len(accuracy) == 0:
        raise ValueError("select needs at least one scored neighbour")
    if criterion == "accuracy":
        best = int(np.lexsort((loss, -accuracy))[0])
        gain = (float(accuracy[best] - current_accuracy), float(current_loss - loss[best]))
    else:
        best = int(np.lexsort((-accuracy, loss))[0])
        gain = (float(current_loss - loss[best]), float(accuracy[best] - current_accuracy))
    moves = accept == "always" or gain > (0.0, 0.0) or (accept == "no_worse" and gain[0] >= 0.0)
    return Selection(best, gain, moves)
