"""A run directory: what search runs (``aann search``) and p-SIREN runs (``aann train``) share.

| file | written | content |
|---|---|---|
| ``config.json`` | when the run starts | everything that defines the run |
| ``run.lock`` | while a process writes | who writes (see :mod:`aann_env.runs.lock`) |
| ``history.csv`` (and others) | as the run goes | one schema each (:mod:`aann_env.runs.history`) |
| ``checkpoint.<ext>`` | now and then | all the run needs to continue; the one before it is kept as ``checkpoint.prev.<ext>`` |
| ``current.npz``, ``best.npz`` | with a search's checkpoint | its current and best networks (:meth:`RunDirectory.save_snapshot`) |
| ``summary.json`` | when the run ends | its final figures |

A run starts in a directory without ``config.json`` and resumes in one with it. Everything
written is written under the lock, so a second process fails at once instead of interleaving its
rows and networks with the first's. Checkpoints are written atomically; loading one falls back to
the previous one when the newest is unreadable, and says so.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from aann_env.atomic import atomic_write
from aann_env.errors import CheckpointError
from aann_env.runs.history import CsvLog
from aann_env.runs.lock import RunLock
from aann_env.runs.snapshot import Snapshot

T = TypeVar("T")
C = TypeVar("C")


class RunDirectory:
    """One run's directory.

    Args:
        path: The directory.
        checkpoint_suffix: File extension of the run's checkpoints (``.npz``, ``.pt``).
        command: What the writing process does, recorded in the lock (default: its argv).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        checkpoint_suffix: str = ".npz",
        command: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.checkpoint_path = self.path / f"checkpoint{checkpoint_suffix}"
        self.previous_checkpoint_path = self.path / f"checkpoint.prev{checkpoint_suffix}"
        self.lock = RunLock(self.path, command)

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def summary_path(self) -> Path:
        return self.path / "summary.json"

    def exists(self) -> bool:
        """Whether the directory holds a run (it has a ``config.json``)."""
        return self.config_path.is_file()

    # ---------------------------------------------------------------------- the resume guard
    def check_new(self) -> None:
        """Raise :class:`CheckpointError` if the directory already holds a run."""
        if self.config_path.exists():
            raise CheckpointError(
                f"{self.path} already holds a run; pass --resume to continue it, or choose "
                "another --out"
            )

    def read_config(self) -> dict[str, Any]:
        """The stored configuration of a run to resume.

        Raises:
            CheckpointError: There is no run to resume, or its ``config.json`` is unreadable.
        """
        if not self.config_path.is_file():
            raise CheckpointError(
                f"nothing to resume in {self.path}: no config.json (start a new run without "
                "--resume)"
            )
        try:
            config = json.loads(self.config_path.read_text())
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{self.config_path} is not a valid run config ({exc})") from exc
        if not isinstance(config, dict):
            raise CheckpointError(f"{self.config_path} is not a valid run config (not an object)")
        return config

    def stored_config(self, parse: Callable[[dict[str, Any]], C]) -> C:
        """The stored configuration of a run to resume, parsed by ``parse`` (a ``from_dict``).

        Raises:
            CheckpointError: As :meth:`read_config`, or ``parse`` rejects the configuration.
        """
        data = self.read_config()
        try:
            return parse(data)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{self.config_path} is not a valid run config ({exc})") from exc

    def configure(
        self,
        config: C | None,
        resume: bool,
        parse: Callable[[dict[str, Any]], C],
        key: Callable[[C], Mapping[str, Any]],
        may_change: tuple[str, ...],
    ) -> C:
        """The configuration of a new run, or of a run to resume: the one resume guard.

        Args:
            config: The configuration given now (a resume may omit it: the stored one is used).
            resume: Continue the run in this directory.
            parse: Builds a configuration from ``config.json`` (a ``from_dict``).
            key: The fields the run's results depend on; on a resume they must match.
            may_change: Fields a resume takes from ``config`` (budgets, device, ...).

        Raises:
            CheckpointError: A new run in a directory that holds one, nothing to resume, or a
                resume whose options differ from the stored ones in ``key``.
        """
        if not resume:
            if config is None:
                raise ValueError("a new run needs a config")
            self.check_new()
            return config
        stored = self.stored_config(parse)
        if config is not None:
            self.check_same(key(config), key(stored), " and ".join(may_change))
            for name in may_change:
                setattr(stored, name, getattr(config, name))
        return stored

    def check_same(self, given: Mapping[str, Any], stored: Mapping[str, Any], what: str) -> None:
        """Raise :class:`CheckpointError` unless a resume's options match the stored ones.

        Args:
            given: The fields of the options given now that the run's results depend on.
            stored: The same fields of the stored configuration.
            what: The fields that may differ, for the message (e.g. "budgets").
        """
        if dict(given) != dict(stored):
            changed = sorted(k for k in set(given) | set(stored) if given.get(k) != stored.get(k))
            raise CheckpointError(
                f"{self.path} was started with another configuration: the options given differ "
                f"from those stored ({', '.join(changed)}; only {what} may change). Resume "
                "without them, or start a new run in another directory"
            )

    # ------------------------------------------------------------------------------ writing
    def _check_locked(self) -> None:
        if not self.lock.held:
            raise RuntimeError(f"write to {self.path} only while holding its lock")

    def write_config(self, config: Mapping[str, Any]) -> None:
        self._check_locked()
        text = json.dumps(dict(config), indent=2) + "\n"
        atomic_write(self.config_path, lambda fh: fh.write(text.encode()))

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        self._check_locked()
        text = json.dumps(dict(summary), indent=2) + "\n"
        atomic_write(self.summary_path, lambda fh: fh.write(text.encode()))

    def log(self, name: str, columns: tuple[str, ...], fsync: bool = False) -> CsvLog:
        """The history CSV ``name`` of this run (open it with ``create`` or ``resume``)."""
        self._check_locked()
        return CsvLog(self.path / name, columns, fsync)

    def save_checkpoint(self, write: Callable[[BinaryIO], object]) -> None:
        """Write a checkpoint atomically through ``write(fh)``, keeping the previous one."""
        self._check_locked()
        atomic_write(self.checkpoint_path, write, keep_previous=self.previous_checkpoint_path)

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Checkpoint a search: the snapshot file (atomically, keeping the previous one), then
        its current and best networks as ``current.npz`` and ``best.npz`` (each atomic too).

        The checkpoint alone is enough to resume; the two network files are for reading.
        """
        self.save_checkpoint(snapshot.write)
        snapshot.current.save(self.path / "current.npz")
        snapshot.best.save(self.path / "best.npz")

    # ------------------------------------------------------------------------------ reading
    def load_snapshot(
        self, accept: Callable[[Snapshot], str | None] | None = None
    ) -> Snapshot | None:
        """The newest usable search checkpoint (:meth:`load_checkpoint` of a
        :class:`~aann_env.runs.snapshot.Snapshot`), or None when the run has none yet."""
        return self.load_checkpoint(Snapshot.read, accept)

    def load_checkpoint(
        self, read: Callable[[Path], T], accept: Callable[[T], str | None] | None = None
    ) -> T | None:
        """The newest usable checkpoint, or None when the run has none yet.

        Args:
            read: Reads one checkpoint file; raises :class:`CheckpointError` if it cannot.
            accept: Returns why a checkpoint that reads cleanly is still unusable (for example,
                it belongs to another configuration), or None to take it.

        Raises:
            CheckpointError: Checkpoints exist but none is usable (the message lists why).
        """
        paths = (self.checkpoint_path, self.previous_checkpoint_path)
        if not any(p.exists() for p in paths):
            return None
        errors = []
        for path in paths:
            if not path.exists():
                errors.append(f"{path.name}: missing")
                continue
            try:
                state = read(path)
            except CheckpointError as exc:
                errors.append(str(exc))
                continue
            why = accept(state) if accept is not None else None
            if why is not None:
                errors.append(f"{path.name}: {why}")
                continue
            if path != self.checkpoint_path:
                print(
                    f"aann: warning: {self.checkpoint_path.name} is unusable ({errors[0]}); "
                    f"resuming from {path.name}",
                    file=sys.stderr,
                )
            return state
        raise CheckpointError(
            f"cannot resume {self.path}: no usable checkpoint ({'; '.join(errors)}). Restore a "
            "checkpoint, or start the run again in a new directory"
        )
