"""Atomic file writes: a crash or a kill never leaves half a file under the final name."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[BinaryIO], object],
    *,
    keep_previous: str | os.PathLike[str] | None = None,
) -> Path:
    """Write ``path`` through ``write(fh)`` into a temporary file beside it, then rename it.

    The data are flushed to disk before the rename, and the temporary file is removed if
    ``write`` raises (even on KeyboardInterrupt).

    Args:
        path: The final file; its folder is created.
        write: Writes the content into the binary file handle it gets.
        keep_previous: If given and ``path`` exists, the old file is moved there first.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(0o644)
        if keep_previous is not None and path.exists():
            os.replace(path, keep_previous)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
