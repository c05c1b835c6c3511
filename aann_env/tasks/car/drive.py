"""Closed-loop driving: let a frame-to-class policy drive ``CarRacing-v3`` tracks.

A policy is any callable that maps one preprocessed frame (``(96, 96)`` ``uint8`` grey codes,
see :func:`~aann_env.tasks.car.expert.preprocess`) to a class index 0 left, 1 right or 2 gas; wrapping a
network into such a callable is left to the caller, so this module knows nothing about networks.

The policy drives from the very first observation, including the zoom-in frames of the episode's
first second (observations 0..48, see :data:`~aann_env.tasks.car.expert.ZOOM_FRAMES`) that the data set
leaves out; its return is the env's own, so it compares directly with the expert's
(:func:`~aann_env.tasks.car.expert.expert_returns`) and with Gymnasium's 900 for "solved".

Example:
    >>> from aann_env.tasks.car.drive import drive
    >>> drive(lambda frame: 2, seeds=[0], max_steps=60, progress=False)  # doctest: +SKIP
    [...]
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from aann_env.progress import progress_bar
from aann_env.tasks.car.expert import CLASS_TO_ACTION, N_CLASSES, make_env, preprocess

__all__ = ["VIDEO_EVERY", "VIDEO_SUFFIXES", "Policy", "drive"]

Policy = Callable[[np.ndarray], int]
"""Maps a ``(96, 96)`` ``uint8`` frame to a class index 0..2."""

VIDEO_SUFFIXES = (".gif", ".mp4")
"""Video formats :func:`drive` can write (``.mp4`` needs ``imageio[ffmpeg]``)."""

VIDEO_EVERY = 2
"""A video keeps every 2nd env step: 25 frames per second of the env's 50."""

_ENV_FPS = 50


class _VideoWriter(Protocol):
    def add(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...


class _GifWriter:
    """Collects palette frames (one byte per pixel) and writes an endlessly looping GIF."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.duration_ms = round(1000 / fps)
        self.frames: list[Image.Image] = []

    def add(self, frame: np.ndarray) -> None:
        self.frames.append(Image.fromarray(frame).quantize(colors=64))

    def close(self) -> None:
        if not self.frames:
            return
        first, *rest = self.frames
        first.save(
            self.path,
            save_all=True,
            append_images=rest,
            duration=self.duration_ms,
            loop=0,
            optimize=False,
        )


class _Mp4Writer:
    """Streams frames to an H.264 file through imageio's ffmpeg plugin."""

    def __init__(self, path: Path, fps: float) -> None:
        import imageio.v2 as imageio

        self.writer = imageio.get_writer(path, fps=fps, macro_block_size=8)

    def add(self, frame: np.ndarray) -> None:
        self.writer.append_data(frame)

    def close(self) -> None:
        self.writer.close()


def _mp4_available() -> bool:
    try:
        import imageio.v2  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def _check_video_path(video: str | Path) -> Path:
    """Return ``video`` as a Path, or raise ValueError if this module cannot write it."""
    path = Path(video)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(
            f"cannot write video {path}: the suffix must be one of {', '.join(VIDEO_SUFFIXES)}, "
            f"got {suffix or 'none'!r}"
        )
    if suffix == ".mp4" and not _mp4_available():
        raise ValueError(
            f"cannot write {path}: .mp4 needs imageio with ffmpeg; use a .gif file name or "
            '`pip install "imageio[ffmpeg]"`'
        )
    return path


def _open_video(path: Path) -> _VideoWriter:
    path.parent.mkdir(parents=True, exist_ok=True)
    fps = _ENV_FPS / VIDEO_EVERY
    return _GifWriter(path, fps) if path.suffix.lower() == ".gif" else _Mp4Writer(path, fps)


def _class_of(choice: object) -> int:
    """Check a policy's output and return it as a class index."""
    try:
        index = operator.index(choice)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"the policy must return an integer class index, got {type(choice).__name__}"
        ) from None
    if not 0 <= index < N_CLASSES:
        raise ValueError(f"the policy must return a class in 0..{N_CLASSES - 1}, got {index}")
    return index


def drive(
    policy: Policy,
    seeds: Sequence[int],
    *,
    max_steps: int = 1000,
    video: str | Path | None = None,
    progress: bool = True,
) -> list[float]:
    """Let ``policy`` drive each seeded track and return the episode returns.

    Args:
        policy: Maps a preprocessed ``(96, 96)`` ``uint8`` frame to a class index 0..2 (see
            :data:`~aann_env.tasks.car.expert.CLASSES`); called once per step, from the first
            observation on.
        seeds: Track seeds, passed to ``env.reset(seed=...)``.
        max_steps: Steps before an episode is truncated (Gymnasium's default is 1000).
        video: If given, a ``.gif`` (or ``.mp4`` with ``imageio[ffmpeg]``) file to write the drive
            of the first track to: the env's 600x400 ``rgb_array`` view, every
            :data:`VIDEO_EVERY`-th step. If the policy raises, the steps driven so far are
            still written.
        progress: Show a tqdm bar over the tracks.

    Returns:
        The return of each track, in the order of ``seeds``.

    Raises:
        ValueError: If ``video`` has another suffix, or is ``.mp4`` without ``imageio[ffmpeg]``
            (checked before driving), or the policy returns a class outside 0..2.
        TypeError: If the policy returns something that is not an integer.
        DataError: If Box2D or pygame are not installed.
    """
    video_path = None if video is None else _check_video_path(video)
    returns: list[float] = []
    bar = progress_bar(seeds, desc="drive", unit="track", disable=not progress)
    for index, seed in enumerate(bar):
        record = video_path is not None and index == 0
        env = make_env(max_steps, render_mode="rgb_array" if record else None)
        writer = _open_video(video_path) if record and video_path is not None else None
        try:
            obs, _ = env.reset(seed=int(seed))
            if writer is not None:
                writer.add(env.render())
            total, step, done = 0.0, 0, False
            while not done:
                action = CLASS_TO_ACTION[_class_of(policy(preprocess(obs)))]
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                step += 1
                done = terminated or truncated
                if writer is not None and (step % VIDEO_EVERY == 0 or done):
                    writer.add(env.render())
        finally:
            env.close()
            if writer is not None:
                writer.close()
        returns.append(total)
        bar.set_postfix(ret=f"{total:.0f}", refresh=False)
    return returns
