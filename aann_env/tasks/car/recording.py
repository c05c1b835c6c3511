"""Recording: drive seeded tracks with the expert and keep its frames and choices.

Each frame is recorded by driving one seeded ``CarRacing-v3`` track (discrete actions) with the
:class:`~aann_env.tasks.car.expert.Expert`. For every observation the recording keeps
:func:`~aann_env.tasks.car.expert.preprocess` of it (a ``(96, 96)`` ``uint8`` grey frame), the
class the expert picks in that state (0 left, 1 right, 2 gas: the label of frame ``t`` is the
expert's choice at state ``t``, which then drives the car to state ``t + 1``) and the track's
seed.

The first ``skip_frames`` observations of each episode (default 50) are driven but not recorded:
observations 0..48 are drawn during the env's zoom-in animation (see
:data:`~aann_env.tasks.car.expert.ZOOM_FRAMES`). An episode ends when the lap is complete, when
the car leaves the playfield, or after ``max_steps`` steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aann_env.progress import progress_bar
from aann_env.tasks.car.config import CarDataConfig
from aann_env.tasks.car.expert import CLASS_TO_ACTION, FRAME_SHAPE, Expert, make_env, preprocess

__all__ = ["record_splits", "record_tracks"]


def record_tracks(
    seeds: Sequence[int],
    *,
    max_steps: int = 1000,
    skip_frames: int = 50,
    progress: bool = True,
    desc: str = "tracks",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drive each track with the expert and record its frames and choices.

    Args:
        seeds: Track seeds, passed to ``env.reset(seed=...)``.
        max_steps: Steps before an episode is truncated.
        skip_frames: Observations at the start of each episode that are not recorded.
        progress: Show a tqdm bar over tracks and one over each track's frames.
        desc: Label of the bar over tracks.

    Returns:
        ``(frames, labels, frame_seeds)``: ``uint8`` ``(N, 96, 96)``, ``int64`` ``(N,)`` and
        ``int64`` ``(N,)``.

    Raises:
        DataError: If Box2D or pygame are not installed.
    """
    env = make_env(max_steps)
    frames: list[np.ndarray] = []
    labels: list[int] = []
    frame_seeds: list[int] = []
    try:
        for seed in progress_bar(seeds, desc=desc, unit="track", disable=not progress):
            expert = Expert()
            obs, _ = env.reset(seed=int(seed))
            steps = progress_bar(
                total=max_steps,
                desc=f"seed {seed}",
                unit="frame",
                leave=False,
                disable=not progress,
            )
            with steps:
                for t in range(max_steps):
                    label = expert.act(env)
                    if t >= skip_frames:
                        frames.append(preprocess(obs))
                        labels.append(label)
                        frame_seeds.append(int(seed))
                    obs, _, terminated, truncated, _ = env.step(CLASS_TO_ACTION[label])
                    steps.update()
                    if terminated or truncated:
                        break
    finally:
        env.close()
    pixels = np.stack(frames) if frames else np.zeros((0, *FRAME_SHAPE), dtype=np.uint8)
    return pixels, np.asarray(labels, dtype=np.int64), np.asarray(frame_seeds, dtype=np.int64)


def record_splits(config: CarDataConfig, progress: bool = True) -> dict[str, np.ndarray]:
    """Record every split of ``config``.

    Args:
        config: What to record.
        progress: Show tqdm bars while recording.

    Returns:
        The arrays keyed as in the cache (:data:`~aann_env.tasks.car.config.ARRAY_KEYS`).
    """
    arrays: dict[str, np.ndarray] = {}
    for split, seeds in config.seeds().items():
        x, y, s = record_tracks(
            seeds,
            max_steps=config.max_steps,
            skip_frames=config.skip_frames,
            progress=progress,
            desc=f"car {split}",
        )
        arrays[f"{split}_x"], arrays[f"{split}_y"], arrays[f"{split}_seed"] = x, y, s
    return arrays
