"""The task registry: each task is an architecture, an input offset and a data set with train / valid / test splits.

Data are loaded once per process (and per data directory) and shared by every env and evaluator
in it, so vectorised envs in one process do not hold copies.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aann_env.core.architecture import CAR, MNIST, Architecture
from aann_env.tasks.split import SPLITS, Split


@dataclass(frozen=True)
class Task:
    """A search task.

    Attributes:
        name: Registry name (``"mnist"``, ``"car"``).
        arch: The network architecture.
        offset: Dyadic input offset: the network sees ``pixels/256 - offset``.
        loader: Returns the splits given an optional data directory.
    """

    name: str
    arch: Architecture
    offset: float
    loader: Callable[[str | None], dict[str, Split]]

    def splits(self, data_dir: str | os.PathLike[str] | None = None) -> dict[str, Split]:
        """The task's train / valid / test splits, loaded once per process."""
        return _load_splits(self.name, None if data_dir is None else str(Path(data_dir)))

    def split(self, name: str, data_dir: str | os.PathLike[str] | None = None) -> Split:
        if name not in SPLITS:
            raise KeyError(f"unknown split {name!r}; splits are {SPLITS}")
        return self.splits(data_dir)[name]


def _mnist_loader(data_dir: str | None) -> dict[str, Split]:
    from aann_env.tasks.mnist import load_mnist

    return load_mnist(data_dir=data_dir).splits


def _car_loader(data_dir: str | None) -> dict[str, Split]:
    """The car imitation data: recorded (once, then cached) into ``data_dir`` or the cache folder.

    ``data_dir`` may also name one cache file (``car-v<version>-<hash>.npz``), e.g. a small data
    set recorded with another :class:`~aann_env.tasks.car.dataset.CarDataConfig`.
    """
    from aann_env.tasks.car.dataset import load_car, read_cache

    if data_dir is not None and Path(data_dir).is_file():
        return read_cache(Path(data_dir)).splits
    return load_car(data_dir=data_dir)


TASKS: dict[str, Task] = {
    "mnist": Task("mnist", MNIST, 0.0, _mnist_loader),
    # Car frames are grey codes averaging about 0.51: the offset centres them (the nets have no bias).
    "car": Task("car", CAR, 0.5, _car_loader),
}


def get_task(name: str) -> Task:
    """Look up a task by name, with a clear error for unknown names."""
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known tasks: {sorted(TASKS)}") from None


@functools.lru_cache(maxsize=4)
def _load_splits(task_name: str, data_dir: str | None) -> dict[str, Split]:
    return TASKS[task_name].loader(data_dir)
