"""The forward pass of a ternary network: the one definition every evaluator must reproduce.

For a network with layers ``l = 1..L``::

    x      = pixels / 256 - offset                      # dyadic input, float32, (N, C, H, W)
    z_l    = op_l(a_{l-1})                              # conv (stride, padding) or matmul, no bias
    a_l    = maxpool2(hardtanh(scale_l * z_l))          # hidden layers (no pool after hidden fc)
    logits = scale_L * z_L                              # output layer

``op_l`` uses the ternary weights as float32. Every value above is a multiple of a known power of
two with a known bound (:meth:`aann_env.core.architecture.Architecture.exact_bits`), so float32 sums
are exact in any order and any evaluator that follows this definition gets the same bits.

The loss that scores these logits is defined in :mod:`aann_env.core.loss`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from aann_env.core.architecture import LayerSpec
from aann_env.core.loss import correct, per_sample_loss
from aann_env.core.network import TernaryNetwork

DEFAULT_BATCH = 1000


@contextlib.contextmanager
def exact_math(device: torch.device | str | None = None) -> Iterator[None]:
    """Make float32 convs and matmuls exact on every backend.

    CUDA may otherwise use TF32 (10-bit significands) or cuDNN's FFT and Winograd algorithms,
    whose results are rounded. On the CPU this changes nothing.
    """
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type != "cuda":
        yield
        return
    old_matmul = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.backends.cudnn.flags(enabled=False, allow_tf32=False):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old_matmul


def to_input(
    pixels: np.ndarray | torch.Tensor, offset: float, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Turn uint8 pixel codes (N, H, W) or (N, C, H, W) into the network input ``k/256 - offset``."""
    t = torch.as_tensor(pixels, device=device)
    if t.dtype != torch.uint8:
        raise TypeError(f"pixels must be uint8 codes, got {t.dtype}")
    if t.dim() == 3:
        t = t.unsqueeze(1)  # (N, 1, H, W)
    return t.to(torch.float32) / 256.0 - offset


def weight_tensors(net: TernaryNetwork, device: torch.device | str = "cpu") -> list[torch.Tensor]:
    """The network's weights as float32 tensors, in layer order."""
    return [
        torch.as_tensor(net.weights[name], device=device).to(torch.float32)
        for name in net.layer_names
    ]


def layer_op(spec: LayerSpec, a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``op_l``: the layer's convolution or matmul, without bias or scale."""
    if spec.kind == "conv":
        return F.conv2d(a, w, stride=spec.stride, padding=spec.padding)
    return a.flatten(1) @ w.T  # (N, in) @ (in, out) -> (N, out)


def activation(spec: LayerSpec, scale: float, z: torch.Tensor) -> torch.Tensor:
    """A hidden layer's ``maxpool2(hardtanh(scale * z))`` (pool only where the layer has one)."""
    a = F.hardtanh(z * scale)
    return F.max_pool2d(a, 2) if spec.pool else a


def forward(
    net: TernaryNetwork, x: torch.Tensor, weights: Sequence[torch.Tensor] | None = None
) -> torch.Tensor:
    """Logits (N, n_classes) of the network on input ``x`` (see :func:`to_input`)."""
    ws = weights if weights is not None else weight_tensors(net, x.device)
    a = x
    layers = net.arch.layers
    with exact_math(x.device):
        for i, (spec, w) in enumerate(zip(layers, ws, strict=True)):
            z = layer_op(spec, a, w)
            if i < len(layers) - 1:
                a = activation(spec, net.scales[spec.name], z)
            else:
                a = z * net.scales[spec.name]
    return a


@dataclass(frozen=True)
class Evaluation:
    """Accuracy and mean loss of a network on a data set (and the logits, if asked for)."""

    accuracy: float
    loss: float
    n_correct: int
    n: int
    logits: torch.Tensor | None = None


def evaluate(
    net: TernaryNetwork,
    pixels: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    *,
    batch_size: int = DEFAULT_BATCH,
    device: torch.device | str = "cpu",
    keep_logits: bool = False,
) -> Evaluation:
    """Full forward evaluation in batches under inference mode.

    Args:
        net: The network.
        pixels: uint8 codes (N, H, W) or (N, C, H, W).
        labels: (N,) class labels.
        batch_size: Samples per forward batch (bounds peak memory).
        device: Where to compute.
        keep_logits: Also return the (N, C) float32 logits on the CPU.
    """
    n = len(labels)
    if n == 0:
        raise ValueError("cannot evaluate on an empty data set")
    y_all = torch.as_tensor(np.asarray(labels), dtype=torch.int64, device=device)
    n_correct = 0
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    kept: list[torch.Tensor] = []
    with torch.inference_mode():
        ws = weight_tensors(net, device)
        for start in range(0, n, batch_size):
            x = to_input(pixels[start : start + batch_size], net.offset, device)
            y = y_all[start : start + batch_size]
            logits = forward(net, x, ws)
            n_correct += int(correct(logits, y).sum())
            loss_sum += per_sample_loss(logits, y).sum()
            if keep_logits:
                kept.append(logits.cpu())
    return Evaluation(
        accuracy=n_correct / n,
        loss=float(loss_sum) / n,
        n_correct=n_correct,
        n=n,
        logits=torch.cat(kept) if keep_logits else None,
    )
