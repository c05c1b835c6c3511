"""One network's forward pass on one evaluation set, cached unit-major for incremental updates.

Caches are unit-major: ``(C, N, H, W)`` for convs and ``(F, N)`` for linear layers, so a unit's
pre-activation is one contiguous slab, a conv tap is a strided view and the logits are
class-major, which lets the loss run as contiguous row operations. Every value is exact (see
:mod:`aann_env.core.architecture`), so the caches equal what :mod:`aann_env.core.forward`
computes, bit for bit, however the work is chunked over samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from aann_env.core.architecture import LayerSpec
from aann_env.core.forward import exact_math, to_input, weight_tensors
from aann_env.core.network import TernaryNetwork

CHUNK_BYTES = 8 * 2**20
"""Target size of one temporary: small enough to stay in cache and to be recycled by the
allocator instead of being mapped afresh (page faults) on every call."""

_BUILD_CHUNK = 1000
"""Samples per chunk of the full forward pass that fills the caches."""


def sample_chunk(n: int, largest: int, memory_budget: int) -> int:
    """Samples per chunk of work whose largest temporary takes ``largest`` bytes per sample.

    Args:
        n: Number of samples.
        largest: Bytes per sample of the largest temporary.
        memory_budget: Bytes all temporaries of one chunk may use (about 16 of the largest).

    Returns:
        The largest chunk whose biggest temporary stays near CHUNK_BYTES, within the budget.
    """
    return int(max(1, min(n, CHUNK_BYTES // largest, memory_budget // (16 * largest))))


def act(spec: LayerSpec, scale: float, z: torch.Tensor) -> torch.Tensor:
    """``maxpool2(hardtanh(scale * z))`` of unit-major planes (..., H, W), or hardtanh for fc.

    HardTanh is monotone, so pooling first gives the same values with a quarter of the work.
    """
    if spec.pool:
        h, w = (z.shape[-2] // 2) * 2, (z.shape[-1] // 2) * 2  # floor, as max_pool2d does
        z = torch.maximum(
            torch.maximum(z[..., 0:h:2, 0:w:2], z[..., 1:h:2, 0:w:2]),
            torch.maximum(z[..., 0:h:2, 1:w:2], z[..., 1:h:2, 1:w:2]),
        )
    return F.hardtanh(z * scale)


def flat_features(a: torch.Tensor) -> torch.Tensor:
    """Unit-major activations (C, N, H, W) or (F, N) -> features (C*H*W, N) in torch order."""
    if a.dim() == 2:
        return a
    c, n, h, w = a.shape
    return a.permute(0, 2, 3, 1).reshape(c * h * w, n)


@dataclass
class Caches:
    """Every layer's input and pre-activation for one network, with its weights and scales.

    Attributes:
        layers: The architecture's layers.
        inputs: Layer l's input, unit-major: (C, N, H + 2p, W + 2p) zero-padded for convs (the
            padding never changes), (F, N) for linear layers. Layer l+1's input is layer l's
            output, so there is no separate output cache.
        preacts: Layer l's pre-activation (before its scale), unit-major: (C, N, H, W) or (F, N).
            The last one is the class-major output (C, N); ``* scales[-1]`` gives the logits.
        weights: float32 weights, torch layout, in layer order.
        scales: Each layer's scale.
        key_scale: ``2**bits`` such that ``preacts[-1] * key_scale`` is an integer (a swap never
            changes it: it depends on the scales and the input offset only).
    """

    layers: tuple[LayerSpec, ...]
    inputs: list[torch.Tensor]
    preacts: list[torch.Tensor]
    weights: list[torch.Tensor]
    scales: list[float]
    key_scale: float

    @property
    def n_classes(self) -> int:
        return int(self.preacts[-1].shape[0])

    def set_input(self, layer: int, a: torch.Tensor, n0: int, n1: int) -> None:
        """Store unit-major activations (C, n, H, W) or (F, n) as layer ``layer``'s input."""
        spec, inp = self.layers[layer], self.inputs[layer]
        if spec.kind == "conv":
            p = spec.padding
            inp[:, n0:n1, p : inp.shape[2] - p, p : inp.shape[3] - p] = a
        else:
            inp[:, n0:n1] = flat_features(a)

    def output(self, layer: int, n0: int, n1: int) -> torch.Tensor:
        """Cached output of hidden layer ``layer`` for samples n0:n1, unit-major (a view)."""
        nxt, inp = self.layers[layer + 1], self.inputs[layer + 1]
        if nxt.kind == "conv":
            p = nxt.padding
            return inp[:, n0:n1, p : inp.shape[2] - p, p : inp.shape[3] - p]
        c, *rest = (self.preacts[layer].shape[0], *self.out_plane(layer))
        if not rest:
            return inp[:, n0:n1]
        return inp[:, n0:n1].reshape(c, *rest, n1 - n0).permute(0, 3, 1, 2)  # (C, n, H', W')

    def out_plane(self, layer: int) -> tuple[int, ...]:
        """Spatial shape of one unit's output: (H', W') for convs, () for linear layers."""
        spec, z = self.layers[layer], self.preacts[layer]
        if spec.kind == "linear":
            return ()
        h, w = z.shape[2:]
        return (h // 2, w // 2) if spec.pool else (h, w)

    def op(self, layer: int, a: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """``op_l`` on unit-major input (conv input already padded): unit-major output."""
        spec = self.layers[layer]
        w = self.weights[layer] if weight is None else weight
        if spec.kind == "conv":
            return F.conv2d(a.transpose(0, 1), w, stride=spec.stride).transpose(0, 1)
        return w @ flat_features(a)  # (out, in) @ (in, n)

    def forward_from(self, layer: int, n0: int, n1: int) -> None:
        """Recompute the caches of layers ``layer``.. for samples n0:n1 from its input."""
        for m in range(layer, len(self.layers)):
            self.preacts[m][:, n0:n1] = self.op(m, self.inputs[m][:, n0:n1])
            if m < len(self.layers) - 1:
                a = act(self.layers[m], self.scales[m], self.preacts[m][:, n0:n1])
                self.set_input(m + 1, a, n0, n1)

    def activate_from(self, layer: int, n0: int, n1: int) -> None:
        """From an updated pre-activation of ``layer``: recompute its output and later layers."""
        if layer < len(self.layers) - 1:
            a = act(self.layers[layer], self.scales[layer], self.preacts[layer][:, n0:n1])
            self.set_input(layer + 1, a, n0, n1)
            self.forward_from(layer + 1, n0, n1)


def build_caches(
    net: TernaryNetwork, pixels: np.ndarray | torch.Tensor, device: torch.device
) -> Caches:
    """Run ``net`` on uint8 ``pixels`` (N, H, W) or (N, C, H, W) and cache every layer on ``device``."""
    arch, n = net.arch, len(pixels)
    in_shapes = [arch.input_shape, *arch.activation_shapes()[:-1]]
    inputs: list[torch.Tensor] = []
    for spec, shape in zip(arch.layers, in_shapes, strict=True):
        if spec.kind == "conv":
            c, h, w = shape
            p = spec.padding
            inputs.append(torch.zeros((c, n, h + 2 * p, w + 2 * p), device=device))
        else:
            inputs.append(torch.zeros((math.prod(shape), n), device=device))
    out_bits = arch.fraction_bits(net.scales, net.offset)[arch.layers[-1].name]
    caches = Caches(
        layers=arch.layers,
        inputs=inputs,
        preacts=[
            torch.zeros((s[0], n, *s[1:]), device=device) for s in arch.preactivation_shapes()
        ],
        weights=weight_tensors(net, device),
        scales=[float(net.scales[s.name]) for s in arch.layers],
        key_scale=float(2.0**out_bits),
    )
    with torch.inference_mode(), exact_math(device):
        for n0 in range(0, n, _BUILD_CHUNK):
            n1 = min(n, n0 + _BUILD_CHUNK)
            x = to_input(pixels[n0:n1], net.offset, device)  # (n, C, H, W)
            caches.set_input(0, x.transpose(0, 1), n0, n1)
            caches.forward_from(0, n0, n1)
    return caches
