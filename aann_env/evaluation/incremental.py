"""Exact incremental evaluation of bit-swap neighbours.

A bit-swap ``(l, src, dst)`` changes two weights of layer ``l``; nearly all of a forward pass can
be reused. :class:`IncrementalEvaluator` caches, for one network and one evaluation set, every
layer's input, pre-activation and output, and scores a swap like this:

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

Caches are unit-major: ``(C, N, H, W)`` for convs and ``(F, N)`` for linear layers, so a unit's
pre-activation is one contiguous slab, a conv tap is a strided view and the logits are
class-major, which lets the loss run as contiguous row operations. Swaps in the output layer are
scored many at a time, on the CPU by a fused kernel (:mod:`aann_env.evaluation.kernels`) that updates each
sample's prediction and loss from the two logits that change; swaps in other layers one at a
time, chunked over samples, with the final per-sample scoring in a kernel too.

Every value is exact (see :mod:`aann_env.core.architecture`), so ``z + delta`` equals what a
from-scratch forward pass computes, bit for bit, and so do the logits, the accuracy and the loss.
:meth:`IncrementalEvaluator.commit` applies a swap and updates the caches the same way, so long
chains of commits do not drift. All tensors live on ``device``; the code runs unchanged on CUDA.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from aann_env.core.architecture import LayerSpec
from aann_env.core.forward import (
    EXP_UNITS,
    LOG_TABLE,
    correct,
    exact_math,
    loss_from_units,
    loss_shift,
    loss_term_units,
    per_sample_loss,
    to_input,
    weight_tensors,
)
from aann_env.core.network import TernaryNetwork

DEFAULT_MEMORY_BUDGET = 512 * 2**20
"""Bytes of temporaries one chunk of work may use (the caches come on top)."""

OUTPUT_BATCH = 128
"""Output-layer swaps scored together by the torch path."""

CHUNK_BYTES = 8 * 2**20
"""Target size of one temporary: small enough to stay in cache and to be recycled by the
allocator instead of being mapped afresh (page faults) on every call."""


@dataclass(frozen=True)
class SwapScores:
    """Scores of K candidate swaps on the evaluation set.

    Attributes:
        accuracy: (K,) float64 accuracy of each swapped network.
        loss: (K,) float64 mean cross-entropy of each swapped network.
        n_correct: (K,) int64 number of correctly classified samples.
        logits: (K, N, C) float32 logits, only when asked for.
    """

    accuracy: np.ndarray
    loss: np.ndarray
    n_correct: np.ndarray
    logits: torch.Tensor | None = None


def _act(spec: LayerSpec, scale: float, z: torch.Tensor) -> torch.Tensor:
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


def _flat_features(a: torch.Tensor) -> torch.Tensor:
    """Unit-major activations (C, N, H, W) or (F, N) -> features (C*H*W, N) in torch order."""
    if a.dim() == 2:
        return a
    c, n, h, w = a.shape
    return a.permute(0, 2, 3, 1).reshape(c * h * w, n)


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
        self.device = torch.device(device)
        self.use_kernels = self.device.type == "cpu" if use_kernels is None else bool(use_kernels)
        if self.use_kernels and self.device.type != "cpu":
            raise ValueError(
                "the fused kernels run on the CPU only; use_kernels=False on other devices"
            )
        self.memory_budget = int(memory_budget)
        self.n = len(labels)
        if self.n == 0:
            raise ValueError("the evaluation set is empty")
        if len(pixels) != self.n:
            raise ValueError(f"{len(pixels)} images but {self.n} labels")
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64, device=self.device)
        self._pixels = pixels
        self._layers: tuple[LayerSpec, ...] = net.arch.layers
        self.reset(net)

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
        return (self._z[-1] * self._scales[-1]).T

    def reset(self, net: TernaryNetwork) -> None:
        """Start over from another network of the same architecture (a full forward pass)."""
        if net.arch.layers != self._layers:
            raise ValueError("the evaluator was built for another architecture")
        self._net = net.copy()
        self._scales = [float(net.scales[s.name]) for s in self._layers]
        self._w = weight_tensors(self._net, self.device)
        n, dev = self.n, self.device
        in_shapes = [net.arch.input_shape, *net.arch.activation_shapes()[:-1]]
        # _inp[l]: layer l's input, unit-major, zero-padded for convs (padding never changes).
        self._inp: list[torch.Tensor] = []
        for spec, shape in zip(self._layers, in_shapes, strict=True):
            if spec.kind == "conv":
                c, h, w = shape
                p = spec.padding
                self._inp.append(torch.zeros((c, n, h + 2 * p, w + 2 * p), device=dev))
            else:
                self._inp.append(torch.zeros((math.prod(shape), n), device=dev))
        self._z = [
            torch.zeros((s[0], n, *s[1:]), device=dev) for s in net.arch.preactivation_shapes()
        ]
        self._label_rem = (net.arch.n_classes - 1 - self.labels).to(
            torch.float64
        )  # key remainder of y
        chunk = 1000
        with torch.inference_mode(), exact_math(dev):
            for n0 in range(0, n, chunk):
                n1 = min(n, n0 + chunk)
                x = to_input(self._pixels[n0:n1], net.offset, dev)  # (n, C, H, W)
                self._set_input(0, x.transpose(0, 1), n0, n1)
                self._forward_from(0, n0, n1)
        self._refresh_scores()

    def _set_input(self, layer: int, a: torch.Tensor, n0: int, n1: int) -> None:
        """Store unit-major activations (C, n, H, W) or (F, n) as layer ``layer``'s input."""
        spec, inp = self._layers[layer], self._inp[layer]
        if spec.kind == "conv":
            p = spec.padding
            inp[:, n0:n1, p : inp.shape[2] - p, p : inp.shape[3] - p] = a
        else:
            inp[:, n0:n1] = _flat_features(a)

    def _output(self, layer: int, n0: int, n1: int) -> torch.Tensor:
        """Cached output of hidden layer ``layer`` for samples n0:n1, unit-major."""
        nxt, inp = self._layers[layer + 1], self._inp[layer + 1]
        if nxt.kind == "conv":
            p = nxt.padding
            return inp[:, n0:n1, p : inp.shape[2] - p, p : inp.shape[3] - p]
        c, *rest = self._z[layer].shape[:1] + self._out_plane(layer)
        if not rest:
            return inp[:, n0:n1]
        return inp[:, n0:n1].reshape(c, *rest, n1 - n0).permute(0, 3, 1, 2)

    def _out_plane(self, layer: int) -> tuple[int, ...]:
        """Spatial shape of one unit's output: (H', W') for convs, () for linear layers."""
        spec, z = self._layers[layer], self._z[layer]
        if spec.kind == "linear":
            return ()
        h, w = z.shape[2:]
        return (h // 2, w // 2) if spec.pool else (h, w)

    def _op(self, layer: int, a: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """``op_l`` on unit-major input (conv input already padded): unit-major output."""
        spec, w = self._layers[layer], self._w[layer] if weight is None else weight
        if spec.kind == "conv":
            return F.conv2d(a.transpose(0, 1), w, stride=spec.stride).transpose(0, 1)
        return w @ _flat_features(a)  # (out, in) @ (in, n)

    def _forward_from(self, layer: int, n0: int, n1: int) -> None:
        """Recompute caches of layers ``layer``.. for samples n0:n1 from ``_inp[layer]``."""
        for m in range(layer, len(self._layers)):
            self._z[m][:, n0:n1] = self._op(m, self._inp[m][:, n0:n1])
            if m < len(self._layers) - 1:
                a = _act(self._layers[m], self._scales[m], self._z[m][:, n0:n1])
                self._set_input(m + 1, a, n0, n1)

    def _refresh_scores(self) -> None:
        """Current accuracy and loss, and the per-sample tables the output-layer path reuses
        (on the CPU in one kernel pass; elsewhere the tables are rebuilt when next needed)."""
        if self.use_kernels:
            self._kernel_tables()
            return
        with torch.inference_mode():
            logits = self._z[-1] * self._scales[-1]  # (C, N)
            self._n_correct, self._loss_sum = self._row_scores(logits, 0, self.n)
        self._tables_ready = False

    def _kernel_tables(self) -> None:
        from aann_env.evaluation import kernels

        n_classes, n = self._z[-1].shape
        spec = self._layers[-1]
        self._key_scale = float(
            2.0 ** self._net.arch.fraction_bits(self._net.scales, self._net.offset)[spec.name]
        )
        self._top_keys = torch.empty((3, n), dtype=torch.float64)
        self._top_cls = torch.empty((3, n), dtype=torch.int64)
        self._shift = torch.empty(n, dtype=torch.float64)
        self._term_units = torch.empty((n_classes, n), dtype=torch.float64)
        self._term_units_sum = torch.empty(n, dtype=torch.float64)
        self._target = torch.empty(n, dtype=torch.float64)
        correct_out = np.empty(n, dtype=np.bool_)
        loss_out = np.empty(n)
        kernels.output_tables(
            self._z[-1].numpy(), self._scales[-1], self._key_scale, self.labels.numpy(), EXP_UNITS, LOG_TABLE,
            self._top_keys.numpy(), self._top_cls.numpy(), self._shift.numpy(), self._term_units.numpy(),
            self._term_units_sum.numpy(), self._target.numpy(), correct_out, loss_out,
        )  # fmt: skip
        self._n_correct = int(correct_out.sum())
        self._loss_sum = float(loss_out.sum())
        self._tables_ready = True

    def _ensure_tables(self) -> None:
        if not self._tables_ready:
            with torch.inference_mode():
                self._build_output_tables((self._z[-1] * self._scales[-1]).to(torch.float64))
            self._tables_ready = True

    def _build_output_tables(self, lg: torch.Tensor) -> None:
        """Per-sample tables for scoring output-layer swaps from two changed logits.

        ``key = z * 2**frac * C + (C - 1 - c)`` is an exact integer (in float64) for each class c
        whose order is that of the logits with ties going to the lower class, so the predicted
        class is the one with the largest key, and the best of the classes other than {a, b}
        is the first of the sample's three largest keys whose class is neither a nor b.
        """
        n_classes = lg.shape[0]
        spec = self._layers[-1]
        self._key_scale = float(
            2.0 ** self._net.arch.fraction_bits(self._net.scales, self._net.offset)[spec.name]
        )
        classes = torch.arange(n_classes, device=self.device, dtype=torch.float64)
        keys = (
            self._z[-1].to(torch.float64) * (self._key_scale * n_classes)
            + (n_classes - 1 - classes)[:, None]
        )
        top = torch.topk(keys, min(3, n_classes), dim=0)  # keys are distinct: no ties
        self._top_keys = top.values.contiguous()  # (3, N)
        self._top_cls = top.indices.contiguous()  # (3, N)
        self._shift = loss_shift(lg.max(dim=0).values)  # (N,)
        self._term_units = loss_term_units(lg - self._shift)  # (C, N) integers
        self._term_units_sum = self._term_units.sum(dim=0)  # exact
        self._target = lg.gather(0, self.labels.unsqueeze(0)).squeeze(0)  # (N,)

    # ---------------------------------------------------------------------------- scoring
    def score(
        self, swaps: np.ndarray | Sequence[Sequence[int]], *, return_logits: bool = False
    ) -> SwapScores:
        """Score K legal swaps (rows ``(layer, src, dst)``) without changing the network.

        Raises:
            SwapError: A swap is not legal for the current network.
        """
        arr = np.asarray(swaps, dtype=np.int64).reshape(-1, 3)
        for row in arr:
            self._net.check_swap(row)
        k, last = len(arr), len(self._layers) - 1
        n_correct = np.zeros(k, dtype=np.int64)
        loss_sum = np.zeros(k, dtype=np.float64)
        n_classes = self._z[-1].shape[0]
        logits_out = (
            torch.empty((k, self.n, n_classes), device=self.device) if return_logits else None
        )
        with torch.inference_mode(), exact_math(self.device):
            for layer in np.unique(arr[:, 0]):
                rows = np.flatnonzero(arr[:, 0] == layer)
                if self._kernel_applies(int(layer)) and not return_logits:
                    for r0 in range(0, len(rows), 256):
                        sel = rows[r0 : r0 + 256]
                        n_correct[sel], loss_sum[sel] = self._kernel_scores(int(layer), arr[sel])
                    continue
                if layer == last:
                    batches = [
                        rows[i : i + OUTPUT_BATCH] for i in range(0, len(rows), OUTPUT_BATCH)
                    ]
                else:
                    batches = [rows[i : i + 1] for i in range(len(rows))]
                for sel in batches:
                    sw = arr[sel]
                    nc = torch.zeros(len(sel), dtype=torch.int64, device=self.device)
                    ls = torch.zeros(len(sel), dtype=torch.float64, device=self.device)
                    n_chunk = self._sample_chunk(int(layer))
                    for n0 in range(0, self.n, n_chunk):
                        n1 = min(self.n, n0 + n_chunk)
                        if layer == last:
                            c, loss = self._output_layer_scores(sw, n0, n1)
                            nc += c
                            ls += loss
                            if logits_out is not None:
                                logits = self._output_layer_logits(sw, n0, n1)  # (Kc, C, n)
                        else:
                            logits = self._single_swap_logits(sw[0], n0, n1).unsqueeze(
                                0
                            )  # (1, C, n)
                            c, loss = self._row_scores(logits[0], n0, n1)
                            nc += c
                            ls += loss
                        if logits_out is not None:
                            logits_out[torch.as_tensor(sel, device=self.device), n0:n1] = (
                                logits.transpose(1, 2)
                            )
                    n_correct[sel] = nc.cpu().numpy()
                    loss_sum[sel] = ls.cpu().numpy()
        return SwapScores(n_correct / self.n, loss_sum / self.n, n_correct, logits_out)

    def _kernel_applies(self, layer: int) -> bool:
        """Whether the fused kernel scores swaps of this layer (the output layer, on the CPU)."""
        return self.use_kernels and layer == len(self._layers) - 1

    def _row_scores(self, logits: torch.Tensor, n0: int, n1: int) -> tuple[int, float]:
        """(number correct, loss sum) of class-major logits (C, n) for samples n0:n1."""
        y = self.labels[n0:n1]
        if self.use_kernels:
            from aann_env.evaluation import kernels

            count, total = kernels.logit_scores(
                logits.contiguous().numpy(), y.numpy(), EXP_UNITS, LOG_TABLE
            )
            return int(count), float(total)
        return int(correct(logits, y, class_dim=-2).sum()), float(
            per_sample_loss(logits, y, class_dim=-2).sum()
        )

    def _kernel_scores(self, layer: int, swaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n_correct, loss_sum) of K swaps from the fused kernels."""
        from aann_env.evaluation import kernels

        self._ensure_tables()
        k = len(swaps)
        loss_out = np.zeros(k)
        correct_out = np.zeros(k, dtype=np.int64)
        tables = (EXP_UNITS, LOG_TABLE)
        spec = self._layers[layer]
        v = self._w[layer].view(-1).numpy()[swaps[:, 1]].astype(np.float64)
        (o1, i1), (o2, i2) = (np.unravel_index(swaps[:, j], spec.weight_shape) for j in (1, 2))
        kernels.output_layer_swaps(
            o1,
            i1,
            o2,
            i2,
            v,
            self._z[-1].numpy(),
            self._inp[layer].numpy(),
            self._scales[-1],
            self._key_scale,
            self._top_keys.numpy(),
            self._top_cls.numpy(),
            self._term_units.numpy(),
            self._term_units_sum.numpy(),
            self._shift.numpy(),
            self._target.numpy(),
            self.labels.numpy(),
            *tables,
            loss_out,
            correct_out,
        )
        return correct_out, loss_out

    def _sample_chunk(self, layer: int) -> int:
        """Samples per chunk: the largest temporary near CHUNK_BYTES, all within the budget."""
        pre = [math.prod(s) for s in self._net.arch.preactivation_shapes()]
        if layer == len(self._layers) - 1:
            largest = 8 * pre[-1] * OUTPUT_BATCH  # (K, C, n) float64
        else:
            largest = 4 * max(pre[layer] // self._layers[layer].out_features, *pre[layer + 1 :])
        return int(
            max(1, min(self.n, CHUNK_BYTES // largest, self.memory_budget // (16 * largest)))
        )

    def _decode(self, layer: int, flat: int) -> tuple[int, ...]:
        """A flat weight index -> (unit, channel, kh, kw) for conv, (unit, feature) for linear."""
        return tuple(int(i) for i in np.unravel_index(flat, self._layers[layer].weight_shape))

    def _tap(self, layer: int, idx: tuple[int, ...], n0: int, n1: int) -> torch.Tensor:
        """The input the weight at ``idx`` multiplies: (n, H, W) for conv, (n,) for linear."""
        spec, inp = self._layers[layer], self._inp[layer]
        if spec.kind == "linear":
            return inp[idx[1], n0:n1]
        _, c, kh, kw = idx
        h, w = self._z[layer].shape[2:]
        s = spec.stride
        return inp[c, n0:n1, kh : kh + s * (h - 1) + 1 : s, kw : kw + s * (w - 1) + 1 : s]

    def _unit_update(
        self, swap: Sequence[int], n0: int, n1: int
    ) -> tuple[list[int], list[torch.Tensor]]:
        """The distinct units one swap touches and their new pre-activations on samples n0:n1."""
        layer, src, dst = (int(v) for v in swap)
        si, di = self._decode(layer, src), self._decode(layer, dst)
        v = float(self._w[layer].view(-1)[src])
        z = self._z[layer]
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
        nxt, w = self._layers[layer + 1], self._w[layer + 1]
        base = self._z[layer + 1][:, n0:n1]
        if nxt.kind == "conv":
            d = torch.stack(deltas)  # (u, n, H', W')
            d = F.pad(d, (nxt.padding,) * 4)
            return base + self._op(layer + 1, d, w[:, units])
        per_unit = nxt.in_features // self._layers[layer].out_features
        out = base
        for unit, d in zip(units, deltas, strict=True):
            wu = w[:, unit * per_unit : (unit + 1) * per_unit]  # (out, F_u)
            out = out + wu @ d.reshape(d.shape[0], -1).T if d.dim() > 1 else out + wu * d
        return out

    def _dense_from(self, layer: int, z: torch.Tensor) -> torch.Tensor:
        """Class-major logits (C, n) from the new unit-major pre-activation of ``layer``."""
        for m in range(layer, len(self._layers) - 1):
            a = _act(self._layers[m], self._scales[m], z)
            nxt = self._layers[m + 1]
            if nxt.kind == "conv":
                a = F.pad(a, (nxt.padding,) * 4)
            z = self._op(m + 1, a)
        return z * self._scales[-1]

    def _single_swap_logits(self, swap: Sequence[int], n0: int, n1: int) -> torch.Tensor:
        """Class-major logits (C, n) of one swap in a hidden layer."""
        layer = int(swap[0])
        spec = self._layers[layer]
        units, new_z = self._unit_update(swap, n0, n1)
        old = self._output(layer, n0, n1)
        deltas = [
            _act(spec, self._scales[layer], z) - old[u] for u, z in zip(units, new_z, strict=True)
        ]
        return self._dense_from(layer + 1, self._next_preactivation(layer, units, deltas, n0, n1))

    def _output_layer_columns(
        self, swaps: np.ndarray, n0: int, n1: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """For K output-layer swaps: the two changed classes (K,) each and their new pre-activations
        (K, n); ``same`` (K, 1) marks swaps whose two weights feed one class (then both agree)."""
        layer = len(self._layers) - 1
        shape = self._layers[layer].weight_shape
        dev = self.device
        (o1, i1), (o2, i2) = (np.unravel_index(swaps[:, j], shape) for j in (1, 2))
        o1, i1, o2, i2 = (torch.as_tensor(np.asarray(a), device=dev) for a in (o1, i1, o2, i2))
        v = self._w[layer].view(-1)[torch.as_tensor(swaps[:, 1], device=dev)].unsqueeze(1)  # (K, 1)
        z, inp = self._z[layer][:, n0:n1], self._inp[layer][:, n0:n1]
        t_src, t_dst = inp.index_select(0, i1), inp.index_select(0, i2)  # (K, n)
        same = (o1 == o2).unsqueeze(1)
        new1 = z.index_select(0, o1) - v * t_src + torch.where(same, v * t_dst, 0.0)
        new2 = z.index_select(0, o2) + v * t_dst - torch.where(same, v * t_src, 0.0)
        return o1, o2, new1, new2, same

    def _output_layer_scores(
        self, swaps: np.ndarray, n0: int, n1: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Correct counts and loss sums (K,) of K output-layer swaps on samples n0:n1.

        Only two logits of each sample change. The prediction is the largest of three keys: the
        two new classes' and the best unchanged class's (a table lookup). The loss updates the
        exact term sum with the two changed terms; samples whose shift moves (rare) are
        recomputed in full with :func:`per_sample_loss`.
        """
        self._ensure_tables()
        o1, o2, new1, new2, same = self._output_layer_columns(swaps, n0, n1)
        n_classes = self._z[-1].shape[0]
        scale = self._scales[-1]
        o1c, o2c = o1.unsqueeze(1), o2.unsqueeze(1)
        ks = self._key_scale * n_classes
        top_k, top_c = self._top_keys[:, n0:n1], self._top_cls[:, n0:n1]
        out0 = (top_c[0] == o1c) | (top_c[0] == o2c)
        out1 = (top_c[1] == o1c) | (top_c[1] == o2c)
        best = torch.where(out0, torch.where(out1, top_k[2], top_k[1]), top_k[0])  # (K, n)
        best = torch.maximum(best, new1.to(torch.float64) * ks + (n_classes - 1 - o1c))
        best = torch.maximum(best, new2.to(torch.float64) * ks + (n_classes - 1 - o2c))
        y = self.labels[n0:n1]
        n_correct = (torch.remainder(best, n_classes) == self._label_rem[n0:n1]).sum(dim=1)

        v1, v2 = new1.to(torch.float64) * scale, new2.to(torch.float64) * scale
        vmax = torch.floor(best / n_classes) * (scale / self._key_scale)  # the largest logit
        shift = loss_shift(vmax)
        units = self._term_units[:, n0:n1]
        s = self._term_units_sum[n0:n1] - units.index_select(0, o1) + loss_term_units(v1 - shift)
        s += torch.where(same, 0.0, loss_term_units(v2 - shift) - units.index_select(0, o2))
        target = torch.where(y == o1c, v1, torch.where(y == o2c, v2, self._target[n0:n1]))
        loss = loss_from_units(s, shift - target)
        moved = shift != self._shift[n0:n1]
        if bool(moved.any()):
            k_idx, n_idx = torch.nonzero(moved, as_tuple=True)
            rows = (self._z[-1][:, n0:n1][:, n_idx] * scale).T.clone()  # (M, C)
            ar = torch.arange(len(k_idx), device=self.device)
            rows[ar, o1[k_idx]] = new1[k_idx, n_idx] * scale
            rows[ar, o2[k_idx]] = new2[k_idx, n_idx] * scale
            loss[k_idx, n_idx] = per_sample_loss(rows, y[n_idx])
        return n_correct, loss.sum(dim=1)

    def _output_layer_logits(self, swaps: np.ndarray, n0: int, n1: int) -> torch.Tensor:
        """Class-major logits (K, C, n) of K swaps in the output layer (for inspection)."""
        o1, o2, new1, new2, _ = self._output_layer_columns(swaps, n0, n1)
        k = len(swaps)
        out = self._z[-1][:, n0:n1].unsqueeze(0).repeat(k, 1, 1)  # (K, C, n)
        ar = torch.arange(k, device=self.device)
        out[ar, o1] = new1
        out[ar, o2] = new2  # equal to new1 where the classes coincide
        return out * self._scales[-1]

    # ----------------------------------------------------------------------------- commit
    def commit(self, swap: Sequence[int] | np.ndarray) -> tuple[float, float]:
        """Apply a legal swap to the network and update every cache incrementally.

        Returns:
            The new (accuracy, loss).

        Raises:
            SwapError: The swap is not legal (nothing changes).
        """
        layer, src, dst = self._net.check_swap(np.asarray(swap).reshape(-1))
        spec = self._layers[layer]
        last = layer == len(self._layers) - 1
        n_chunk = self._sample_chunk(layer)
        with torch.inference_mode(), exact_math(self.device):
            for n0 in range(0, self.n, n_chunk):
                n1 = min(self.n, n0 + n_chunk)
                units, new_z = self._unit_update((layer, src, dst), n0, n1)
                if not last:
                    old = self._output(layer, n0, n1)
                    new_a = [_act(spec, self._scales[layer], z) for z in new_z]
                    deltas = [a - old[u] for u, a in zip(units, new_a, strict=True)]
                    self._z[layer + 1][:, n0:n1] = self._next_preactivation(
                        layer, units, deltas, n0, n1
                    )
                    for u, a in zip(units, new_a, strict=True):
                        old[u] = a  # writes through to the next layer's cached input
                for u, z in zip(units, new_z, strict=True):
                    self._z[layer][u, n0:n1] = z
            self._net._move(layer, src, dst)
            flat_w = self._w[layer].view(-1)
            flat_w[dst] = flat_w[src].item()
            flat_w[src] = 0.0
            if not last:
                for n0 in range(0, self.n, 1000):
                    n1 = min(self.n, n0 + 1000)
                    self._activate_from(layer + 1, n0, n1)
        self._refresh_scores()
        return self.accuracy, self.loss

    def _activate_from(self, layer: int, n0: int, n1: int) -> None:
        """From an updated ``_z[layer]``: recompute its output and every later layer."""
        if layer < len(self._layers) - 1:
            a = _act(self._layers[layer], self._scales[layer], self._z[layer][:, n0:n1])
            self._set_input(layer + 1, a, n0, n1)
            self._forward_from(layer + 1, n0, n1)
