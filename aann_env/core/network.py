"""The sparse ternary network: weights in {-1, 0, +1}, bit-swaps, and families
(the file format is :mod:`aann_env.core.file_format`).

A :class:`TernaryNetwork` holds one int8 array per layer (torch layout), the power-of-two scale of
each layer and the task's input offset. The forward pass it defines lives in
:mod:`aann_env.core.forward`.

A bit-swap ``(layer, src, dst)`` moves the nonzero weight at flat index ``src`` of a layer, sign
kept, to the zero position ``dst`` of the same layer. It keeps every layer's counts of -1, 0 and +1
(the *family signature*), so all networks reachable by swaps form a family.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aann_env.atomic import atomic_write
from aann_env.core import file_format
from aann_env.core.architecture import (
    Architecture,
    default_scales,
    get_architecture,
    zeros_per_layer,
)
from aann_env.core.file_format import FILE_MAGIC, SCHEMA_VERSION, weights_digest
from aann_env.core.swaps import LayerIndex, Swap, draw_layers, draw_positions
from aann_env.errors import CheckpointError, SwapError


@dataclass
class TernaryNetwork:
    """A ternary network of a given architecture.

    Attributes:
        arch: The architecture.
        weights: Layer name -> int8 array in {-1, 0, +1}, torch layout.
        scales: Layer name -> power-of-two scale applied to the layer's pre-activation.
        offset: The task's dyadic input offset (inputs are ``pixels/256 - offset``).
        sparsity: The nominal sparsity: every layer holds exactly ``round(sparsity * size)`` zeros.
        seed: The seed that produced the network, if any.
        provenance: Free-form record of how the network was made (command, parent, step, ...).
    """

    arch: Architecture
    weights: dict[str, np.ndarray]
    scales: dict[str, float]
    offset: float = 0.0
    sparsity: float = 0.0
    seed: int | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.weights = {
            name: np.ascontiguousarray(w, dtype=np.int8) for name, w in self.weights.items()
        }
        self.validate()
        self._index: list[LayerIndex | None] = [None] * len(self.arch.layers)

    # ----------------------------------------------------------------------------------- basics
    @property
    def layer_names(self) -> tuple[str, ...]:
        return self.arch.layer_names

    @property
    def n_layers(self) -> int:
        return len(self.arch.layers)

    def layer_index(self, layer: int | str) -> int:
        """Index of a layer given by index or name."""
        if isinstance(layer, str):
            try:
                return self.layer_names.index(layer)
            except ValueError:
                raise KeyError(f"no layer {layer!r}; layers are {self.layer_names}") from None
        if not 0 <= int(layer) < self.n_layers:
            raise IndexError(f"layer index {layer} out of range [0, {self.n_layers})")
        return int(layer)

    def flat(self, layer: int | str) -> np.ndarray:
        """Flat view (no copy) of a layer's weights."""
        return self.weights[self.layer_names[self.layer_index(layer)]].reshape(-1)

    def validate(self) -> None:
        """Check shapes, dtypes, values, zero counts and scales; raise ValueError on any mismatch."""
        if not 0.0 <= self.sparsity < 1.0:
            raise ValueError(f"sparsity must be in [0, 1), got {self.sparsity}")
        self.arch.check_weights(self.weights, self.sparsity)
        self.arch.check_scales(self.scales, self.offset)

    def copy(self) -> TernaryNetwork:
        return TernaryNetwork(
            self.arch,
            {k: v.copy() for k, v in self.weights.items()},
            dict(self.scales),
            self.offset,
            self.sparsity,
            self.seed,
            json.loads(json.dumps(self.provenance)),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TernaryNetwork):
            return NotImplemented
        return (
            self.arch == other.arch
            and self.scales == other.scales
            and self.offset == other.offset
            and all(np.array_equal(self.weights[n], other.weights[n]) for n in self.layer_names)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        counts = ", ".join(f"{n}: {c}" for n, c in self.family_signature().items())
        return (
            f"TernaryNetwork(arch={self.arch.name!r}, sparsity={self.sparsity}, seed={self.seed}, "
            f"(-1, 0, +1) counts {{{counts}}})"
        )

    def flat_weights(self) -> np.ndarray:
        """All weights concatenated in layer order (int8), the env's ``"weights"`` observation."""
        return np.concatenate([self.weights[name].reshape(-1) for name in self.layer_names])

    # --------------------------------------------------------------------------------- families
    def family_signature(self) -> dict[str, tuple[int, int, int]]:
        """Per-layer counts of (-1, 0, +1). Swaps never change it."""
        return {
            name: (
                int(np.count_nonzero(w == -1)),
                int(np.count_nonzero(w == 0)),
                int(np.count_nonzero(w == 1)),
            )
            for name, w in self.weights.items()
        }

    def hamming(self, other: TernaryNetwork) -> int:
        """Number of weight positions where two networks of the same architecture differ."""
        if other.arch != self.arch:
            raise ValueError("Hamming distance needs two networks of the same architecture")
        return int(
            sum(np.count_nonzero(self.weights[n] != other.weights[n]) for n in self.layer_names)
        )

    # ------------------------------------------------------------------------------------ swaps
    def _layer_index_cache(self, layer: int) -> LayerIndex:
        idx = self._index[layer]
        if idx is None:
            idx = LayerIndex.build(self.flat(layer))
            self._index[layer] = idx
        return idx

    def n_swaps(self, layer: int | str) -> int:
        """Number of legal swaps (first neighbours) within one layer: nonzeros x zeros."""
        idx = self._layer_index_cache(self.layer_index(layer))
        return int(idx.nonzero.size * idx.zero.size)

    def is_legal(self, swap: Swap | Sequence[int]) -> bool:
        """Whether ``swap`` can be applied: src names a nonzero and dst a zero of that layer."""
        layer, src, dst = (int(v) for v in swap)
        if not 0 <= layer < self.n_layers:
            return False
        flat = self.flat(layer)
        return 0 <= src < flat.size and 0 <= dst < flat.size and flat[src] != 0 and flat[dst] == 0

    def check_swap(self, swap: Swap | Sequence[int]) -> Swap:
        """Return ``swap`` as a :class:`Swap`, or raise :class:`SwapError` saying why it is illegal."""
        layer, src, dst = (int(v) for v in swap)
        if not 0 <= layer < self.n_layers:
            raise SwapError(f"layer {layer} out of range [0, {self.n_layers})")
        flat = self.flat(layer)
        name = self.layer_names[layer]
        for what, i in (("src", src), ("dst", dst)):
            if not 0 <= i < flat.size:
                raise SwapError(f"{what} index {i} is outside layer {name!r} (size {flat.size})")
        if flat[src] == 0:
            raise SwapError(
                f"src {src} of layer {name!r} is a zero weight; a swap moves a nonzero weight"
            )
        if flat[dst] != 0:
            raise SwapError(
                f"dst {dst} of layer {name!r} is a nonzero weight; a swap needs a zero target"
            )
        return Swap(layer, src, dst)

    def apply_swap(self, swap: Swap | Sequence[int]) -> None:
        """Apply a legal swap in place (raises :class:`SwapError` if it is not legal)."""
        layer, src, dst = self.check_swap(swap)
        self._move(layer, src, dst)

    def undo_swap(self, swap: Swap | Sequence[int]) -> None:
        """Undo a swap applied last to this layer: move the weight from ``dst`` back to ``src``."""
        layer, src, dst = (int(v) for v in swap)
        self.apply_swap((layer, dst, src))

    def _move(self, layer: int, src: int, dst: int) -> None:
        flat = self.flat(layer)
        flat[dst], flat[src] = flat[src], 0
        idx = self._index[layer]
        if idx is not None:
            idx.move(src, dst)

    def sample_swaps(
        self,
        k: int,
        rng: np.random.Generator,
        layer: int | str | None = None,
        layer_weights: Sequence[float] | None = None,
    ) -> np.ndarray:
        """Draw ``k`` legal swaps of the current network, independently and uniformly.

        Args:
            k: Number of swaps.
            rng: The generator every draw comes from.
            layer: Restrict to one layer (index or name). If None, each swap first draws a layer.
            layer_weights: With ``layer=None``, the probability of each layer. The default is
                proportional to each layer's number of legal swaps, so every first neighbour of
                the network is equally likely.

        Returns:
            An int64 array of shape (k, 3): rows ``(layer, src, dst)``.
        """
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        if layer is not None:
            layers = np.full(k, self.layer_index(layer), dtype=np.int64)
        else:
            counts = [self.n_swaps(i) for i in range(self.n_layers)]
            layers = draw_layers(counts, k, rng, layer_weights)
        return draw_positions(layers, self._layer_index_cache, self.layer_names, rng)

    # ------------------------------------------------------------------------------ file format
    def metadata(self) -> dict[str, Any]:
        return {
            "magic": FILE_MAGIC,
            "schema_version": SCHEMA_VERSION,
            "architecture": self.arch.to_dict(),
            "scales": self.scales,
            "offset": self.offset,
            "sparsity": self.sparsity,
            "seed": self.seed,
            "provenance": self.provenance,
            "weights_sha256": weights_digest(self.weights, self.layer_names),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the network to one ``.npz`` file (atomically: a crash never leaves half a file)."""
        arrays = self.to_arrays()
        return atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays))

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """The file format's entries (:mod:`aann_env.core.file_format`).

        Args:
            prefix: Prepended to every key as ``<prefix>:`` (several networks in one file).
        """
        return file_format.encode(self.metadata(), self.weights, self.layer_names, prefix)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], arch: str | Architecture | None = None
    ) -> TernaryNetwork:
        """Read a network saved by :meth:`save`, validating everything.

        Args:
            path: The file.
            arch: If given, the architecture the file must hold.

        Raises:
            CheckpointError: The file is missing, truncated, corrupted, of another schema or
                architecture, or holds weights that are not a valid ternary network.
        """
        return cls.from_arrays(file_format.read_file(path), str(Path(path)), arch)

    @classmethod
    def from_arrays(
        cls,
        contents: Mapping[str, np.ndarray],
        where: str,
        arch: str | Architecture | None = None,
        prefix: str = "",
    ) -> TernaryNetwork:
        """The network held by the entries of :meth:`to_arrays`, validating everything.

        Args:
            contents: The entries (other networks' entries under other prefixes are ignored).
            where: Names the source in error messages.
            arch: If given, the architecture the entries must hold.
            prefix: The prefix the entries were written with.

        Raises:
            CheckpointError: As :meth:`load`.
        """
        meta, stored_arch, weights, where = file_format.decode(contents, where, arch, prefix)
        try:
            net = cls(
                stored_arch,
                weights,
                {str(k): float(v) for k, v in meta["scales"].items()},
                float(meta["offset"]),
                float(meta["sparsity"]),
                None if meta.get("seed") is None else int(meta["seed"]),
                dict(meta.get("provenance") or {}),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"{where}: invalid network: {exc}") from exc
        digest = weights_digest(net.weights, net.layer_names)
        if digest != meta.get("weights_sha256"):
            raise CheckpointError(
                f"{where}: weights do not match their checksum; the file is corrupted"
            )
        return net


def random_network(
    arch: Architecture | str,
    sparsity: float,
    rng: np.random.Generator | int,
    offset: float = 0.0,
    scales: dict[str, float] | None = None,
    balanced: bool = False,
) -> TernaryNetwork:
    """A random p-sparse ternary network.

    Every layer gets exactly ``round(sparsity * size)`` zeros at uniformly random positions; each
    remaining weight is -1 or +1 with equal probability, or, with ``balanced``, exactly half of
    them (rounded down) are -1 and the rest +1. Balanced networks of one architecture and sparsity
    all share one family signature: they are uniformly random members of one family, whatever the
    seed.

    Args:
        arch: Architecture or its name.
        sparsity: Fraction of zeros in every layer, in [0, 1).
        rng: A ``numpy.random.Generator`` (or an int seed, recorded in the network).
        offset: The task's input offset.
        scales: Layer scales; :func:`default_scales` if None.
        balanced: Split each layer's nonzeros evenly between -1 and +1.
    """
    arch = get_architecture(arch) if isinstance(arch, str) else arch
    seed = int(rng) if isinstance(rng, (int, np.integer)) else None
    gen = np.random.default_rng(rng) if seed is not None else rng
    assert isinstance(gen, np.random.Generator)
    weights: dict[str, np.ndarray] = {}
    for spec in arch.layers:
        n = spec.size
        zeros = zeros_per_layer(n, sparsity)
        if balanced:
            nonzero = n - zeros
            flat = np.zeros(n, dtype=np.int8)
            flat[: nonzero // 2] = -1
            flat[nonzero // 2 : nonzero] = 1
            flat = flat[gen.permutation(n)]
        else:
            flat = gen.choice(np.array([-1, 1], dtype=np.int8), size=n)
            flat[gen.permutation(n)[:zeros]] = 0
        weights[spec.name] = flat.reshape(spec.weight_shape)
    return TernaryNetwork(
        arch,
        weights,
        scales if scales is not None else default_scales(arch, sparsity, offset),
        offset,
        sparsity,
        seed,
        {"init": "balanced" if balanced else "random", "sparsity": sparsity, "seed": seed},
    )


def random_neighbor(
    net: TernaryNetwork, k: int, rng: np.random.Generator, layer: int | str | None = None
) -> tuple[TernaryNetwork, np.ndarray]:
    """A k-th neighbour: a copy of ``net`` ``k`` swaps away, at Hamming distance exactly ``2k``
    (each swap touches positions no earlier swap touched, so no swap undoes another).

    Returns:
        The neighbour and the (k, 3) array of swaps that lead to it from ``net``.
    """
    other = net.copy()
    touched: set[tuple[int, int]] = set()
    swaps = np.empty((k, 3), dtype=np.int64)
    made = 0
    for _ in range(1000 * max(k, 1)):
        if made == k:
            break
        s = other.sample_swaps(1, rng, layer=layer)[0]
        key_src, key_dst = (int(s[0]), int(s[1])), (int(s[0]), int(s[2]))
        if key_src in touched or key_dst in touched:
            continue
        other.apply_swap(s)
        touched.update((key_src, key_dst))
        swaps[made] = s
        made += 1
    if made < k:
        raise SwapError(f"could not find {k} non-overlapping swaps in this network")
    return other, swaps
