"""Exact incremental evaluation of bit-swap neighbours.

A bit-swap ``(l, src, dst)`` changes two weights of layer ``l``; nearly all of a forward pass can
be reused. :class:`IncrementalEvaluator` caches, for one network and one evaluation set, every
layer's input and pre-activation (:mod:`aann_env.evaluation.caches`), and scores a swap like this:

1. **Layer l, two units.** The weight at ``src`` feeds output unit ``o1`` (a channel of a conv,
   a neuron of a linear layer) from one input position; moving it to ``dst`` feeds unit ``o2``.
   So ``z_l[o1] -= v * tap(src)`` and ``z_l[o2] += v * tap(dst)``, where ``tap`` is the input
   feature (linear) or the strided, shifted copy of one input channel (conv) that the weight
   multiplies and ``v`` its sign. Only these two units' activations are recomputed.
2. **Layer l+1, a two-unit delta.** The change of those two units' outputs is propagated with
   only the weights that read them (a convolution over two input channels, or a matmul over
   their features): ``z_{l+1} + delta`` is the new pre-activation.
3. **Further layers** are recomputed densely from there (in both architectures they are small),
   and the logits are scored with the canonical loss and accuracy of :mod:`aann_env.core.forward`.

Swaps in the output layer change two logits only; they are scored many at a time from
per-sample tables by an :class:`~aann_env.evaluation.output_layer.OutputLayerScorer`: on the CPU
the fused, tiled numba kernel (:class:`~aann_env.evaluation.output_layer.KernelOutputScorer`), on
other devices tensor operations (:class:`~aann_env.evaluation.output_layer.TorchOutputScorer`).

On the CPU, swaps in pooled conv layers go to
:class:`~aann_env.evaluation.sparse_conv.SparseConvScorer`, which follows steps 1-3 sparsely:
only the pooled outputs that change are propagated, per sample, and all the swaps of a batch
run over one sample while its cached planes are in cache
(:mod:`aann_env.evaluation.sparse_kernels`; for the conv just before the output layer, with
samples in SIMD lanes, :mod:`aann_env.evaluation.lane_kernels`). Other hidden-layer swaps, any
swap whose logits are asked for, and every swap on other devices are scored one at a time with
tensor operations, chunked over samples, ending in the same scorer's per-sample scoring of the
logits.

Every value is exact (see :mod:`aann_env.core.architecture`), so ``z + delta`` equals what a
from-scratch forward pass computes, bit for bit, and so do the logits, the accuracy and the loss.
:meth:`IncrementalEvaluator.commit` applies a swap and updates the caches the same way, so long
chains of commits do not drift. All tensors live on ``device``; the code runs unchanged on CUDA.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from aann_env.core.architecture import LayerSpec
from aann_env.core.forward import exact_math
from aann_env.core.network import TernaryNetwork
from aann_env.evaluation.caches import CHUNK_BYTES, Caches, act, build_caches, sample_chunk
from aann_env.evaluation.output_layer import (
    OUTPUT_BATCH,
    KernelOutputScorer,
    OutputLayerScorer,
    TorchOutputScorer,
    output_layer_logits,
)
from aann_env.evaluation.scores import SwapScores
from aann_env.evaluation.sparse_conv import SparseConvScorer

__all__ = [
    "CHUNK_BYTES",
    "DEFAULT_MEMORY_BUDGET",
    "OUTPUT_BATCH",
    "IncrementalEvaluator",
    "SwapScores",
]

DEFAULT_MEMORY_BUDGET = 512 * 2**20
"""Bytes of temporaries one chunk of work may use (the caches come on top)."""

_COMMIT_CHUNK = 1000
"""Samples per chunk when a commit recomputes the layers after the swapped one."""


class IncrementalEvaluator:
    """Caches one network's forward pass on one evaluation set and scores swaps incrementally.

    Args:
        net: The network. The evaluator keeps its own copy; read it from :attr:`network`.
        pixels: uint8 pixel codes, (N, H, W) or (N, C, H, W).
        labels: (N,) class labels.
        device: Where caches live and work runs (``"cpu"``, ``"cuda"``, ...).
        memory_budget: Bytes of temporaries per chunk of work.
        use_kernels: Use the fused numba kernels where they apply (default: on the CPU). The
            torch code computes the same bits; it is what runs on other devices.
    """

    def __init__(
        self,
        net: TernaryNetwork,
        pixels: np.ndarray | torch.Tensor,
        labels: np.ndarray | torch.Tensor,
        *,
        device: torch.device | str = "cpu",
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        use_kernels: bool | None = None,
    ) -> None:
        self.device: torch.device = torch.device(device)
        self.use_kernels: bool = (
            self.device.type == "cpu" if use_kernels is None else bool(use_kernels)
        )
        if self.use_kernels and self.device.type != "cpu":
            raise ValueError(
                "the fused kernels run on the CPU only; use_kernels=False on other devices"
            )
        self.memory_budget: int = int(memory_budget)
        self.n: int = len(labels)
        if self.n == 0:
            raise ValueError("the evaluation set is empty")
        if len(pixels) != self.n:
            raise ValueError(f"{len(pixels)} images but {self.n} labels")
        self.labels: torch.Tensor = torch.as_tensor(
            np.asarray(labels), dtype=torch.int64, device=self.device
        )
        self._pixels: np.ndarray | torch.Tensor = pixels
        self._layers: tuple[LayerSpec, ...] = net.arch.layers
        # Per-sample element counts of each layer's pre-activation, for chunk sizes.
        self._preact_sizes: list[int] = [math.prod(s) for s in net.arch.preactivation_shapes()]
        self._kernel_scorer: KernelOutputScorer | None = (
            KernelOutputScorer(self.labels, net.arch.n_classes) if self.use_kernels else None
        )
        self._scorer: OutputLayerScorer = self._kernel_scorer or TorchOutputScorer(
            self.labels, net.arch.n_classes, self.memory_budget
        )
        self._sparse: SparseConvScorer = SparseConvScorer(net.arch.layers)
        self._net: TernaryNetwork = net.copy()
        self._caches: Caches = build_caches(self._net, pixels, self.device)
        self._n_correct: int
        self._loss_sum: float
        self._n_correct, self._loss_sum = self._scorer.rebuild(self._caches)

    # ------------------------------------------------------------------------------ state
    @property
    def network(self) -> TernaryNetwork:
        """The evaluator's current network (do not modify it; use :meth:`commit`)."""
        return self._net

    @property
    def accuracy(self) -> float:
        return self._n_correct / self.n

    @property
    def loss(self) -> float:
        return self._loss_sum / self.n

    @property
    def logits(self) -> torch.Tensor:
        """Current (N, C) logits."""
        return (self._caches.preacts[-1] * self._caches.scales[-1]).T

    def input_statistics(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """Statistics of ``layer``'s input units (features of a linear layer, channels of a
        conv), read from the caches at no evaluation cost.

        Returns:
            ``(mean, class_offset)``: (in,) the mean of each input unit over the evaluation set
            (conv: over samples and positions, padding excluded), and (n_classes, in) the mean
            over the samples of each class minus that mean (float64).
        """
        inputs = self._caches.inputs[layer]
        return unit_statistics(self._layers[layer], inputs, self.labels, self._caches.n_classes)

    def reset(self, net: TernaryNetwork) -> None:
        """Start over from another network of the same architecture (a full forward pass)."""
        if net.arch.layers != self._layers:
            raise ValueError("the evaluator was built for another architecture")
        self._net = net.copy()
        self._caches = build_caches(self._net, self._pixels, self.device)
        self._n_correct, self._loss_sum = self._scorer.rebuild(self._caches)

    def _sample_chunk(self, layer: int) -> int:
        """Samples per chunk: the largest temporary near CHUNK_BYTES, all within the budget."""
        pre = self._preact_sizes
        if layer == len(self._layers) - 1:
            largest = 8 * pre[-1] * OUTPUT_BATCH  # (K, C, n) float64
        else:
            largest = 4 * max(pre[layer] // self._layers[layer].out_features, *pre[layer + 1 :])
        return sample_chunk(self.n, largest, self.memory_budget)

    # ---------------------------------------------------------------------------- scoring
    def score(
        self, swaps: np.ndarray | Sequence[Sequence[int]], *, return_logits: bool = False
    ) -> SwapScores:
        """Score K legal swaps (rows ``(layer, src, dst)``) without changing the network.

        Args:
            swaps: (K, 3) swaps.
            return_logits: Also return every swapped network's (N, C) logits.

        Raises:
            SwapError: A swap is not legal for the current network.
        """
        arr = np.asarray(swaps, dtype=np.int64).reshape(-1, 3)
        for row in arr:
            self._net.check_swap(row)
        k, last = len(arr), len(self._layers) - 1
        n_correct = np.zeros(k, dtype=np.int64)
        loss_sum = np.zeros(k, dtype=np.float64)
        logits_out = (
            torch.empty((k, self.n, self._caches.n_classes), device=self.device)
            if return_logits
            else None
        )
        with torch.inference_mode(), exact_math(self.device):
            for layer in np.unique(arr[:, 0]):
                rows = np.flatnonzero(arr[:, 0] == layer)
                if layer == last:
                    n_correct[rows], loss_sum[rows] = self._scorer.score_swaps(
                        self._caches, arr[rows]
                    )
                    if logits_out is not None:
                        self._output_layer_logits(arr, rows, logits_out)
                    continue
                if self._kernel_scorer and logits_out is None and self._sparse.supports(layer):
                    n_correct[rows], loss_sum[rows] = self._sparse.score(
                        self._caches, arr[rows], self._kernel_scorer
                    )
                    continue
                for r in rows:
                    n_correct[r], loss_sum[r] = self._hidden_swap_scores(arr[r], r, logits_out)
        return SwapScores(n_correct / self.n, loss_sum / self.n, n_correct, logits_out)

    def _output_layer_logits(
        self, swaps: np.ndarray, rows: np.ndarray, logits_out: torch.Tensor
    ) -> None:
        """Write the (N, C) logits of output-layer swaps ``swaps[rows]`` to ``logits_out[rows]``."""
        n_chunk = self._sample_chunk(len(self._layers) - 1)
        for b0 in range(0, len(rows), OUTPUT_BATCH):
            sel = rows[b0 : b0 + OUTPUT_BATCH]
            index = torch.as_tensor(sel, device=self.device)
            for n0 in range(0, self.n, n_chunk):
                n1 = min(self.n, n0 + n_chunk)
                logits = output_layer_logits(self._caches, swaps[sel], n0, n1)  # (K, C, n)
                logits_out[index, n0:n1] = logits.transpose(1, 2)

    def _hidden_swap_scores(
        self, swap: np.ndarray, row: int, logits_out: torch.Tensor | None
    ) -> tuple[int, float]:
        """(number correct, loss sum) of one hidden-layer swap; its logits go to
        ``logits_out[row]`` when given."""
        n_correct, loss_sum = 0, 0.0
        n_chunk = self._sample_chunk(int(swap[0]))
        for n0 in range(0, self.n, n_chunk):
            n1 = min(self.n, n0 + n_chunk)
            logits = self._single_swap_logits(swap, n0, n1)  # (C, n)
            c, loss = self._scorer.row_scores(logits, n0, n1)
            n_correct += c
            loss_sum += loss
            if logits_out is not None:
                logits_out[row, n0:n1] = logits.T
        return n_correct, loss_sum

    def _decode(self, layer: int, flat: int) -> tuple[int, ...]:
        """A flat weight index -> (unit, channel, kh, kw) for conv, (unit, feature) for linear."""
        return tuple(int(i) for i in np.unravel_index(flat, self._layers[layer].weight_shape))

    def _tap(self, layer: int, idx: tuple[int, ...], n0: int, n1: int) -> torch.Tensor:
        """The input the weight at ``idx`` multiplies: (n, H, W) for conv, (n,) for linear."""
        spec, inp = self._layers[layer], self._caches.inputs[layer]
        if spec.kind == "linear":
            return inp[idx[1], n0:n1]
        _, c, kh, kw = idx
        h, w = self._caches.preacts[layer].shape[2:]
        s = spec.stride
        return inp[c, n0:n1, kh : kh + s * (h - 1) + 1 : s, kw : kw + s * (w - 1) + 1 : s]

    def _unit_update(
        self, swap: Sequence[int], n0: int, n1: int
    ) -> tuple[list[int], list[torch.Tensor]]:
        """The distinct units one swap touches and their new pre-activations on samples n0:n1."""
        layer, src, dst = (int(v) for v in swap)
        si, di = self._decode(layer, src), self._decode(layer, dst)
        v = float(self._caches.weights[layer].view(-1)[src])
        z = self._caches.preacts[layer]
        t_src, t_dst = self._tap(layer, si, n0, n1), self._tap(layer, di, n0, n1)
        if si[0] == di[0]:
            new = torch.add(z[si[0], n0:n1], t_src, alpha=-v).add_(t_dst, alpha=v)
            return [si[0]], [new]
        return [si[0], di[0]], [
            torch.add(z[si[0], n0:n1], t_src, alpha=-v),
            torch.add(z[di[0], n0:n1], t_dst, alpha=v),
        ]

    def _next_preactivation(
        self, layer: int, units: list[int], deltas: list[torch.Tensor], n0: int, n1: int
    ) -> torch.Tensor:
        """Layer ``layer + 1``'s new pre-activation when ``units`` of ``layer`` change by ``deltas``."""
        caches = self._caches
        nxt, w = self._layers[layer + 1], caches.weights[layer + 1]
        base = caches.preacts[layer + 1][:, n0:n1]
        if nxt.kind == "conv":
            d = torch.stack(deltas)  # (u, n, H', W')
            d = F.pad(d, (nxt.padding,) * 4)
            return base + caches.op(layer + 1, d, w[:, units])
        per_unit = nxt.in_features // self._layers[layer].out_features
        out = base
        for unit, d in zip(units, deltas, strict=True):
            wu = w[:, unit * per_unit : (unit + 1) * per_unit]  # (out, F_u)
            out = out + wu @ d.reshape(d.shape[0], -1).T if d.dim() > 1 else out + wu * d
        return out

    def _dense_from(self, layer: int, z: torch.Tensor) -> torch.Tensor:
        """Class-major logits (C, n) from the new unit-major pre-activation of ``layer``."""
        caches = self._caches
        for m in range(layer, len(self._layers) - 1):
            a = act(self._layers[m], caches.scales[m], z)
            nxt = self._layers[m + 1]
            if nxt.kind == "conv":
                a = F.pad(a, (nxt.padding,) * 4)
            z = caches.op(m + 1, a)
        return z * caches.scales[-1]

    def _single_swap_logits(self, swap: Sequence[int], n0: int, n1: int) -> torch.Tensor:
        """Class-major logits (C, n) of one swap in a hidden layer."""
        layer = int(swap[0])
        spec, scale = self._layers[layer], self._caches.scales[layer]
        units, new_z = self._unit_update(swap, n0, n1)
        old = self._caches.output(layer, n0, n1)
        deltas = [act(spec, scale, z) - old[u] for u, z in zip(units, new_z, strict=True)]
        return self._dense_from(layer + 1, self._next_preactivation(layer, units, deltas, n0, n1))

    # ----------------------------------------------------------------------------- commit
    def commit(self, swap: Sequence[int] | np.ndarray) -> tuple[float, float]:
        """Apply a legal swap to the network and update every cache incrementally.

        Returns:
            The new (accuracy, loss).

        Raises:
            SwapError: The swap is not legal (nothing changes).
        """
        flat_swap = np.asarray(swap).reshape(-1)
        self._net.apply_swap(flat_swap)  # raises SwapError before anything changes
        layer, src, dst = (int(v) for v in flat_swap)
        caches = self._caches
        n_chunk = self._sample_chunk(layer)
        with torch.inference_mode(), exact_math(self.device):
            for n0 in range(0, self.n, n_chunk):
                self._commit_chunk(layer, src, dst, n0, min(self.n, n0 + n_chunk))
            flat_w = caches.weights[layer].view(-1)
            flat_w[dst] = flat_w[src].item()
            flat_w[src] = 0.0
            if layer < len(self._layers) - 1:
                for n0 in range(0, self.n, _COMMIT_CHUNK):
                    caches.activate_from(layer + 1, n0, min(self.n, n0 + _COMMIT_CHUNK))
        self._n_correct, self._loss_sum = self._scorer.rebuild(caches)
        return self.accuracy, self.loss

    def _commit_chunk(self, layer: int, src: int, dst: int, n0: int, n1: int) -> None:
        """Update layer ``layer``'s pre-activation, and the next layer's when there is one, for
        samples n0:n1 (the weights still hold the network before the swap)."""
        caches = self._caches
        units, new_z = self._unit_update((layer, src, dst), n0, n1)
        if layer < len(self._layers) - 1:
            old = caches.output(layer, n0, n1)
            new_a = [act(self._layers[layer], caches.scales[layer], z) for z in new_z]
            deltas = [a - old[u] for u, a in zip(units, new_a, strict=True)]
            caches.preacts[layer + 1][:, n0:n1] = self._next_preactivation(
                layer, units, deltas, n0, n1
            )
            for u, a in zip(units, new_a, strict=True):
                old[u] = a  # writes through to the next layer's cached input
        for u, z in zip(units, new_z, strict=True):
            caches.preacts[layer][u, n0:n1] = z


def unit_statistics(
    spec: LayerSpec, inp: torch.Tensor, labels: torch.Tensor, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, class_offset)`` of a layer's input units (see
    :meth:`IncrementalEvaluator.input_statistics`) from its cached input ``inp``."""
    with torch.inference_mode():
        if spec.kind == "conv":
            p = spec.padding
            inner = inp[:, :, p : inp.shape[2] - p, p : inp.shape[3] - p]
            units = inner.to(torch.float64).mean(dim=(2, 3))  # (C_in, N)
        else:
            units = inp.to(torch.float64)  # (F, N)
        mean = units.mean(dim=1)
        onehot = torch.nn.functional.one_hot(labels, n_classes).to(torch.float64)  # (N, C)
        counts = onehot.sum(dim=0).clamp(min=1.0)
        by_class = (units @ onehot) / counts  # (in, C)
        offset = by_class.T - mean
    return mean.cpu().numpy(), offset.cpu().numpy()
