"""A search run: one :class:`~agents.run.session.Search` recorded, checkpointed and resumed in a
run directory.

A search's run directory (:class:`aann_env.runs.directory.RunDirectory`) holds:

| file | content |
|---|---|
| ``config.json`` | the :class:`~agents.run.config.SearchConfig` (and the layer names), written once |
| ``history.csv`` | one row per agent step (:data:`aann_env.runs.history.SEARCH_COLUMNS`); test accuracy at checkpoints only |
| ``best.npz``, ``current.npz`` | the best and the current network, in the core's network format |
| ``checkpoint.npz`` | everything needed to continue (:class:`aann_env.runs.snapshot.Snapshot`): both networks, the env's and the agent's generator states, counters and the number of history rows; ``checkpoint.prev.npz`` is the one before |
| ``summary.json`` | final figures, written when the run ends |
| ``run.lock`` | held by the process writing the run: a second writer fails at once |

A run killed at any moment (even ``kill -9``) resumes from its last checkpoint: history rows
written after it are dropped and recomputed, and because every random draw comes from the saved
generators the search continues the very trajectory it would have taken.

With ``workers`` the neighbourhoods are scored by the scorer that the run's
:data:`~agents.run.scorer.ScorerFactory` builds (``aann search`` passes Ray actors,
:func:`agents.distributed.neighbour_pool`), with the very scores of one process, so the
trajectory does not depend on it and a resume may change it. When the scorer fails
(:class:`~agents.run.scorer.ScorerError`) the run checkpoints the last step it completed, then
fails with an error of the same class that says how to resume.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aann_env.errors import CheckpointError
from aann_env.runs.directory import RunDirectory
from aann_env.runs.history import CsvLog
from aann_env.runs.snapshot import Snapshot
from agents.base import BaseCallback
from agents.callbacks import CallbackList, ProgressBarCallback
from agents.run.config import RESUMABLE_FIELDS, SearchConfig
from agents.run.recording import CheckpointCallback, CheckpointSchedule, HistoryCallback, SafePoint
from agents.run.scorer import Scorer, ScorerError, ScorerFactory
from agents.run.session import Search


class SearchRun:
    """One search, recorded in ``out_dir``.

    Args:
        out_dir: The run directory.
        config: The configuration of a new run; with ``resume`` it may be given to change
            :data:`~agents.run.config.RESUMABLE_FIELDS` (budgets, workers), but must otherwise
            match the stored one.
        resume: Continue the run in ``out_dir`` from its last checkpoint.
        scorer: Builds the scorer of the neighbourhoods when the config has ``workers``
            (required then).

    Raises:
        CheckpointError: A new run in a directory that holds one, nothing to resume, or a resume
            whose config differs from the stored one.
        ValueError: ``workers`` without a ``scorer``.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        config: SearchConfig | None = None,
        resume: bool = False,
        scorer: ScorerFactory | None = None,
    ) -> None:
        self.dir = Path(out_dir)
        self.directory = RunDirectory(self.dir, ".npz")
        self.resume = resume
        self.config: SearchConfig = self.directory.configure(
            config,
            resume,
            SearchConfig.from_dict,
            SearchConfig.trajectory_fields,
            RESUMABLE_FIELDS,
        )
        self.scorer_factory = scorer
        self.scorer: Scorer | None = None
        """The scorer of the neighbourhoods while the run runs with ``workers``."""
        self.search: Search | None = None
        """The session, while the run runs and after."""
        self._log: CsvLog | None = None

    @property
    def history_path(self) -> Path:
        return self.dir / "history.csv"

    @property
    def checkpoint_path(self) -> Path:
        return self.directory.checkpoint_path

    # -------------------------------------------------------------------------- checkpoints
    def state(self) -> dict[str, Any]:
        """The checkpoint state of the run as it stands (besides the networks)."""
        assert self.search is not None and self._log is not None
        return {
            **self.search.state(),
            "history_rows": self._log.rows,
            "trajectory_key": self.config.trajectory_key(),
        }

    def checkpoint(self) -> None:
        """Save the checkpoint and the current and best networks."""
        assert self.search is not None and self.search.agent.best_network is not None
        snapshot = Snapshot(self.search.network, self.search.agent.best_network, self.state())
        self.directory.save_snapshot(snapshot)

    def _accept(self, snapshot: Snapshot) -> str | None:
        if snapshot.state.get("trajectory_key") != self.config.trajectory_key():
            return "belongs to another configuration"
        return None

    # ---------------------------------------------------------------------------------- run
    def run(self, progress: bool = True, callback: BaseCallback | None = None) -> dict[str, Any]:
        """Run (or continue) the search to its budget; return the summary.

        Args:
            progress: Show a progress bar.
            callback: Also called after every step, after the run's own history and checkpoint
                callbacks; returning False stops the search (which can be resumed).

        Raises:
            RunLockedError: Another process is writing this run directory.
            ValueError: ``workers`` is set and the run has no scorer factory.
            ScorerError: The scorer failed (a Ray actor was lost: ``WorkerError``); the run
                checkpointed its last completed step.
        """
        cfg = self.config
        if cfg.workers is not None and self.scorer_factory is None:
            raise ValueError(
                f"workers={cfg.workers} needs a scorer factory: SearchRun(..., "
                "scorer=agents.distributed.neighbour_pool)"
            )
        with self.directory.lock:
            self.search = search = Search(cfg)
            if self.scorer_factory is not None and cfg.workers is not None:
                self.scorer = self.scorer_factory(search.env, int(cfg.workers), cfg.ray_address)
            self._log = log = self.directory.log("history.csv", cfg.history_columns())
            try:
                self._start(search, log)
                if self.scorer is not None:
                    search.env.unwrapped.attach_scorer(self.scorer)
                self._search(search, progress, callback)
            finally:
                log.close()
                if self.scorer is not None:
                    self.scorer.close()
            summary = {**search.summary(), "best_path": str(self.dir / "best.npz")}
            self.directory.write_summary(summary)
        return summary

    def _start(self, search: Search, log: CsvLog) -> None:
        """Reset the session to the run's start (new run) or to its last checkpoint (resume)."""
        if self.resume:
            snapshot = self.directory.load_snapshot(self._accept)
            if snapshot is None:
                raise CheckpointError(
                    f"cannot resume {self.dir}: no usable checkpoint (checkpoint.npz: missing). "
                    "Start the run again in a new directory"
                )
            search.restore(snapshot)
            log.resume(int(snapshot.state["history_rows"]))
            return
        row = search.start()
        layer_names = list(search.network.layer_names)
        self.directory.write_config({**self.config.to_dict(), "layer_names": layer_names})
        log.create()
        log.append(row)

    def _search(self, search: Search, progress: bool, callback: BaseCallback | None) -> None:
        """Run the agent with the run's callbacks; checkpoint at the end, or when the scorer
        fails."""
        cfg = self.config
        assert self._log is not None
        schedule = CheckpointSchedule(cfg.checkpoint_seconds, cfg.checkpoint_steps)
        safepoint = SafePoint(self.state)  # only a run with a scorer can lose one
        callbacks: list[BaseCallback] = [
            HistoryCallback(self._log, schedule, search),
            CheckpointCallback(self.checkpoint, schedule),
            *([safepoint] if self.scorer is not None else []),
        ]
        if progress:
            callbacks.append(ProgressBarCallback(cfg.budget_evals, cfg.agent))
        if callback is not None:
            callbacks.append(callback)
        try:
            search.advance(cfg.budget(), CallbackList(callbacks))
        except ScorerError as exc:
            raise self._lost(exc, search, safepoint) from exc
        self.checkpoint()

    def _lost(self, exc: ScorerError, search: Search, safepoint: SafePoint) -> ScorerError:
        """Checkpoint the last completed step after the scorer failed; the error to raise."""
        if safepoint.state is None or safepoint.best is None:
            return type(exc)(f"{exc}; the search had not started, nothing was checkpointed")
        self.directory.save_snapshot(Snapshot(search.network, safepoint.best, safepoint.state))
        return type(exc)(
            f"{exc}. {self.dir} holds a checkpoint of step {safepoint.step}: resume with "
            f"`aann search --out {self.dir} --resume` (--workers N to change the actors)"
        )


__all__ = ["SearchRun"]
