"""One split of a task's data set: pixel codes and labels, with deterministic nested subsets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Split:
    """One split of a task's data: uint8 pixel codes (N, H, W) or (N, C, H, W) and int64 labels."""

    pixels: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, n: int | None) -> Split:
        """A deterministic subset of ``n`` samples (all if None or n >= len).

        The subset is the first ``n`` entries of a fixed permutation (seed 0), sorted, so it is
        the same on every machine and nested: a smaller subset lies inside a larger one.
        """
        if n is None or n >= len(self):
            return self
        if n <= 0:
            raise ValueError(f"subset size must be positive, got {n}")
        order = np.sort(np.random.default_rng(0).permutation(len(self))[:n])
        return Split(self.pixels[order], self.labels[order])
