"""Bit-swaps: the swap type, the sorted position index a network samples swaps from, and the
draws of random legal swaps (their layers, then their positions)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from aann_env.errors import SwapError


class Swap(NamedTuple):
    """A bit-swap: move the nonzero weight at flat index ``src`` of layer ``layer`` to ``dst``."""

    layer: int
    src: int
    dst: int


@dataclass
class LayerIndex:
    """Sorted flat indices of the nonzero and of the zero weights of one layer.

    Kept sorted through every swap, so that which swap a generator draws depends only on the
    weights and the generator, not on the path that led to them (a network loaded from a file
    samples exactly like the one that was saved).
    """

    nonzero: np.ndarray
    zero: np.ndarray

    @classmethod
    def build(cls, flat: np.ndarray) -> LayerIndex:
        return cls(
            np.flatnonzero(flat).astype(np.int64), np.flatnonzero(flat == 0).astype(np.int64)
        )

    @staticmethod
    def _replace(arr: np.ndarray, old: int, new: int) -> None:
        """Remove ``old`` from the sorted ``arr`` and insert ``new``, in place."""
        i = int(np.searchsorted(arr, old))
        j = int(np.searchsorted(arr, new))
        if j > i:
            arr[i : j - 1] = arr[i + 1 : j]  # numpy copes with the overlap
            arr[j - 1] = new
        else:
            arr[j + 1 : i + 1] = arr[j:i]
            arr[j] = new

    def move(self, src: int, dst: int) -> None:
        self._replace(self.nonzero, src, dst)
        self._replace(self.zero, dst, src)


def draw_layers(
    counts: Sequence[int],
    k: int,
    rng: np.random.Generator,
    layer_weights: Sequence[float] | None = None,
) -> np.ndarray:
    """The layers of ``k`` swaps drawn across layers.

    Args:
        counts: Legal swaps of each layer.
        k: Number of swaps.
        rng: The generator the draw comes from.
        layer_weights: The probability of each layer (layers without a legal swap get none);
            default: proportional to ``counts``, so every first neighbour is equally likely.
    """
    n_layers = len(counts)
    if layer_weights is None:
        probs = np.array(counts, dtype=np.float64)
    else:
        probs = np.asarray(layer_weights, dtype=np.float64)
        if probs.shape != (n_layers,) or (probs < 0).any():
            raise ValueError(f"layer_weights must be {n_layers} non-negative numbers")
        probs = probs * np.array([c > 0 for c in counts])
    if probs.sum() <= 0:
        raise SwapError("no legal swap exists: every layer is fully dense or fully zero")
    return rng.choice(n_layers, size=k, p=probs / probs.sum())


def draw_positions(
    layers: np.ndarray,
    index: Callable[[int], LayerIndex],
    names: Sequence[str],
    rng: np.random.Generator,
) -> np.ndarray:
    """Swaps in the given ``layers``: each a uniform nonzero source and zero target of its layer.

    Args:
        layers: The layer of each swap, (k,).
        index: The sorted position index of a layer.
        names: The layer names (for messages).
        rng: The generator the draws come from (layer by layer, in layer order).

    Returns:
        An int64 array of shape (k, 3): rows ``(layer, src, dst)``.
    """
    out = np.empty((len(layers), 3), dtype=np.int64)
    out[:, 0] = layers
    for li in np.unique(layers):
        rows = np.flatnonzero(layers == li)
        idx = index(int(li))
        if idx.nonzero.size == 0 or idx.zero.size == 0:
            raise SwapError(f"layer {names[li]!r} has no legal swap (it is fully dense or empty)")
        out[rows, 1] = idx.nonzero[rng.integers(0, idx.nonzero.size, size=rows.size)]
        out[rows, 2] = idx.zero[rng.integers(0, idx.zero.size, size=rows.size)]
    return out
