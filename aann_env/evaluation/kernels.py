"""Fused CPU kernels (numba) for the incremental evaluator's hottest paths.

Each kernel computes, for every (swap, sample) pair, the swapped network's prediction and loss
exactly as :mod:`aann_env.core.forward` defines them: the logits are exact dyadic values (float64
holds them exactly, so loop order does not matter) and the loss reads the same exp and log
tables with the same sequence of IEEE operations, so these kernels and the torch code give the
same bits. Per-candidate sums of per-sample losses are exact too (they lie on a fixed grid).

Kernels run in parallel over candidates or samples with numba's threads. :func:`row_scores`
is also the last step of the sparse conv kernels (:mod:`aann_env.evaluation.sparse_kernels`).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from aann_env.core.loss import EXP_LOW, EXP_STEP, LN2, LOG_BITS, LOSS_GRID, SHIFT_STEP

_EXP_OFFSET = -EXP_LOW * EXP_STEP
TILE = 512
"""Samples per tile of the output-layer kernel: its tables stay in a core's L2 cache."""


@intrinsic
def _float_bits(typingctx, x):  # type: ignore[no-untyped-def]
    """The IEEE bits of a float64 as an int64 (a register move; math.frexp is a libm call)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@njit(inline="always", cache=True)
def _loss(s: float, m_minus_target: float, log_table: np.ndarray) -> float:
    """The per-sample loss from the exact term sum (units, a normal positive float) and
    ``m - logit_y``.

    ``frexp(s) = (f, e)`` read from the bits: ``e`` is the biased exponent less 1022 and
    ``floor((f - 0.5) * 2**LOG_BITS)`` the top LOG_BITS - 1 bits of the stored fraction.
    """
    bits = _float_bits(s)
    exponent = (bits >> 52) - 1022
    j = (bits >> (53 - LOG_BITS)) & ((1 << (LOG_BITS - 1)) - 1)
    log_s = log_table[j] + (float(exponent) - 24.0) * LN2
    return np.round((log_s + m_minus_target) * LOSS_GRID) / LOSS_GRID


@njit(inline="always", cache=True)
def _loss_units(s: float, m_minus_target: float, log_table: np.ndarray) -> int:
    """:func:`_loss` in integer units of ``1 / LOSS_GRID`` (integer sums vectorise)."""
    return np.int64(_loss(s, m_minus_target, log_table) * LOSS_GRID)


@njit(inline="always", cache=True)
def _term(shifted: float, exp_units: np.ndarray) -> float:
    j = math.floor(shifted * EXP_STEP) + _EXP_OFFSET
    return exp_units[min(max(int(j), 0), exp_units.shape[0] - 1)]


@njit(inline="always", cache=True)
def row_scores(
    row: np.ndarray, scale: float, y: int, exp_units: np.ndarray, log_table: np.ndarray
) -> tuple[bool, float]:
    """(correct, loss) of one sample from its pre-activation row (float64, unscaled)."""
    n_classes = row.shape[0]
    best = 0
    best_v = row[0]
    for c in range(1, n_classes):
        if row[c] > best_v:  # strict: the first largest class wins
            best_v = row[c]
            best = c
    m = math.floor(best_v * scale / SHIFT_STEP) * SHIFT_STEP
    s = 0.0
    for c in range(n_classes):
        s += _term(row[c] * scale - m, exp_units)
    return best == y, _loss(s, m - row[y] * scale, log_table)


@njit(inline="always", cache=True)
def _output_swap_tile(
    a: int,
    ia: int,
    b: int,
    ib: int,
    vk: float,
    i0: int,
    i1: int,
    z: np.ndarray,
    inp: np.ndarray,
    scale: float,
    ks: float,
    tables: np.ndarray,
    top_cls: np.ndarray,
    terms: np.ndarray,
    labels: np.ndarray,
    exp_units: np.ndarray,
    log_table: np.ndarray,
    moved: np.ndarray,
) -> tuple[int, int]:
    """(number correct, loss sum in LOSS_GRID units) of one output-layer swap on samples
    i0:i1, without the samples whose loss shift moves: those are flagged in ``moved``.

    Branch-free over samples so that the compiler can vectorise it: the prediction is the
    largest of three keys (selects), and a moved sample's value is dropped, not branched around.
    """
    n_classes = z.shape[0]
    ra, rb = n_classes - 1 - a, n_classes - 1 - b
    same = a == b
    count = 0
    units = 0
    for i in range(i0, i1):
        za = np.float64(z[a, i]) - vk * inp[ia, i]
        if same:
            za += vk * inp[ib, i]
            zb = za
        else:
            zb = np.float64(z[b, i]) + vk * inp[ib, i]
        c0, c1 = top_cls[0, i], top_cls[1, i]
        r = 0 if c0 != a and c0 != b else (1 if c1 != a and c1 != b else 2)
        win, best = top_cls[r, i], tables[r, i]  # the best class other than a and b
        ka, kb = za * ks + ra, zb * ks + rb
        win, best = (a, ka) if ka > best else (win, best)
        win = b if kb > best else win
        y = labels[i]
        count += win == y
        la, lb = za * scale, zb * scale
        vmax = max(tables[3 + r, i], max(la, lb))
        m = math.floor(vmax / SHIFT_STEP) * SHIFT_STEP
        s = tables[6, i] - terms[a, i] + _term(la - m, exp_units)
        if not same:
            s += _term(lb - m, exp_units) - terms[b, i]
        t = la if y == a else (lb if y == b else tables[8, i])
        u = _loss_units(s, m - t, log_table)
        mv = m != tables[7, i]
        moved[i - i0] = mv
        units += 0 if mv else u
    return count, units


@njit(parallel=True, cache=True)
def output_layer_swaps(
    o1: np.ndarray,
    i1: np.ndarray,
    o2: np.ndarray,
    i2: np.ndarray,
    v: np.ndarray,
    z: np.ndarray,
    inp: np.ndarray,
    scale: float,
    key_scale: float,
    tables: np.ndarray,
    top_cls: np.ndarray,
    terms: np.ndarray,
    labels: np.ndarray,
    exp_units: np.ndarray,
    log_table: np.ndarray,
    loss_out: np.ndarray,
    correct_out: np.ndarray,
    n_groups: int,
) -> None:
    """Score K output-layer swaps: weight (o1, i1) of sign v moves to (o2, i2).

    Only logits o1 and o2 of each sample change. The prediction is the largest of three keys
    (``z * key_scale * C + C - 1 - class``, exact integers ordered like the logits with ties to
    the lower class): the two new ones and the best key of the other classes, the first of the
    sample's three largest keys whose class is neither o1 nor o2. The loss updates the exact
    term sum with the two changed terms; a sample whose shift moves is recomputed from its
    whole row.

    The work is tiled: each thread takes a share of the swaps and runs all of them over one
    tile of TILE samples before the next, so the tile's tables stay in its L2 cache.

    Args:
        z: (C, N) float32 output pre-activations. inp: (F, N) float32 output-layer inputs.
        tables: (9, N) float64 per-sample tables of the current network (see
            :func:`output_tables`). top_cls: (3, N) int64. terms: (C, N) float64 term units.
        loss_out: (K,) float64 output, sums of per-sample losses. correct_out: (K,) int64 output.
        n_groups: Work items (a few per thread, for balance), each a share of the swaps.
    """
    n_classes, n = z.shape
    k_all = o1.shape[0]
    ks = key_scale * n_classes
    n_groups = max(1, min(k_all, n_groups))
    units_out = np.zeros(k_all, dtype=np.int64)
    correct_out[:] = 0
    for g in prange(n_groups):
        moved = np.empty(TILE, dtype=np.bool_)
        row = np.empty(n_classes)
        for t0 in range(0, n, TILE):
            t1 = min(n, t0 + TILE)
            for k in range(g, k_all, n_groups):
                a, b, vk = o1[k], o2[k], v[k]
                c, u = _output_swap_tile(
                    a, i1[k], b, i2[k], vk, t0, t1, z, inp, scale, ks, tables, top_cls,
                    terms, labels, exp_units, log_table, moved,
                )  # fmt: skip
                for j in range(t1 - t0):
                    if moved[j]:  # rare: this sample's loss from its whole new row
                        i = t0 + j
                        for cl in range(n_classes):
                            row[cl] = z[cl, i]
                        za = np.float64(z[a, i]) - vk * inp[i1[k], i]
                        zb = np.float64(z[b, i]) + vk * inp[i2[k], i]
                        if a == b:
                            za = zb = za + vk * inp[i2[k], i]
                        row[a], row[b] = za, zb
                        loss = row_scores(row, scale, labels[i], exp_units, log_table)[1]
                        u += np.int64(loss * LOSS_GRID)
                correct_out[k] += c
                units_out[k] += u
    for k in range(k_all):
        loss_out[k] = units_out[k] / LOSS_GRID


@njit(parallel=True, cache=True)
def logit_scores(
    logits: np.ndarray, labels: np.ndarray, exp_units: np.ndarray, log_table: np.ndarray
) -> tuple[int, float]:
    """(number correct, sum of per-sample losses) of class-major float32 logits (C, N)."""
    n_classes, n = logits.shape
    count = 0
    total = 0.0
    for i in prange(n):
        row = np.empty(n_classes)
        for c in range(n_classes):
            row[c] = logits[c, i]
        ok, loss = row_scores(row, 1.0, labels[i], exp_units, log_table)
        count += ok
        total += loss
    return count, total


@njit(parallel=True, cache=True)
def output_tables(
    z: np.ndarray,
    scale: float,
    key_scale: float,
    labels: np.ndarray,
    exp_units: np.ndarray,
    log_table: np.ndarray,
    tables: np.ndarray,
    top_cls: np.ndarray,
    terms: np.ndarray,
    correct_out: np.ndarray,
    loss_out: np.ndarray,
) -> None:
    """One pass over the samples of the current output pre-activations z (C, N) float32.

    Fills the per-sample tables :func:`output_layer_swaps` reads and each sample's correctness
    and loss. ``tables`` (9, N) float64 holds, by row: the three largest keys (0-2), their
    logits (3-5), the term units' sum (6), the loss shift (7) and the target logit (8);
    ``top_cls`` (3, N) the three keys' classes and ``terms`` (C, N) each class's term units.
    """
    n_classes, n = z.shape
    ks = key_scale * n_classes
    for i in prange(n):
        k0 = k1 = k2 = -np.inf
        c0 = c1 = c2 = -1
        for c in range(n_classes):
            key = np.float64(z[c, i]) * ks + (n_classes - 1 - c)
            if key > k0:
                k2, c2, k1, c1, k0, c0 = k1, c1, k0, c0, key, c
            elif key > k1:
                k2, c2, k1, c1 = k1, c1, key, c
            elif key > k2:
                k2, c2 = key, c
        tables[0, i], tables[1, i], tables[2, i] = k0, k1, k2
        top_cls[0, i], top_cls[1, i], top_cls[2, i] = c0, c1, c2
        for r in range(3):
            cr = top_cls[r, i]
            tables[3 + r, i] = np.float64(z[cr, i]) * scale if cr >= 0 else -np.inf
        m = math.floor(np.float64(z[c0, i]) * scale / SHIFT_STEP) * SHIFT_STEP
        s = 0.0
        for c in range(n_classes):
            t = _term(np.float64(z[c, i]) * scale - m, exp_units)
            terms[c, i] = t
            s += t
        y = labels[i]
        tables[6, i] = s
        tables[7, i] = m
        tables[8, i] = np.float64(z[y, i]) * scale
        correct_out[i] = c0 == y
        loss_out[i] = _loss(s, m - tables[8, i], log_table)
