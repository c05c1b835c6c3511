"""Fused CPU kernels (numba) for the incremental evaluator's hottest paths.

Each kernel computes, for every (swap, sample) pair, the swapped network's prediction and loss
exactly as :mod:`aann_env.core.forward` defines them: the logits are exact dyadic values (float64
holds them exactly, so loop order does not matter) and the loss reads the same exp and log
tables with the same sequence of IEEE operations, so these kernels and the torch code give the
same bits. Per-candidate sums of per-sample losses are exact too (they lie on a fixed grid).

Kernels run in parallel over candidates or samples with numba's threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from aann_env.core.loss import EXP_LOW, EXP_STEP, LN2, LOG_BITS, LOSS_GRID, SHIFT_STEP

_EXP_OFFSET = -EXP_LOW * EXP_STEP
_LOG_SCALE = 2.0**LOG_BITS


@njit(inline="always", cache=True)
def _loss(s: float, m_minus_target: float, log_table: np.ndarray) -> float:
    """The per-sample loss from the exact term sum (units) and ``m - logit_y``."""
    mantissa, exponent = math.frexp(s)
    log_s = (
        log_table[int(math.floor((mantissa - 0.5) * _LOG_SCALE))] + (float(exponent) - 24.0) * LN2
    )
    return np.round((log_s + m_minus_target) * LOSS_GRID) / LOSS_GRID


@njit(inline="always", cache=True)
def _term(shifted: float, exp_units: np.ndarray) -> float:
    j = math.floor(shifted * EXP_STEP) + _EXP_OFFSET
    return exp_units[min(max(int(j), 0), exp_units.shape[0] - 1)]


@njit(inline="always", cache=True)
def _row_scores(
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
    top_keys: np.ndarray,
    top_cls: np.ndarray,
    terms: np.ndarray,
    term_sum: np.ndarray,
    shift: np.ndarray,
    target: np.ndarray,
    labels: np.ndarray,
    exp_units: np.ndarray,
    log_table: np.ndarray,
    loss_out: np.ndarray,
    correct_out: np.ndarray,
) -> None:
    """Score K output-layer swaps: weight (o1, i1) of sign v moves to (o2, i2).

    Only logits o1 and o2 of each sample change. The prediction is the largest of three keys
    (``z * key_scale * C + C - 1 - class``, exact integers ordered like the logits with ties to
    the lower class): the two new ones and the best key of the other classes, the first of the
    sample's three largest keys whose class is neither o1 nor o2. The loss updates the exact term sum with the two changed terms; a sample whose
    shift moves is recomputed from its whole row.

    Args:
        z: (C, N) float32 output pre-activations. inp: (F, N) float32 output-layer inputs.
        top_keys, top_cls: (3, N) the three largest keys of each sample and their classes.
        terms: (C, N) float64 term units; term_sum, shift,
            target (N,) float64: the current network's per-sample tables.
        loss_out: (K,) float64 output, sums of per-sample losses. correct_out: (K,) int64 output.
    """
    n_classes, n = z.shape
    ks = key_scale * n_classes
    for k in prange(o1.shape[0]):
        a, b, vk = o1[k], o2[k], v[k]
        count = 0
        total = 0.0
        row = np.empty(n_classes)
        for i in range(n):
            za = np.float64(z[a, i]) - vk * inp[i1[k], i]
            if a == b:
                za += vk * inp[i2[k], i]
                zb = za
            else:
                zb = np.float64(z[b, i]) + vk * inp[i2[k], i]
            r = 0  # the best class other than a and b is among the three largest
            while top_cls[r, i] == a or top_cls[r, i] == b:
                r += 1
            best = max(top_keys[r, i], za * ks + (n_classes - 1 - a), zb * ks + (n_classes - 1 - b))
            key = np.int64(best)
            y = labels[i]
            if key % n_classes == n_classes - 1 - y:
                count += 1
            vmax = float(key // n_classes) * (scale / key_scale)
            m = math.floor(vmax / SHIFT_STEP) * SHIFT_STEP
            if m == shift[i]:
                s = term_sum[i] - terms[a, i] + _term(za * scale - m, exp_units)
                if a != b:
                    s += _term(zb * scale - m, exp_units) - terms[b, i]
                if y == a:
                    t = za * scale
                elif y == b:
                    t = zb * scale
                else:
                    t = target[i]
                total += _loss(s, m - t, log_table)
            else:  # rare: recompute the whole row
                for c in range(n_classes):
                    row[c] = z[c, i]
                row[a] = za
                row[b] = zb
                total += _row_scores(row, scale, y, exp_units, log_table)[1]
        correct_out[k] = count
        loss_out[k] = total


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
        ok, loss = _row_scores(row, 1.0, labels[i], exp_units, log_table)
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
    top_keys: np.ndarray,
    top_cls: np.ndarray,
    shift: np.ndarray,
    terms: np.ndarray,
    term_sum: np.ndarray,
    target: np.ndarray,
    correct_out: np.ndarray,
    loss_out: np.ndarray,
) -> None:
    """One pass over the samples of the current output pre-activations z (C, N) float32.

    Fills the per-sample tables :func:`output_layer_swaps` reads (the three largest keys and
    their classes, the loss shift, the term units and their sum, the target logit) and each
    sample's correctness and loss.
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
        top_keys[0, i], top_keys[1, i], top_keys[2, i] = k0, k1, k2
        top_cls[0, i], top_cls[1, i], top_cls[2, i] = c0, c1, c2
        m = math.floor(np.float64(z[c0, i]) * scale / SHIFT_STEP) * SHIFT_STEP
        s = 0.0
        for c in range(n_classes):
            t = _term(np.float64(z[c, i]) * scale - m, exp_units)
            terms[c, i] = t
            s += t
        y = labels[i]
        shift[i] = m
        term_sum[i] = s
        target[i] = np.float64(z[y, i]) * scale
        correct_out[i] = c0 == y
        loss_out[i] = _loss(s, m - target[i], log_table)
