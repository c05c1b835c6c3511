"""Scoring swaps in pooled conv layers with the sparse CPU kernels.

:class:`SparseConvScorer` turns a batch of swaps in one conv layer and the evaluator's caches
into the arguments of the kernels: each swap's changed channels and their tap rows, the next
conv's weights with output channels last, the linear layers' transposed weights, and the cached
pooled outputs as ``(C, N, H, W)`` views, whatever layout the next layer reads them in. Swaps in
the conv just before the output layer go to
:func:`aann_env.evaluation.lane_kernels.lane_conv_swap_scores` (samples in SIMD lanes), others to
:func:`aann_env.evaluation.sparse_kernels.conv_swap_scores`. It applies to networks shaped like
both of the paper's: pooled convs, then one or two linear layers (see
:meth:`SparseConvScorer.supports`).
"""

from __future__ import annotations

import numpy as np
import torch

from aann_env.core.architecture import LayerSpec
from aann_env.core.loss import EXP_UNITS, LOG_TABLE, LOSS_GRID
from aann_env.evaluation.caches import Caches
from aann_env.evaluation.output_layer import KernelOutputScorer

SPARSE_CHUNK = 256
"""Samples per work item of the sparse kernel (a thread's share is many items)."""

_NO_CONV = (np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 2, 2), dtype=np.float32))
_NO_HIDDEN = (np.zeros((1, 1)), np.zeros((1, 1), dtype=np.float32))


class SparseConvScorer:
    """Scores swaps in the pooled conv layers of one architecture (CPU only).

    Args:
        layers: The architecture's layers.
    """

    def __init__(self, layers: tuple[LayerSpec, ...]) -> None:
        self._layers = layers

    def supports(self, layer: int) -> bool:
        """Whether swaps in ``layer`` can be scored here: a pooled conv, followed by at most
        one more pooled conv and then one hidden linear layer at most before the output."""
        layers = self._layers
        if layers[layer].kind != "conv" or not layers[layer].pool:
            return False
        m = layer + 1
        if layers[m].kind == "conv":
            if not layers[m].pool:
                return False
            m += 1
        rest = layers[m:]
        return all(s.kind == "linear" for s in rest) and 1 <= len(rest) <= 2

    def score(
        self, caches: Caches, swaps: np.ndarray, scorer: KernelOutputScorer
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score K legal swaps ``(layer, src, dst)`` in one supported conv layer.

        Returns:
            (K,) int64 numbers correct and (K,) float64 sums of per-sample losses.
        """
        from aann_env.evaluation import sparse_kernels

        layer = int(swaps[0, 0])
        taps, units = self._taps(caches, swaps)
        if layer + 1 == len(self._layers) - 1:
            return self._score_before_output(caches, layer, taps, units, scorer)
        n = caches.preacts[layer].shape[1]
        m = layer + 1
        has_conv = self._layers[m].kind == "conv"
        if has_conv:
            spec = self._layers[m]
            wt = np.ascontiguousarray(caches.weights[m].numpy().transpose(1, 2, 3, 0), np.float64)
            z1, (out1, off1) = caches.preacts[m].numpy(), self._pooled_output(caches, m)
            conv = (wt, z1, spec.stride, spec.padding, off1, caches.scales[m], out1)
            m += 1
        else:
            wt, z1 = _NO_CONV
            conv = (wt, z1, 1, 0, 0, 1.0, z1)
        has_hidden = m < len(self._layers) - 1
        if has_hidden:
            hidden = (
                _transposed(caches.weights[m]), caches.preacts[m].numpy(), caches.scales[m],
                caches.inputs[m + 1].numpy(),
            )  # fmt: skip
        else:
            hidden = (*_NO_HIDDEN, 1.0, _NO_HIDDEN[1])
        last = (_transposed(caches.weights[-1]), caches.preacts[-1].numpy(), caches.scales[-1])
        out0, off0 = self._pooled_output(caches, layer)
        swap_layer = (
            caches.preacts[layer].numpy(), caches.inputs[layer].numpy(), out0,
            self._layers[layer].stride, caches.scales[layer], off0,
        )  # fmt: skip
        base = (scorer.sample_correct, (scorer.sample_loss * LOSS_GRID).astype(np.int64))
        n_chunks = -(-n // SPARSE_CHUNK)
        correct = np.zeros((len(swaps), n_chunks), dtype=np.int64)
        units_sum = np.zeros((len(swaps), n_chunks), dtype=np.int64)
        sparse_kernels.conv_swap_scores(
            taps, units, swap_layer, conv, has_conv, hidden, has_hidden, last,
            scorer.labels.numpy(), base, (EXP_UNITS, LOG_TABLE), SPARSE_CHUNK, correct, units_sum,
        )  # fmt: skip
        return correct.sum(axis=1), units_sum.sum(axis=1) / LOSS_GRID

    def _score_before_output(
        self,
        caches: Caches,
        layer: int,
        taps: np.ndarray,
        units: np.ndarray,
        scorer: KernelOutputScorer,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Swaps in the conv layer just before the output layer: the lane kernel, which reads
        only the channels the batch's swaps touch."""
        from aann_env.evaluation import lane_kernels

        zch, zidx = np.unique(units[units >= 0], return_inverse=True)
        pairs = np.full((len(units), 2, 2), -1, dtype=np.int64)
        pairs[:, :, 1] = units
        pairs[:, :, 0][units >= 0] = zidx
        used = taps[:, :, :, 3] != 0.0
        ich, iidx = np.unique(taps[:, :, :, 0][used].astype(np.int64), return_inverse=True)
        taps = taps.copy()
        taps[:, :, :, 0][used] = iidx
        taps[:, :, :, 0][~used] = 0  # a zero coefficient: any valid channel will do
        n = caches.preacts[layer].shape[1]
        n_groups = -(-n // (lane_kernels.LANES * lane_kernels.GROUPS))
        correct = np.zeros((len(units), n_groups), dtype=np.int64)
        units_sum = np.zeros((len(units), n_groups), dtype=np.int64)
        cached = (
            caches.preacts[layer].numpy(),
            caches.inputs[layer].numpy(),
            caches.inputs[-1].numpy(),
        )
        last = (_transposed(caches.weights[-1]), caches.preacts[-1].numpy(), caches.scales[-1])
        base = (scorer.sample_correct, (scorer.sample_loss * LOSS_GRID).astype(np.int64))
        lane_kernels.lane_conv_swap_scores(
            taps, pairs, (zch.astype(np.int64), ich), cached,
            (self._layers[layer].stride, caches.scales[layer]), last, scorer.labels.numpy(), base,
            (EXP_UNITS, LOG_TABLE), correct, units_sum,
        )  # fmt: skip
        return correct.sum(axis=1), units_sum.sum(axis=1) / LOSS_GRID

    def _taps(self, caches: Caches, swaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per swap, its changed channels (K, 2) (-1: none) and their tap rows (K, 2, 2, 4)."""
        layer = int(swaps[0, 0])
        shape = self._layers[layer].weight_shape
        o1, c1, h1, w1 = np.unravel_index(swaps[:, 1], shape)
        o2, c2, h2, w2 = np.unravel_index(swaps[:, 2], shape)
        v = caches.weights[layer].view(-1).numpy()[swaps[:, 1]].astype(np.float64)
        same = o1 == o2
        src = np.stack([c1, h1, w1, -v], axis=1)  # (K, 4): the moved weight leaves o1 ...
        dst = np.stack([c2, h2, w2, v], axis=1)  # ... and feeds o2
        taps = np.zeros((len(swaps), 2, 2, 4))
        taps[:, 0, 0] = src
        taps[:, 0, 1] = np.where(same[:, None], dst, 0.0)
        taps[:, 1, 0] = dst
        units = np.stack([o1, np.where(same, -1, o2)], axis=1).astype(np.int64)
        return taps, units

    def _pooled_output(self, caches: Caches, layer: int) -> tuple[np.ndarray, int]:
        """Layer ``layer``'s cached pooled output as a (C, N, H, W) array and the offset of its
        spatial index (the next conv's padding)."""
        nxt = self._layers[layer + 1]
        inp = caches.inputs[layer + 1]
        if nxt.kind == "conv":
            return inp.numpy(), nxt.padding
        c, (h, w) = caches.preacts[layer].shape[0], caches.out_plane(layer)
        return inp.view(c, h, w, -1).permute(0, 3, 1, 2).numpy(), 0  # features are (C, H, W)


def _transposed(weight: torch.Tensor) -> np.ndarray:
    """A linear layer's (out, in) weights as contiguous float64 (in, out): one row per input."""
    return np.ascontiguousarray(weight.numpy().T, dtype=np.float64)
