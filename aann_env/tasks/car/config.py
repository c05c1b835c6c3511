"""What a car recording holds: its config, the recording procedure's version and the cache layout.

A recording drives seeded ``CarRacing-v3`` tracks with the expert (see
:mod:`aann_env.tasks.car.recording`); the splits are by track: *train*, *valid* and *test* use
disjoint ranges of consecutive seeds starting at ``base_seed``, so no test track is seen in
training. Every field of :class:`CarDataConfig` goes into the cache file's name and content, so a
cache holds exactly one config.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from aann_env.tasks import cache
from aann_env.tasks.split import SPLITS

__all__ = ["ARRAY_KEYS", "CACHE_SUBDIR", "VERSION", "CarDataConfig"]

VERSION = 1
"""Version of the recording procedure (expert, preprocessing, layout); bump it when any changes."""

CACHE_SUBDIR = "car"
"""Folder of the car caches inside :func:`aann_env.tasks.cache.default_cache_dir`."""

ARRAY_KEYS = tuple(f"{split}_{part}" for split in SPLITS for part in ("x", "y", "seed"))
"""The arrays of a car cache, in the order their SHA-256 covers them."""


@dataclass(frozen=True)
class CarDataConfig:
    """What to record. Changing any field names a different cache file."""

    train_tracks: int = 30
    """Tracks in the *train* split (seeds ``base_seed ...``)."""
    valid_tracks: int = 10
    """Tracks in the *valid* split (the next seeds)."""
    test_tracks: int = 10
    """Tracks in the *test* split (the seeds after those)."""
    base_seed: int = 20_000
    """First track seed; the expert was tuned on seeds below 1100, far from this range."""
    max_steps: int = 1000
    """Steps before an episode is truncated (Gymnasium's own limit is 1000)."""
    skip_frames: int = 50
    """Observations at the start of each episode not recorded (0..48 are the zoom-in)."""

    def __post_init__(self) -> None:
        for name in ("train_tracks", "valid_tracks", "test_tracks", "max_steps"):
            if getattr(self, name) <= 0:
                raise ValueError(
                    f"CarDataConfig.{name} must be positive, got {getattr(self, name)}"
                )
        if not 0 <= self.skip_frames < self.max_steps:
            raise ValueError(
                f"CarDataConfig.skip_frames must lie in 0..max_steps-1 ({self.max_steps - 1}), "
                f"got {self.skip_frames}"
            )
        if self.base_seed < 0:
            raise ValueError(f"CarDataConfig.base_seed must be non-negative, got {self.base_seed}")

    @classmethod
    def small(cls, frames: int = 10, base_seed: int = 11, skip_frames: int = 0) -> CarDataConfig:
        """Return a recording of one track per split, ``frames`` frames each, made in seconds.

        For tests and quick trials that need some recorded data but not driving-quality data:
        with the default ``skip_frames=0`` the frames are those of the zoom-in at the start.

        Args:
            frames: Frames recorded on each of the three tracks.
            base_seed: Seed of the *train* track; *valid* and *test* use the next two.
            skip_frames: Observations driven but not recorded before the first frame.

        Returns:
            The config; record it with :func:`~aann_env.tasks.car.dataset.build_car`.
        """
        return cls(
            train_tracks=1,
            valid_tracks=1,
            test_tracks=1,
            base_seed=base_seed,
            max_steps=skip_frames + frames,
            skip_frames=skip_frames,
        )

    def seeds(self) -> dict[str, tuple[int, ...]]:
        """Return the track seeds of each split (disjoint consecutive ranges)."""
        out: dict[str, tuple[int, ...]] = {}
        start = self.base_seed
        for split, count in zip(
            SPLITS, (self.train_tracks, self.valid_tracks, self.test_tracks), strict=True
        ):
            out[split] = tuple(range(start, start + count))
            start += count
        return out

    def to_json(self) -> str:
        """Return the config and :data:`VERSION` as canonical JSON (sorted keys, no spaces)."""
        return cache.canonical_json({"version": VERSION, **dataclasses.asdict(self)})

    def digest(self) -> str:
        """Return a short hash of :meth:`to_json`, used in the cache file name."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:10]
