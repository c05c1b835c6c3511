"""Callbacks in the Stable-Baselines3 style, one concern per class.

:meth:`BaseCallback.on_step` counts, then calls the one abstract :meth:`BaseCallback._on_step`;
returning False stops the search. The base lives with the loop that calls its hooks
(:mod:`agents.base`, re-exported here); :class:`CallbackList` chains callbacks in order, and
:class:`ProgressBarCallback` shows a progress bar. The run directory's own callbacks (history
rows and checkpoints) live with the run lifecycle (:mod:`agents.run.recording`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aann_env.progress import progress_bar
from agents.base import BaseCallback
from agents.budget import StepInfo


class CallbackList(BaseCallback):
    """Several callbacks called in order; the search stops if any returns False."""

    def __init__(self, callbacks: Sequence[BaseCallback]) -> None:
        super().__init__()
        self.callbacks = list(callbacks)

    def _init_callback(self) -> None:
        assert self.agent is not None and self.env is not None
        for cb in self.callbacks:
            cb.init_callback(self.agent, self.env)

    def _on_run_start(self) -> None:
        for cb in self.callbacks:
            cb.on_run_start()

    def _on_step(self, info: StepInfo) -> bool:
        keep_going = True
        for cb in self.callbacks:
            keep_going = cb.on_step(info) and keep_going
        return keep_going

    def _on_run_end(self) -> None:
        for cb in self.callbacks:
            cb.on_run_end()


class ProgressBarCallback(BaseCallback):
    """A progress bar over evaluations with the current and best validation accuracy.

    On a terminal it redraws often; in a log file rarely (:mod:`aann_env.progress`).

    Args:
        total: Evaluations of the whole budget (None: an open-ended bar).
        desc: The bar's label.
    """

    def __init__(self, total: int | None = None, desc: str = "search") -> None:
        super().__init__()
        self.total = total
        self.desc = desc
        self._bar: Any = None

    def _on_run_start(self) -> None:
        assert self.agent is not None
        self._bar = progress_bar(
            total=self.total,
            initial=self.agent.evals,
            unit="eval",
            desc=self.desc,
            dynamic_ncols=True,
        )

    def _on_step(self, info: StepInfo) -> bool:
        if self._bar is not None:
            rate = info.evals / max(info.wall_time, 1e-9)
            self._bar.set_postfix(  # drawn by the update below, when the bar redraws
                val=f"{info.val_accuracy:.4f}",
                best=f"{info.best_val_accuracy:.4f}",
                evals_s=f"{rate:.0f}",
                refresh=False,
            )
            self._bar.update(info.evals - self._bar.n)
        return True

    def _on_run_end(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


__all__ = ["BaseCallback", "CallbackList", "ProgressBarCallback"]
