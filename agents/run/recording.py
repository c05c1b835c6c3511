"""The callbacks that record a search in its run directory, one concern each.

:class:`HistoryCallback` writes a ``history.csv`` row per step, :class:`CheckpointCallback`
checkpoints at the steps that :class:`CheckpointSchedule` picks (the two agree on which steps
those are, so a checkpoint step's row carries its test accuracy), and :class:`SafePoint` keeps the
state after the latest completed step for a search whose scorer may fail mid-step.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from aann_env.core.network import TernaryNetwork
from aann_env.runs.history import CsvLog
from agents.base import BaseCallback
from agents.budget import StepInfo
from agents.run.session import Search


class CheckpointSchedule:
    """When a step is a checkpoint: every ``seconds`` of wall time, and every ``steps`` steps.

    The decision is made once per step, so the history row and the checkpoint of that step agree.
    """

    def __init__(self, seconds: float, steps: int | None) -> None:
        self.seconds = seconds
        self.steps = steps
        self._last = time.perf_counter()
        self._decided: tuple[int, bool] = (-1, False)

    def due(self, step: int) -> bool:
        if self._decided[0] != step:
            due = time.perf_counter() - self._last >= self.seconds
            due = due or (self.steps is not None and step % self.steps == 0)
            self._decided = (step, due)
        return self._decided[1]

    def done(self) -> None:
        self._last = time.perf_counter()


class HistoryCallback(BaseCallback):
    """Writes one ``history.csv`` row per step, with the test accuracy at checkpoint steps."""

    def __init__(self, log: CsvLog, schedule: CheckpointSchedule, search: Search) -> None:
        super().__init__()
        self.log = log
        self.schedule = schedule
        self.search = search

    def _on_step(self, info: StepInfo) -> bool:
        due = self.schedule.due(info.step)
        test = self.search.env.unwrapped.test_accuracy() if due else None
        self.log.append(self.search.row(info, test))
        return True


class CheckpointCallback(BaseCallback):
    """Checkpoints at the schedule's steps (after that step's history row).

    Args:
        checkpoint: Writes the checkpoint.
        schedule: The steps to checkpoint at.
    """

    def __init__(self, checkpoint: Callable[[], None], schedule: CheckpointSchedule) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.schedule = schedule

    def _on_step(self, info: StepInfo) -> bool:
        if self.schedule.due(info.step):
            self.checkpoint()
            self.schedule.done()
        return True


class SafePoint(BaseCallback):
    """Keeps the state after the latest completed step (a few small dicts), so that a search
    whose scorer (a Ray actor) is lost in the middle of a step can checkpoint where it last stood.

    A lost actor is noticed when the driver waits on the actors (a round's scores, or a commit
    broadcast, which goes out before the driver's own commit), so the networks are still those of
    the last completed step; only the generators and counters moved on, and the kept state puts
    them back.

    Args:
        state: The checkpoint state of the run as it stands (besides the networks).
    """

    def __init__(self, state: Callable[[], dict[str, Any]]) -> None:
        super().__init__()
        self.state_of_run = state
        self.state: dict[str, Any] | None = None
        self.best: TernaryNetwork | None = None
        self.step = 0

    def _on_run_start(self) -> None:
        self._keep()

    def _on_step(self, info: StepInfo) -> bool:
        self._keep()
        return True

    def _keep(self) -> None:
        assert self.agent is not None
        self.state = copy.deepcopy(self.state_of_run())
        self.best = self.agent.best_network  # replaced, never changed in place
        self.step = self.agent.steps


__all__ = ["CheckpointCallback", "CheckpointSchedule", "HistoryCallback", "SafePoint"]
