"""Architecture descriptions of ternary networks, shared by every task, evaluator and trainer.

An :class:`Architecture` is a sequence of :class:`LayerSpec`. Each layer is a convolution or a
fully connected (``linear``) operation without bias; every layer but the last is followed by
HardTanh and, when ``pool`` is set, a 2x2 max-pool. The exact forward pass that these describe is
defined once, in :mod:`aann_env.core.forward`.

Exactness. Inputs are dyadic (``pixels/256 - offset``), weights are in {-1, 0, +1} and every scale
is a power of two, so every intermediate value is a multiple of a known power of two with a known
bound. :meth:`Architecture.exact_bits` computes, per layer, how many significant bits the largest
partial sum can need; while that stays within float32's 24-bit significand every sum is exact in
any order, which is what lets the incremental evaluator match a from-scratch forward pass bit for
bit. :func:`default_scales` only returns scales that pass this check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

FLOAT32_SIGNIFICAND_BITS = 24

LayerKind = Literal["conv", "linear"]


@dataclass(frozen=True)
class LayerSpec:
    """One weight layer.

    Attributes:
        name: Layer name as in the paper (``"1.0"``, ``"2.0"``, ``"fc"``).
        kind: ``"conv"`` or ``"linear"``.
        in_features: Input channels (conv) or input features (linear).
        out_features: Output channels (conv) or output units (linear).
        kernel_size: Square kernel side (conv only; 0 for linear).
        stride: Convolution stride (conv only).
        padding: Zero padding on each side (conv only).
        pool: Whether a 2x2 max-pool follows the activation (hidden conv layers only).
    """

    name: str
    kind: LayerKind
    in_features: int
    out_features: int
    kernel_size: int = 0
    stride: int = 1
    padding: int = 0
    pool: bool = False

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """Weight shape in torch layout: (out, in, k, k) for conv, (out, in) for linear."""
        if self.kind == "conv":
            return (self.out_features, self.in_features, self.kernel_size, self.kernel_size)
        return (self.out_features, self.in_features)

    @property
    def size(self) -> int:
        """Number of weights in the layer."""
        return math.prod(self.weight_shape)

    @property
    def fan_in(self) -> int:
        """Number of weights feeding one output unit."""
        return self.size // self.out_features


@dataclass(frozen=True)
class Architecture:
    """A feed-forward ternary network architecture.

    Attributes:
        name: Registry name (``"mnist"``, ``"car"``).
        input_shape: Input shape (C, H, W) of one sample.
        layers: The weight layers in order.
    """

    name: str
    input_shape: tuple[int, int, int]
    layers: tuple[LayerSpec, ...]

    def __post_init__(self) -> None:
        shape = self.input_shape
        for spec in self.layers:
            shape = _output_shape(spec, shape)
        if len({spec.name for spec in self.layers}) != len(self.layers):
            raise ValueError(f"architecture {self.name!r} has duplicate layer names")
        if self.layers[-1].kind != "linear":
            raise ValueError("the last layer must be linear (it produces the logits)")

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.layers)

    @property
    def n_classes(self) -> int:
        return self.layers[-1].out_features

    @property
    def n_weights(self) -> int:
        return sum(spec.size for spec in self.layers)

    def layer(self, name: str) -> LayerSpec:
        for spec in self.layers:
            if spec.name == name:
                return spec
        raise KeyError(
            f"architecture {self.name!r} has no layer {name!r}; layers: {self.layer_names}"
        )

    def activation_shapes(self) -> list[tuple[int, ...]]:
        """Shape of each layer's output for one sample (after activation and pool)."""
        shapes: list[tuple[int, ...]] = []
        shape: tuple[int, ...] = self.input_shape
        for spec in self.layers:
            shape = _output_shape(spec, shape)
            shapes.append(shape)
        return shapes

    def preactivation_shapes(self) -> list[tuple[int, ...]]:
        """Shape of each layer's pre-activation (before activation and pool) for one sample."""
        shapes: list[tuple[int, ...]] = []
        shape: tuple[int, ...] = self.input_shape
        for spec in self.layers:
            shapes.append(_op_shape(spec, shape))
            shape = _output_shape(spec, shape)
        return shapes

    def exact_bits(self, scales: dict[str, float], offset: float) -> dict[str, int]:
        """Worst-case significant bits of any partial sum in each layer.

        A layer's input values are multiples of ``2**-frac`` bounded by ``bound`` in magnitude; a
        partial sum of at most ``fan_in`` of them needs ``ceil(log2(fan_in * bound)) + frac`` bits.
        The input is ``k/256 - offset``; after a layer with scale ``2**-s`` and HardTanh the values
        are multiples of ``2**-(frac + s)`` bounded by 1.
        """
        fracs = self.fraction_bits(scales, offset)
        bound = max(255 / 256 - offset, offset, 255 / 256)
        bits: dict[str, int] = {}
        for spec in self.layers:
            largest = spec.fan_in * bound
            bits[spec.name] = max(0, math.ceil(math.log2(largest))) + fracs[spec.name]
            bound = 1.0
        return bits

    def fraction_bits(self, scales: dict[str, float], offset: float) -> dict[str, int]:
        """Each layer's input is a multiple of ``2**-bits``; so is its pre-activation."""
        frac = max(8, _fraction_bits(offset))
        out: dict[str, int] = {}
        for spec in self.layers:
            out[spec.name] = frac
            frac += -int(math.log2(scales[spec.name]))
        return out

    def check_weights(self, weights: Mapping[str, np.ndarray], sparsity: float) -> None:
        """Raise ValueError unless ``weights`` are the layers' ternary arrays, each holding exactly
        the zeros of a ``sparsity``-sparse layer."""
        if set(weights) != set(self.layer_names):
            raise ValueError(
                f"weights must name the layers {self.layer_names}, got {sorted(weights)}"
            )
        for spec in self.layers:
            w = weights[spec.name]
            if w.shape != spec.weight_shape:
                raise ValueError(
                    f"layer {spec.name!r} has shape {w.shape}, expected {spec.weight_shape}"
                )
            bad = (w < -1) | (w > 1)
            if bad.any():
                value = int(w.reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]])
                raise ValueError(
                    f"layer {spec.name!r} holds the weight {value}; weights must be -1, 0 or +1"
                )
            zeros = int(np.count_nonzero(w == 0))
            expected = zeros_per_layer(spec.size, sparsity)
            if zeros != expected:
                raise ValueError(
                    f"layer {spec.name!r} has {zeros} zeros but a {sparsity}-sparse layer of "
                    f"{spec.size} weights has exactly {expected}"
                )

    def check_scales(self, scales: dict[str, float], offset: float) -> None:
        """Raise ValueError unless the scales are powers of two that keep every sum exact."""
        if set(scales) != set(self.layer_names):
            raise ValueError(
                f"scales must name exactly the layers {self.layer_names}, got {sorted(scales)}"
            )
        for name, scale in scales.items():
            if scale <= 0 or not float(math.log2(scale)).is_integer():
                raise ValueError(f"scale of layer {name!r} must be a power of two, got {scale}")
        for name, bits in self.exact_bits(scales, offset).items():
            if bits > FLOAT32_SIGNIFICAND_BITS:
                raise ValueError(
                    f"layer {name!r} would need {bits} significand bits (> 24), so float32 sums "
                    "would round; use larger scales (fewer fraction bits) in the layers before it"
                )

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "layers": [asdict(spec) for spec in self.layers],
        }


def zeros_per_layer(size: int, sparsity: float) -> int:
    """Number of zero weights in a ``sparsity``-sparse layer of ``size`` weights: round(p * n)."""
    return int(round(sparsity * size))


def _fraction_bits(value: float) -> int:
    """Number of binary fraction digits of a dyadic value (at most 8 are allowed for offsets)."""
    for bits in range(0, 9):
        if float(value * 2**bits).is_integer():
            return bits
    raise ValueError(f"offset {value} must be a multiple of 1/256")


def _op_shape(spec: LayerSpec, shape: tuple[int, ...]) -> tuple[int, ...]:
    if spec.kind == "linear":
        if math.prod(shape) != spec.in_features:
            raise ValueError(
                f"layer {spec.name!r} expects {spec.in_features} inputs, gets {shape} = {math.prod(shape)}"
            )
        return (spec.out_features,)
    channels, height, width = shape
    if channels != spec.in_features:
        raise ValueError(
            f"layer {spec.name!r} expects {spec.in_features} channels, gets {channels}"
        )
    side = lambda n: (n + 2 * spec.padding - spec.kernel_size) // spec.stride + 1  # noqa: E731
    return (spec.out_features, side(height), side(width))


def _output_shape(spec: LayerSpec, shape: tuple[int, ...]) -> tuple[int, ...]:
    out = _op_shape(spec, shape)
    if spec.pool:
        if spec.kind != "conv":
            raise ValueError(f"layer {spec.name!r}: only conv layers can be pooled")
        out = (out[0], out[1] // 2, out[2] // 2)
    return out


MNIST = Architecture(
    name="mnist",
    input_shape=(1, 28, 28),
    layers=(
        LayerSpec("1.0", "conv", 1, 16, kernel_size=5, stride=1, padding=2, pool=True),
        LayerSpec("2.0", "conv", 16, 32, kernel_size=5, stride=1, padding=2, pool=True),
        LayerSpec("fc", "linear", 32 * 7 * 7, 10),
    ),
)
"""The paper's MNIST net: conv 16@5x5 -> pool -> conv 32@5x5 -> pool -> fc 1568x10."""

CAR = Architecture(
    name="car",
    input_shape=(1, 96, 96),
    layers=(
        # 96 -> conv7 stride 3 -> 30 -> pool -> 15 -> conv5 stride 2 -> 6 -> pool -> 3; 64*3*3 = 576
        LayerSpec("1.0", "conv", 1, 32, kernel_size=7, stride=3, padding=0, pool=True),
        LayerSpec("2.0", "conv", 32, 64, kernel_size=5, stride=2, padding=0, pool=True),
        LayerSpec("fc1", "linear", 64 * 3 * 3, 100),
        LayerSpec("fc2", "linear", 100, 3),
    ),
)
"""The paper's car-racing net: conv 32@7x7 -> pool -> conv 64@5x5 -> pool -> fc 576x100 -> fc 100x3."""

ARCHITECTURES: dict[str, Architecture] = {arch.name: arch for arch in (MNIST, CAR)}


def get_architecture(name: str) -> Architecture:
    """Look up an architecture by name, with a clear error for unknown names."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise KeyError(f"unknown architecture {name!r}; known: {sorted(ARCHITECTURES)}") from None


def default_scales(arch: Architecture, sparsity: float, offset: float = 0.0) -> dict[str, float]:
    """Power-of-two layer scales that keep pre-activations of order one.

    A hidden layer with ``m = (1 - sparsity) * fan_in`` nonzero inputs per unit sums ``m`` terms of
    order ``0.5``, so its scale is ``2**-round(log2(sqrt(m) / 2))``, capped at 1 from above (scaling
    up only coarsens the grid) and reduced further when the exactness budget needs it. The output
    layer aims for logits of a few units. The result always passes :meth:`Architecture.check_scales`.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    scales: dict[str, float] = {}
    for spec in arch.layers:
        nonzero = max(1.0, (1.0 - sparsity) * spec.fan_in)
        exponent = max(0, round(math.log2(math.sqrt(nonzero) / 2)))
        scales[spec.name] = 2.0**-exponent
    # Coarsen early layers while any layer exceeds the budget (keeps the choice total).
    for _ in range(64):
        bits = arch.exact_bits(scales, offset)
        if max(bits.values()) <= FLOAT32_SIGNIFICAND_BITS:
            break
        for spec in arch.layers[:-1]:
            if scales[spec.name] < 1.0:
                scales[spec.name] *= 2.0
                break
    arch.check_scales(scales, offset)
    return scales
