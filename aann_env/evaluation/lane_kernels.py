"""A CPU kernel (numba) for swaps in the pooled conv layer just before the output layer, with
samples in SIMD lanes.

In the MNIST net a conv ``2.0`` swap changes 2 x 49 pooled outputs per sample at most, and each
changed output moves the 10 logits by ``w_fc[:, feature] * delta``. That is little work per
sample, too little to vectorise within one sample (a row of 7 cells), so this kernel puts LANES
samples side by side: it copies the planes the batch's swaps read (the changed channels'
pre-activations and pooled outputs, the taps' input channels) into lane-last scratch, once per
group of samples for all the swaps, and then every cell of a swap is a handful of vector
operations over the lanes. The logits' deltas are accumulated over the lanes the same way, and
each sample whose logits moved is scored with :func:`aann_env.evaluation.kernels.row_scores`.

Exactness is as in :mod:`aann_env.evaluation.sparse_kernels`: ``z + v * tap`` is the swapped
network's pre-activation, which float32 holds exactly, and deltas and logits are float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from aann_env.core.loss import LOSS_GRID
from aann_env.evaluation.kernels import row_scores

LANES = 16
"""Samples side by side: one AVX-512 vector of float32."""

GROUPS = 8
"""Groups of LANES samples per work item (a thread's share is many items)."""


@njit(cache=True)
def _load_lanes(
    i0: int,
    nl: int,
    channels: tuple[np.ndarray, np.ndarray],
    cached: tuple[np.ndarray, np.ndarray, np.ndarray],
    scratch: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Copy samples i0:i0+nl of the planes the swaps read into lane-last scratch.

    Args:
        channels: The pre-activation channels the swaps change, and the input channels their
            taps read.
        cached: (z (C, N, H, W), padded input (C_in, N, H_in, W_in), pooled output as the
            output layer's input (F, N)).
        scratch: (zt (c, H, W, L), it (c_in, H_in, W_in, L), ot (c, H/2, W/2, L)).
    """
    zch, ich = channels
    z, inp, out = cached
    zt, it, ot = scratch
    ho, wo = ot.shape[1], ot.shape[2]
    zf = zt.reshape(zt.shape[0], -1, LANES)  # (c, H * W, L) views of the scratch
    itf = it.reshape(it.shape[0], -1, LANES)
    for lane in range(nl):
        for j in range(zch.shape[0]):
            plane = z[zch[j], i0 + lane].reshape(-1)  # one contiguous plane
            dst = zf[j]
            for e in range(plane.shape[0]):
                dst[e, lane] = plane[e]
        for j in range(ich.shape[0]):
            plane = inp[ich[j], i0 + lane].reshape(-1)
            dst = itf[j]
            for e in range(plane.shape[0]):
                dst[e, lane] = plane[e]
    for j in range(zch.shape[0]):
        for cy in range(ho):
            for cx in range(wo):
                row = out[(zch[j] * ho + cy) * wo + cx]  # contiguous over samples
                for lane in range(nl):
                    ot[j, cy, cx, lane] = row[i0 + lane]


@njit(cache=True)
def _channel_logit_deltas(
    j: int,
    o: int,
    taps: np.ndarray,
    stride: int,
    scale: float,
    scratch: tuple[np.ndarray, np.ndarray, np.ndarray],
    wt: np.ndarray,
    dl: np.ndarray,
    moved: np.ndarray,
    dcell: np.ndarray,
) -> None:
    """Add the logit deltas of changed channel ``o`` (scratch index ``j``) to ``dl`` (C, L).

    The second tap row's coefficient is 0 unless both taps feed this channel; it is computed
    either way (a multiply by zero is cheaper than a branch in the vector loop).

    Args:
        taps: (2, 4) rows ``(scratch input channel, kh, kw, coefficient)``.
        wt: (F, C) float64 output-layer weights, one row per input feature.
        moved: (L,) bool, set where a pooled output changed.
        dcell: (L,) float64 scratch.
    """
    zt, it, ot = scratch
    ca, kha, kwa, va = int(taps[0, 0]), int(taps[0, 1]), int(taps[0, 2]), np.float32(taps[0, 3])
    cb, khb, kwb, vb = int(taps[1, 0]), int(taps[1, 1]), int(taps[1, 2]), np.float32(taps[1, 3])
    ho, wo, s = ot.shape[1], ot.shape[2], stride
    one, sc = np.float32(1.0), np.float32(scale)
    for py in range(ho):
        for px in range(wo):
            y, x = 2 * py, 2 * px
            ya, xa, yb, xb = s * y + kha, s * x + kwa, s * y + khb, s * x + kwb
            # Every loop over lanes has the constant trip count LANES: one vector each.
            for lane in range(LANES):
                d00 = va * it[ca, ya, xa, lane] + vb * it[cb, yb, xb, lane]
                d01 = va * it[ca, ya, xa + s, lane] + vb * it[cb, yb, xb + s, lane]
                d10 = va * it[ca, ya + s, xa, lane] + vb * it[cb, yb + s, xb, lane]
                d11 = va * it[ca, ya + s, xa + s, lane] + vb * it[cb, yb + s, xb + s, lane]
                best = max(
                    max(zt[j, y, x, lane] + d00, zt[j, y, x + 1, lane] + d01),
                    max(zt[j, y + 1, x, lane] + d10, zt[j, y + 1, x + 1, lane] + d11),
                )
                new = min(max(best * sc, -one), one)
                d = np.float64(new) - np.float64(ot[j, py, px, lane])
                dcell[lane] = d
                moved[lane] |= d != 0.0
            w = wt[(o * ho + py) * wo + px]
            for c in range(w.shape[0]):
                if w[c] != 0.0:
                    for lane in range(LANES):
                        dl[c, lane] += w[c] * dcell[lane]


@njit(cache=True)
def _score_group(
    i0: int,
    nl: int,
    taps: np.ndarray,
    units: np.ndarray,
    scratch: tuple[np.ndarray, np.ndarray, np.ndarray],
    geometry: tuple[int, float],
    last: tuple[np.ndarray, np.ndarray, float],
    labels: np.ndarray,
    base: tuple[np.ndarray, np.ndarray],
    tables: tuple[np.ndarray, np.ndarray],
    work: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    correct_out: np.ndarray,
    units_out: np.ndarray,
) -> None:
    """Score every swap on the group of samples i0:i0+nl loaded in ``scratch``; add the
    correct counts and loss units to ``correct_out`` and ``units_out`` (K,)."""
    stride, scale = geometry
    wt, z_l, scale_l = last
    exp_units, log_table = tables
    dl, moved, row, dcell = work
    n_classes = wt.shape[1]
    for k in range(taps.shape[0]):
        dl[:] = 0.0
        moved[:] = False
        for u in range(2):
            if units[k, u, 1] >= 0:
                _channel_logit_deltas(
                    units[k, u, 0], units[k, u, 1], taps[k, u], stride, scale, scratch,
                    wt, dl, moved, dcell,
                )  # fmt: skip
        count, total = 0, 0
        for lane in range(nl):
            i = i0 + lane
            if not moved[lane]:  # no pooled output changed: the cached score stands
                count += base[0][i]
                total += base[1][i]
                continue
            for c in range(n_classes):
                row[c] = np.float64(z_l[c, i]) + dl[c, lane]
            ok, loss = row_scores(row, scale_l, labels[i], exp_units, log_table)
            count += ok
            total += np.int64(loss * LOSS_GRID)
        correct_out[k] += count
        units_out[k] += total


@njit(parallel=True, cache=True)
def lane_conv_swap_scores(
    taps: np.ndarray,
    units: np.ndarray,
    channels: tuple[np.ndarray, np.ndarray],
    cached: tuple[np.ndarray, np.ndarray, np.ndarray],
    geometry: tuple[int, float],
    last: tuple[np.ndarray, np.ndarray, float],
    labels: np.ndarray,
    base: tuple[np.ndarray, np.ndarray],
    tables: tuple[np.ndarray, np.ndarray],
    correct_out: np.ndarray,
    units_out: np.ndarray,
) -> None:
    """Score K swaps in a pooled conv layer whose output feeds the output layer directly.

    Args:
        taps: (K, 2, 2, 4) float64 tap rows as in
            :func:`aann_env.evaluation.sparse_kernels.conv_swap_scores`, with input channels as
            indices into ``channels[1]``.
        units: (K, 2, 2) int64: per changed channel, its index into ``channels[0]`` and the
            channel itself (-1 where the swap changes one channel only).
        channels: (changed pre-activation channels, tap input channels) of the batch.
        cached: (z (C, N, H, W), padded input (C_in, N, H_in, W_in), pooled output as the
            output layer's input (F, N)).
        geometry: (stride, scale) of the swapped layer.
        last: The output layer: (wt (F, C) float64, z (C, N), scale).
        base: The cached network's per-sample correctness (bool) and loss units (int64).
        tables: (exp units, log table) of the loss.
        correct_out, units_out: (K, n_items) int64 zeros, incremented by each work item's
            (GROUPS groups of LANES samples) correct counts and loss sums (units of
            ``1 / LOSS_GRID``).
    """
    zch, ich = channels
    z, inp = cached[0], cached[1]
    n, n_classes = z.shape[1], last[0].shape[1]
    ho, wo = z.shape[2] // 2, z.shape[3] // 2
    n_groups = (n + LANES - 1) // LANES
    n_items = (n_groups + GROUPS - 1) // GROUPS
    for item in prange(n_items):
        # Scratch per work item, not per group: allocating and zeroing it is not free. A short
        # last group computes on stale lanes, whose results are not read.
        zt = np.zeros((zch.shape[0], z.shape[2], z.shape[3], LANES), dtype=np.float32)
        it = np.zeros((ich.shape[0], inp.shape[2], inp.shape[3], LANES), dtype=np.float32)
        ot = np.zeros((zch.shape[0], ho, wo, LANES), dtype=np.float32)
        scratch = (zt, it, ot)
        dl = np.empty((n_classes, LANES))
        moved = np.empty(LANES, dtype=np.bool_)
        row, dcell = np.empty(n_classes), np.empty(LANES)
        for g in range(item * GROUPS, min(n_groups, (item + 1) * GROUPS)):
            i0 = g * LANES
            nl = min(LANES, n - i0)
            _load_lanes(i0, nl, channels, cached, scratch)
            _score_group(
                i0, nl, taps, units, scratch, geometry, last, labels, base, tables,
                (dl, moved, row, dcell), correct_out[:, item], units_out[:, item],
            )  # fmt: skip
