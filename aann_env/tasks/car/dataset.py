"""The car-racing imitation data set: expert frames and labels, split by track, in a verified cache.

What is recorded and how is described in :mod:`aann_env.tasks.car.recording` (the expert's
frames and choices on seeded tracks) and :mod:`aann_env.tasks.car.config` (the splits by track
and the :class:`CarDataConfig` that names a recording).

Recording takes minutes, so the data set is kept in a verified cache (:mod:`aann_env.tasks.cache`:
version, config, SHA-256 over the arrays, checked on every load) under
``default_cache_dir() / "car"``. The file name carries :data:`VERSION` and a short hash of the
config. Build it with ``python -m aann_env.tasks.car``; for tests and quick trials,
``build_car(CarDataConfig.small(), folder)`` records a few frames in seconds.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aann_env.errors import DataError
from aann_env.tasks import cache
from aann_env.tasks.car.config import ARRAY_KEYS, CACHE_SUBDIR, VERSION, CarDataConfig
from aann_env.tasks.car.expert import CLASSES, FRAME_SHAPE
from aann_env.tasks.car.recording import record_splits, record_tracks
from aann_env.tasks.split import SPLITS, Split

__all__ = [
    "ARRAY_KEYS",
    "CACHE_SUBDIR",
    "VERSION",
    "CarData",
    "CarDataConfig",
    "build_car",
    "cache_path",
    "load_car",
    "load_car_data",
    "main",
    "read_cache",
    "record_splits",
    "record_tracks",
]


@dataclass(frozen=True, eq=False)
class CarData:
    """The recorded data set.

    Attributes:
        config: What was recorded.
        splits: ``"train"`` / ``"valid"`` / ``"test"`` splits: ``uint8`` frames ``(N, 96, 96)``
            and ``int64`` labels ``(N,)`` in 0..2 (see :data:`~aann_env.tasks.car.expert.CLASSES`).
        frame_seeds: Track seed of each frame, ``int64`` ``(N,)`` per split.
        source: Where the data came from, e.g. ``"cache:/home/me/.cache/aann/car/...npz"``.
    """

    config: CarDataConfig
    splits: dict[str, Split]
    frame_seeds: dict[str, np.ndarray]
    source: str

    @property
    def seeds(self) -> dict[str, tuple[int, ...]]:
        """Track seeds of each split."""
        return self.config.seeds()

    def class_balance(self) -> dict[str, np.ndarray]:
        """Return the fraction of frames of each class, ``(3,)`` per split."""
        out: dict[str, np.ndarray] = {}
        for name, split in self.splits.items():
            counts = np.bincount(split.labels, minlength=len(CLASSES))
            out[name] = counts / max(len(split), 1)
        return out


# --------------------------------------------------------------------------------------------
# The cache


def cache_path(config: CarDataConfig | None = None, data_dir: str | Path | None = None) -> Path:
    """Return the cache file of ``config``.

    Args:
        config: The data set; the default :class:`CarDataConfig` when ``None``.
        data_dir: Folder of the cache; ``default_cache_dir() / "car"`` when ``None``.

    Returns:
        ``<data_dir>/car-v<VERSION>-<digest>.npz``.
    """
    config = CarDataConfig() if config is None else config
    return cache.cache_folder(data_dir, CACHE_SUBDIR) / f"car-v{VERSION}-{config.digest()}.npz"


def _rebuild_hint(path: Path, config: CarDataConfig | None) -> str:
    """How to record the cache at ``path`` again: the command line records the default config,
    :func:`build_car` any other."""
    cli = "python -m aann_env.tasks.car --rebuild"
    if path.parent != cache.cache_folder(None, CACHE_SUBDIR):
        cli += f" --data-dir {shlex.quote(str(path.parent))}"
    which = "config" if config is None else repr(config)
    api = f"build_car({which}, {str(path.parent)!r}, force=True)"
    if config == CarDataConfig():
        how = f"`{cli}`"
    elif config is None:
        how = f"`{cli}` (default config) or {api}"
    else:
        how = api
    return f"record it with {how} (or delete the file; load_car(..., build=True) then records it)"


def _check_splits(
    path: Path, config: CarDataConfig, arrays: dict[str, np.ndarray], hint: str
) -> tuple[dict[str, Split], dict[str, np.ndarray]]:
    """Check each split's dtypes, shapes, track seeds and labels; return splits and frame seeds."""
    splits: dict[str, Split] = {}
    frame_seeds: dict[str, np.ndarray] = {}
    seeds = config.seeds()
    for split in SPLITS:
        x, y, s = (arrays[f"{split}_{part}"] for part in ("x", "y", "seed"))
        n = len(y)
        if x.dtype != np.uint8 or x.shape != (n, *FRAME_SHAPE) or y.dtype != np.int64:
            raise DataError(
                f"car data cache {path}: split {split} has bad dtypes or shapes: {hint}"
            )
        if s.shape != (n,) or not np.isin(s, seeds[split]).all():
            raise DataError(f"car data cache {path}: split {split} has bad track seeds: {hint}")
        if n and (int(y.min()) < 0 or int(y.max()) >= len(CLASSES)):
            raise DataError(f"car data cache {path}: split {split} has labels outside 0..2: {hint}")
        splits[split] = Split(x, y)
        frame_seeds[split] = s
    return splits, frame_seeds


def read_cache(path: str | Path, config: CarDataConfig | None = None) -> CarData:
    """Read and verify a car cache file (see :mod:`aann_env.tasks.cache` for its format).

    Args:
        path: The ``.npz`` written by :func:`build_car`.
        config: The config the file must hold; the one stored in it when ``None``.

    Returns:
        The data set, with ``source`` set to ``"cache:<path>"``.

    Raises:
        DataError: If the file is missing, unreadable, of another version or config, its
            arrays do not match their stored SHA-256, or their dtypes, shapes, seeds or labels
            are wrong. The message names the file and says how to record it again.
    """
    path = Path(path)
    hint = _rebuild_hint(path, config)
    cached = cache.read_cache(path, VERSION, ARRAY_KEYS, hint, what="car data cache")
    try:
        fields = dict(cached.config)
        fields.pop("version", None)
        stored = CarDataConfig(**fields)
    except (ValueError, TypeError) as exc:
        raise DataError(f"car data cache {path} holds an invalid config ({exc}): {hint}") from exc
    if config is not None and stored != config:
        raise DataError(f"car data cache {path} holds {stored}, not the requested {config}: {hint}")
    splits, frame_seeds = _check_splits(path, stored, cached.arrays, hint)
    return CarData(stored, splits, frame_seeds, source=f"cache:{path.resolve()}")


def build_car(
    config: CarDataConfig | None = None,
    data_dir: str | Path | None = None,
    *,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Record the data set into its cache file, unless a valid one exists.

    Args:
        config: What to record; the default :class:`CarDataConfig` when ``None``.
        data_dir: Folder of the cache; ``default_cache_dir() / "car"`` when ``None``.
        force: Re-record even if a valid cache exists.
        progress: Show tqdm bars while recording.

    Returns:
        The path of the cache file.

    Raises:
        DataError: If Box2D or pygame are not installed. A killed or failed recording leaves
            no file behind (the cache is written to a temporary file and renamed).
    """
    config = CarDataConfig() if config is None else config
    path = cache_path(config, data_dir)
    if path.is_file() and not force:
        try:
            read_cache(path, config)
        except DataError:
            pass  # invalid: record again below
        else:
            return path
    arrays = record_splits(config, progress)
    return cache.write_cache(path, VERSION, config.to_json(), {k: arrays[k] for k in ARRAY_KEYS})


def load_car_data(
    data_dir: str | Path | None = None,
    config: CarDataConfig | None = None,
    build: bool = True,
    progress: bool = True,
) -> CarData:
    """Load the car data set from its cache, recording it first if needed.

    Args:
        data_dir: Folder of the cache; ``default_cache_dir() / "car"`` when ``None``.
        config: What to load; the default :class:`CarDataConfig` when ``None``.
        build: Record the data set (minutes) when no cache exists; else raise.
        progress: Show tqdm bars while recording.

    Returns:
        The data set, with its splits and the track seed of every frame.

    Raises:
        DataError: If there is no cache and ``build`` is False, if the cache is corrupted or
            does not match ``config`` (the message names the file), or if Box2D or pygame are
            not installed.
    """
    config = CarDataConfig() if config is None else config
    path = cache_path(config, data_dir)
    if not path.is_file():
        if not build:
            raise DataError(
                f"car data cache {path} does not exist; record it with "
                "`python -m aann_env.tasks.car` or call load_car(..., build=True)"
            )
        build_car(config, data_dir, progress=progress)
    return read_cache(path, config)


def load_car(
    data_dir: str | None = None,
    config: CarDataConfig | None = None,
    build: bool = True,
    progress: bool = True,
) -> dict[str, Split]:
    """Return the car data set's ``"train"`` / ``"valid"`` / ``"test"`` splits.

    Frames are ``uint8`` ``(N, 96, 96)`` grey codes and labels ``int64`` in 0..2. Use
    :func:`load_car_data` for the track seed of each frame as well.

    Args:
        data_dir: Folder of the cache; ``default_cache_dir() / "car"`` when ``None``.
        config: What to load; the default :class:`CarDataConfig` when ``None``.
        build: Record the data set (minutes) when no cache exists; else raise.
        progress: Show tqdm bars while recording.

    Returns:
        The three splits, keyed by name.

    Raises:
        DataError: As :func:`load_car_data`.
    """
    return load_car_data(data_dir, config, build, progress).splits


# --------------------------------------------------------------------------------------------
# Command line


def main(argv: Sequence[str] | None = None) -> int:
    """Record the default car data set (if needed) and print its sizes and class balance.

    Usage: ``python -m aann_env.tasks.car [--rebuild] [--data-dir DIR] [--no-progress]``.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        0 on success, 2 on a data error (the message goes to stderr).
    """
    parser = argparse.ArgumentParser(
        prog="python -m aann_env.tasks.car",
        description="Record the car-racing imitation data set into the local cache.",
    )
    parser.add_argument("--rebuild", action="store_true", help="re-record even if cached")
    parser.add_argument(
        "--data-dir", default=None, help="cache folder (default: <aann cache dir>/car)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    args = parser.parse_args(argv)
    config = CarDataConfig()
    start = time.perf_counter()
    try:
        path = build_car(config, args.data_dir, force=args.rebuild, progress=not args.no_progress)
        data = read_cache(path, config)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    print(f"car data cache: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    balance = data.class_balance()
    for name, split in data.splits.items():
        seeds = data.seeds[name]
        shares = ", ".join(f"{c} {p:.1%}" for c, p in zip(CLASSES, balance[name], strict=True))
        print(
            f"{name:5s}: {len(split):6d} frames from tracks {seeds[0]}..{seeds[-1]} "
            f"({len(seeds)} tracks); {shares}"
        )
    print(f"time: {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
