"""One writer per run directory: an exclusive lock held for the life of the writing process.

The lock is an advisory ``flock`` on ``<run>/run.lock``. The kernel drops it when the holder's
file descriptor closes, which includes the process being killed (even with ``kill -9``), so a
lock left behind by a dead process never blocks a resume. The file also records who holds the
lock (process id, host, start time, command), which the error shown to a second writer names.

Locks are taken with ``LOCK_NB``: a second writer fails at once instead of waiting. They work on
local file systems on POSIX; on a network file system that does not support ``flock`` the lock
cannot be taken, and the error says so.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import socket
import sys
from pathlib import Path
from typing import IO, Any

from aann_env.errors import RunLockedError

LOCK_NAME = "run.lock"
"""File name of the lock inside a run directory."""


def _holder_text(path: Path) -> str:
    try:
        info: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return "another process"
    return (
        f"process {info.get('pid', '?')} on {info.get('host', '?')}, started "
        f"{info.get('started', '?')}: {info.get('command', '?')}"
    )


class RunLock:
    """An exclusive, non-blocking lock on a run directory (a context manager).

    Args:
        run_dir: The run directory (created if missing).
        command: What the holder is doing, recorded for the error a second writer sees
            (default: the command line of this process).
    """

    def __init__(self, run_dir: str | os.PathLike[str], command: str | None = None) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.command = command if command is not None else " ".join(sys.argv)
        self._fh: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._fh is not None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`RunLockedError` naming the process that holds it."""
        if self._fh is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115  (held open for as long as the lock is)
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise RunLockedError(
                f"{self.path.parent} is being written by {_holder_text(self.path)}. One run "
                "directory has one writer at a time: wait for that process to end (or stop it), "
                "then resume with --resume, or use another --out"
            ) from None
        except OSError as exc:
            fh.close()
            raise RunLockedError(
                f"cannot lock {self.path} ({exc}); the file system may not support locks: put "
                "the run directory on a local disk"
            ) from exc
        fh.seek(0)
        fh.truncate()
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": self.command,
        }
        fh.write(json.dumps(record) + "\n")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        """Drop the lock (the file stays; it only records the last holder)."""
        if self._fh is None:
            return
        fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
        self._fh.close()
        self._fh = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
