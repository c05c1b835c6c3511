"""Scoring from the output layer's logits: two interchangeable paths, torch and numba.

A swap in the output layer changes two logits of each sample and nothing else, so it is scored
from per-sample tables of the current network (:class:`OutputTables`) instead of from all C
logits: the prediction is the largest of three keys (the two changed classes' and the best
unchanged class's, a table lookup), and the loss updates the exact term sum with the two changed
terms; a sample whose loss shift moves (rare) is recomputed from its whole row.

:class:`OutputLayerScorer` is the interface; it also scores whole class-major logits, which is
how swaps in hidden layers end. :class:`TorchOutputScorer` runs on any device, many swaps at a
time as tensor operations; :class:`KernelOutputScorer` runs the fused CPU kernels of
:mod:`aann_env.evaluation.kernels`. Both compute the bits of :mod:`aann_env.core.forward`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch

from aann_env.core.loss import (
    EXP_UNITS,
    LOG_TABLE,
    correct,
    loss_from_units,
    loss_shift,
    loss_term_units,
    per_sample_loss,
)
from aann_env.evaluation.caches import Caches, sample_chunk

OUTPUT_BATCH = 128
"""Output-layer swaps scored together by the torch path."""


@dataclass
class OutputTables:
    """Per-sample tables of the current network for scoring output-layer swaps.

    ``key = z * key_scale * C + (C - 1 - c)`` is an exact integer (in float64) for each class c
    whose order is that of the logits with ties going to the lower class, so the predicted class
    is the one with the largest key, and the best of the classes other than {a, b} is the first
    of the sample's three largest keys whose class is neither a nor b.

    Attributes:
        top_keys: (3, N) float64, each sample's three largest keys, largest first.
        top_cls: (3, N) int64, their classes.
        shift: (N,) float64, the loss shift (:func:`~aann_env.core.forward.loss_shift`).
        term_units: (C, N) float64, each class's loss term in integer units.
        term_units_sum: (N,) float64, their exact sum.
        target: (N,) float64, the logit of the sample's label.
    """

    top_keys: torch.Tensor
    top_cls: torch.Tensor
    shift: torch.Tensor
    term_units: torch.Tensor
    term_units_sum: torch.Tensor
    target: torch.Tensor

    @classmethod
    def empty(cls, n_classes: int, n: int) -> OutputTables:
        """Uninitialised CPU tables for N samples, for a kernel to fill."""
        f64 = torch.float64
        return cls(
            top_keys=torch.empty((3, n), dtype=f64),
            top_cls=torch.empty((3, n), dtype=torch.int64),
            shift=torch.empty(n, dtype=f64),
            term_units=torch.empty((n_classes, n), dtype=f64),
            term_units_sum=torch.empty(n, dtype=f64),
            target=torch.empty(n, dtype=f64),
        )


def output_columns(
    caches: Caches, swaps: np.ndarray, n0: int, n1: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The two classes (K,) each of K output-layer swaps changes and their new pre-activations
    (K, n) on samples n0:n1; ``same`` (K, 1) marks swaps whose two weights feed one class (then
    both new pre-activations agree)."""
    dev = caches.preacts[-1].device
    (o1, i1), (o2, i2) = (
        np.unravel_index(swaps[:, j], caches.layers[-1].weight_shape) for j in (1, 2)
    )
    o1, i1, o2, i2 = (torch.as_tensor(np.asarray(a), device=dev) for a in (o1, i1, o2, i2))
    v = caches.weights[-1].view(-1)[torch.as_tensor(swaps[:, 1], device=dev)].unsqueeze(1)  # (K, 1)
    z, inp = caches.preacts[-1][:, n0:n1], caches.inputs[-1][:, n0:n1]
    t_src, t_dst = inp.index_select(0, i1), inp.index_select(0, i2)  # (K, n)
    same = (o1 == o2).unsqueeze(1)
    new1 = z.index_select(0, o1) - v * t_src + torch.where(same, v * t_dst, 0.0)
    new2 = z.index_select(0, o2) + v * t_dst - torch.where(same, v * t_src, 0.0)
    return o1, o2, new1, new2, same


def output_layer_logits(caches: Caches, swaps: np.ndarray, n0: int, n1: int) -> torch.Tensor:
    """Class-major logits (K, C, n) of K output-layer swaps on samples n0:n1 (for inspection)."""
    o1, o2, new1, new2, _ = output_columns(caches, swaps, n0, n1)
    k = len(swaps)
    out = caches.preacts[-1][:, n0:n1].unsqueeze(0).repeat(k, 1, 1)  # (K, C, n)
    ar = torch.arange(k, device=out.device)
    out[ar, o1] = new1
    out[ar, o2] = new2  # equal to new1 where the classes coincide
    return out * caches.scales[-1]


class OutputLayerScorer(ABC):
    """Scores logits and output-layer swaps of one evaluator's caches.

    Call :meth:`rebuild` whenever the caches change (a new network, a committed swap); the
    other methods read the tables it leaves.

    Args:
        labels: (N,) int64 labels, on the caches' device.
    """

    def __init__(self, labels: torch.Tensor) -> None:
        self.labels = labels

    @abstractmethod
    def rebuild(self, caches: Caches) -> tuple[int, float]:
        """Refresh the tables from the caches.

        Returns:
            (number correct, sum of per-sample losses) of the cached network.
        """

    @abstractmethod
    def tables(self, caches: Caches) -> OutputTables:
        """The tables of the caches last rebuilt (built now if they were left for later)."""

    @abstractmethod
    def score_swaps(self, caches: Caches, swaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Score K legal output-layer swaps (rows ``(layer, src, dst)``) on every sample.

        Returns:
            (K,) int64 numbers correct and (K,) float64 sums of per-sample losses.
        """

    @abstractmethod
    def row_scores(self, logits: torch.Tensor, n0: int, n1: int) -> tuple[int, float]:
        """(number correct, loss sum) of class-major float32 logits (C, n) of samples n0:n1."""


class TorchOutputScorer(OutputLayerScorer):
    """The torch path: runs on any device, OUTPUT_BATCH swaps at a time, chunked over samples.

    The tables are built when output-layer swaps are next scored, so commits followed by
    hidden-layer swaps only pay for the current network's scores.

    Args:
        labels: (N,) int64 labels, on the caches' device.
        n_classes: Number of classes C.
        memory_budget: Bytes of temporaries one chunk of work may use.
    """

    def __init__(self, labels: torch.Tensor, n_classes: int, memory_budget: int) -> None:
        super().__init__(labels)
        self._label_rem = (n_classes - 1 - labels).to(torch.float64)  # key remainder of y
        self._chunk = sample_chunk(len(labels), 8 * n_classes * OUTPUT_BATCH, memory_budget)
        self._tables: OutputTables | None = None

    def rebuild(self, caches: Caches) -> tuple[int, float]:
        with torch.inference_mode():
            logits = caches.preacts[-1] * caches.scales[-1]  # (C, N)
            scores = self.row_scores(logits, 0, len(self.labels))
        self._tables = None
        return scores

    def tables(self, caches: Caches) -> OutputTables:
        if self._tables is None:
            with torch.inference_mode():
                self._tables = self._build_tables(caches)
        return self._tables

    def _build_tables(self, caches: Caches) -> OutputTables:
        z = caches.preacts[-1]  # (C, N)
        lg = (z * caches.scales[-1]).to(torch.float64)
        n_classes = caches.n_classes
        classes = torch.arange(n_classes, device=z.device, dtype=torch.float64)
        keys = (
            z.to(torch.float64) * (caches.key_scale * n_classes)
            + (n_classes - 1 - classes)[:, None]
        )
        top = torch.topk(keys, min(3, n_classes), dim=0)  # keys are distinct: no ties
        shift = loss_shift(lg.max(dim=0).values)  # (N,)
        term_units = loss_term_units(lg - shift)  # (C, N) integers
        return OutputTables(
            top_keys=top.values.contiguous(),
            top_cls=top.indices.contiguous(),
            shift=shift,
            term_units=term_units,
            term_units_sum=term_units.sum(dim=0),  # exact
            target=lg.gather(0, self.labels.unsqueeze(0)).squeeze(0),
        )

    def score_swaps(self, caches: Caches, swaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tables = self.tables(caches)
        n, k, dev = len(self.labels), len(swaps), self.labels.device
        n_correct = np.zeros(k, dtype=np.int64)
        loss_sum = np.zeros(k, dtype=np.float64)
        for b0 in range(0, k, OUTPUT_BATCH):
            sw = swaps[b0 : b0 + OUTPUT_BATCH]
            nc = torch.zeros(len(sw), dtype=torch.int64, device=dev)
            ls = torch.zeros(len(sw), dtype=torch.float64, device=dev)
            for n0 in range(0, n, self._chunk):
                c, loss = self._chunk_scores(caches, tables, sw, n0, min(n, n0 + self._chunk))
                nc += c
                ls += loss
            n_correct[b0 : b0 + len(sw)] = nc.cpu().numpy()
            loss_sum[b0 : b0 + len(sw)] = ls.cpu().numpy()
        return n_correct, loss_sum

    def _chunk_scores(
        self, caches: Caches, tables: OutputTables, swaps: np.ndarray, n0: int, n1: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Correct counts and loss sums (K,) of K output-layer swaps on samples n0:n1."""
        o1, o2, new1, new2, same = output_columns(caches, swaps, n0, n1)
        n_classes, scale, key_scale = caches.n_classes, caches.scales[-1], caches.key_scale
        o1c, o2c = o1.unsqueeze(1), o2.unsqueeze(1)
        ks = key_scale * n_classes
        top_k, top_c = tables.top_keys[:, n0:n1], tables.top_cls[:, n0:n1]
        out0 = (top_c[0] == o1c) | (top_c[0] == o2c)
        out1 = (top_c[1] == o1c) | (top_c[1] == o2c)
        best = torch.where(out0, torch.where(out1, top_k[2], top_k[1]), top_k[0])  # (K, n)
        best = torch.maximum(best, new1.to(torch.float64) * ks + (n_classes - 1 - o1c))
        best = torch.maximum(best, new2.to(torch.float64) * ks + (n_classes - 1 - o2c))
        y = self.labels[n0:n1]
        n_correct = (torch.remainder(best, n_classes) == self._label_rem[n0:n1]).sum(dim=1)

        v1, v2 = new1.to(torch.float64) * scale, new2.to(torch.float64) * scale
        vmax = torch.floor(best / n_classes) * (scale / key_scale)  # the largest logit
        shift = loss_shift(vmax)
        units = tables.term_units[:, n0:n1]
        s = tables.term_units_sum[n0:n1] - units.index_select(0, o1) + loss_term_units(v1 - shift)
        s += torch.where(same, 0.0, loss_term_units(v2 - shift) - units.index_select(0, o2))
        target = torch.where(y == o1c, v1, torch.where(y == o2c, v2, tables.target[n0:n1]))
        loss = loss_from_units(s, shift - target)
        moved = shift != tables.shift[n0:n1]
        if bool(moved.any()):  # rare: recompute those samples from their whole rows
            k_idx, n_idx = torch.nonzero(moved, as_tuple=True)
            rows = (caches.preacts[-1][:, n0:n1][:, n_idx] * scale).T.clone()  # (M, C)
            ar = torch.arange(len(k_idx), device=rows.device)
            rows[ar, o1[k_idx]] = new1[k_idx, n_idx] * scale
            rows[ar, o2[k_idx]] = new2[k_idx, n_idx] * scale
            loss[k_idx, n_idx] = per_sample_loss(rows, y[n_idx])
        return n_correct, loss.sum(dim=1)

    def row_scores(self, logits: torch.Tensor, n0: int, n1: int) -> tuple[int, float]:
        y = self.labels[n0:n1]
        n_correct = correct(logits, y, class_dim=-2).sum()
        return int(n_correct), float(per_sample_loss(logits, y, class_dim=-2).sum())


class KernelOutputScorer(OutputLayerScorer):
    """The numba path (CPU only): one fused, tiled kernel pass over (swap, sample) pairs.

    The tables are allocated once and refilled by every :meth:`rebuild`, in the same kernel pass
    that scores the current network; the kernels read them packed (see
    :func:`~aann_env.evaluation.kernels.output_tables`), :meth:`tables` returns views of them.
    numba loads on the first use, not on import.

    Args:
        labels: (N,) int64 CPU labels.
        n_classes: Number of classes C.

    Attributes:
        sample_correct: (N,) bool, whether the cached network classifies each sample correctly.
        sample_loss: (N,) float64, its loss on each sample.
    """

    def __init__(self, labels: torch.Tensor, n_classes: int) -> None:
        if labels.device.type != "cpu":
            raise ValueError("the fused kernels run on the CPU only; use TorchOutputScorer")
        super().__init__(labels)
        n = len(labels)
        self._labels_np: np.ndarray = labels.numpy()
        self._packed = torch.empty((9, n), dtype=torch.float64)
        self._tables = OutputTables(
            top_keys=self._packed[0:3],
            top_cls=torch.empty((3, n), dtype=torch.int64),
            shift=self._packed[7],
            term_units=torch.empty((n_classes, n), dtype=torch.float64),
            term_units_sum=self._packed[6],
            target=self._packed[8],
        )
        self.sample_correct: np.ndarray = np.zeros(n, dtype=np.bool_)
        self.sample_loss: np.ndarray = np.zeros(n)

    def rebuild(self, caches: Caches) -> tuple[int, float]:
        from aann_env.evaluation import kernels

        t = self._tables
        kernels.output_tables(
            caches.preacts[-1].numpy(), caches.scales[-1], caches.key_scale, self._labels_np,
            EXP_UNITS, LOG_TABLE, self._packed.numpy(), t.top_cls.numpy(), t.term_units.numpy(),
            self.sample_correct, self.sample_loss,
        )  # fmt: skip
        return int(self.sample_correct.sum()), float(self.sample_loss.sum())

    def tables(self, caches: Caches) -> OutputTables:
        return self._tables

    def score_swaps(self, caches: Caches, swaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import numba

        from aann_env.evaluation import kernels

        k = len(swaps)
        n_correct = np.zeros(k, dtype=np.int64)
        loss_sum = np.zeros(k, dtype=np.float64)
        flat_w = caches.weights[-1].view(-1).numpy()
        v = flat_w[swaps[:, 1]].astype(np.float64)
        (o1, i1), (o2, i2) = (
            np.unravel_index(swaps[:, j], caches.layers[-1].weight_shape) for j in (1, 2)
        )
        kernels.output_layer_swaps(
            o1, i1, o2, i2, v, caches.preacts[-1].numpy(), caches.inputs[-1].numpy(),
            caches.scales[-1], caches.key_scale, self._packed.numpy(),
            self._tables.top_cls.numpy(), self._tables.term_units.numpy(), self._labels_np,
            EXP_UNITS, LOG_TABLE, loss_sum, n_correct, 4 * numba.get_num_threads(),
        )  # fmt: skip
        return n_correct, loss_sum

    def row_scores(self, logits: torch.Tensor, n0: int, n1: int) -> tuple[int, float]:
        from aann_env.evaluation import kernels

        count, total = kernels.logit_scores(
            logits.contiguous().numpy(), self._labels_np[n0:n1], EXP_UNITS, LOG_TABLE
        )
        return int(count), float(total)
