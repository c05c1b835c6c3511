"""Sparse CPU kernels (numba) that score swaps in pooled conv layers by touching only what changes.

A swap in conv layer ``l`` moves one weight, so per sample it changes two output channels of
``l`` and only at positions where the moved weight's tap input is nonzero; after HardTanh and
max-pooling a still smaller set of pooled outputs changes (often none). The kernels follow
these changes downstream as lists of ``(feature, delta)`` per sample:

1. **Swap layer.** For each pooled cell of the two channels, the four new pre-activations
   (``z + v * tap``), their max, HardTanh, and a comparison with the cached output give the
   changed outputs and their deltas (``feature`` in torch's flatten order ``(C, H, W)``); a
   cell whose tap inputs are all zero gives a zero delta, without a branch.
2. **Next conv (optional).** Each delta is scattered, as one vector over output channels per
   kernel tap, into a per-sample buffer of pre-activation deltas; every pooled cell is then
   re-pooled (vectorised over channels) and compared, giving this layer's output deltas.
3. **Linear layers.** Deltas update a linear layer's pre-activation as ``z + W[:, f] * delta``;
   a hidden linear layer's changed units feed the next one the same way; the last one's row is
   scored per sample with the loss of :mod:`aann_env.core.loss`.

A sample with no change left at some stage keeps the cached network's score. Every value is
exact: ``z + v * tap`` is a partial sum of the swapped network, which float32 holds exactly (see
:mod:`aann_env.core.architecture`), and deltas and the layers after the swapped one are held in
float64, so ``z + delta`` is the value a from-scratch forward pass computes and the scores equal
it bit for bit. All the swaps of a batch run over one sample before the next, while its cached
planes are in cache; chunks of samples are spread over numba's threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from aann_env.core.loss import LOSS_GRID
from aann_env.evaluation.kernels import row_scores


@njit(inline="always", cache=True)
def _hardtanh(x: float) -> float:
    return min(max(x, -1.0), 1.0)


@njit(cache=True)
def _swap_cells(
    i: int,
    o: int,
    taps: np.ndarray,
    z: np.ndarray,
    inp: np.ndarray,
    stride: int,
    scale: float,
    out: np.ndarray,
    off: int,
    feat: np.ndarray,
    delta: np.ndarray,
    n: int,
    row: np.ndarray,
) -> int:
    """Append the changed pooled outputs of channel ``o`` of the swap layer for sample ``i``.

    Args:
        taps: (2, 4) rows ``(channel, kh, kw, coefficient)``: the new pre-activation is
            ``z + sum(coefficient * tap input)`` (a zero coefficient for an unused row).
        z: (C, N, H, W) cached pre-activation. inp: (C_in, N, H_in, W_in) its padded input.
        out: (C, N, ., .) the cached pooled output, read at ``[o, i, py + off, px + off]``.
        feat, delta: Output lists; ``n`` entries are already used.
        row: Scratch of one row of pooled cells (W/2,) float64.

    Returns:
        The new number of entries.
    """
    ca, kha, kwa, va = int(taps[0, 0]), int(taps[0, 1]), int(taps[0, 2]), taps[0, 3]
    cb, khb, kwb, vb = int(taps[1, 0]), int(taps[1, 1]), int(taps[1, 2]), taps[1, 3]
    ho, wo = z.shape[2] // 2, z.shape[3] // 2
    pa, pb, zo, po = inp[ca, i], inp[cb, i], z[o, i], out[o, i]  # this sample's planes
    s2 = 2 * stride
    two = vb != 0.0  # both taps feed this channel (rare): twice the loads
    # f32 arithmetic is exact here: z + v * tap is the swapped network's pre-activation, which
    # float32 holds exactly (see aann_env.core.architecture); deltas go to float64.
    va32, vb32, scale32 = np.float32(va), np.float32(vb), np.float32(scale)
    one = np.float32(1.0)
    for py in range(ho):
        ya, yb, y = s2 * py + kha, s2 * py + khb, 2 * py
        # No branch per cell (a coin flip for the predictor): an untouched cell's delta is 0.
        for px in range(wo):
            xa, xb, x = s2 * px + kwa, s2 * px + kwb, 2 * px
            d00 = va32 * pa[ya, xa]
            d01 = va32 * pa[ya, xa + stride]
            d10 = va32 * pa[ya + stride, xa]
            d11 = va32 * pa[ya + stride, xa + stride]
            if two:
                d00 += vb32 * pb[yb, xb]
                d01 += vb32 * pb[yb, xb + stride]
                d10 += vb32 * pb[yb + stride, xb]
                d11 += vb32 * pb[yb + stride, xb + stride]
            best = max(
                max(zo[y, x] + d00, zo[y, x + 1] + d01),
                max(zo[y + 1, x] + d10, zo[y + 1, x + 1] + d11),
            )
            new = min(max(best * scale32, -one), one)
            row[px] = np.float64(new) - np.float64(po[py + off, px + off])
        for px in range(wo):
            feat[n] = (o * ho + py) * wo + px
            delta[n] = row[px]
            n += row[px] != 0.0
    return n


@njit(cache=True)
def _sample_planes(
    i: int, z: np.ndarray, out: np.ndarray, off: int, zl: np.ndarray, ol: np.ndarray
) -> None:
    """Copy sample i's pre-activation (C, H, W) and pooled output of a conv, channels last,
    into ``zl`` (H, W, C) and ``ol`` (H/2, W/2, C) float64: once per sample, for all swaps."""
    for o in range(zl.shape[2]):
        zo, po = z[o, i], out[o, i]
        for y in range(zl.shape[0]):
            for x in range(zl.shape[1]):
                zl[y, x, o] = zo[y, x]
        for cy in range(ol.shape[0]):
            for cx in range(ol.shape[1]):
                ol[cy, cx, o] = po[cy + off, cx + off]


@njit(cache=True)
def _conv_deltas(
    feat: np.ndarray,
    delta: np.ndarray,
    n: int,
    in_hw: tuple[int, int],
    wt: np.ndarray,
    geometry: tuple[int, int],
    scale: float,
    planes: tuple[np.ndarray, np.ndarray],
    dz: np.ndarray,
    dd: np.ndarray,
    feat_out: np.ndarray,
    delta_out: np.ndarray,
) -> int:
    """Propagate ``n`` output deltas of the previous layer through a pooled conv (one sample).

    Args:
        in_hw: (H, W) of the previous layer's pooled output (to decode ``feat``).
        wt: (C_in, K, K, C) float64: the conv's weights, output channels last, so that one
            input delta updates all output channels at a tap as one contiguous vector.
        geometry: (stride, padding).
        planes: The sample's cached pre-activation (H', W', C) and pooled output
            (H'/2, W'/2, C), channels last (see :func:`_sample_planes`).
        dz: (H' + 2M, W' + 2M, C) float64 scratch of pre-activation deltas, output pixel
            (y, x) at (y + M, x + M) with ``M = K - 1``, so that a scatter needs no bounds
            check (what lands outside the pooled pixels is never read); zero at the pooled
            pixels, and left so.
        dd: (H'/2, W'/2, C) float64 scratch for the pooled outputs' deltas.

    Returns:
        The number of changed pooled outputs written to ``feat_out`` and ``delta_out``.
    """
    stride, pad = geometry
    zl, ol = planes
    h_in, w_in = in_hw
    n_c, k = wt.shape[3], wt.shape[1]
    margin = k - 1
    hp, wp = ol.shape[0], ol.shape[1]
    for j in range(n):
        c, r = divmod(feat[j], h_in * w_in)
        py, px = r // w_in + pad, r % w_in + pad  # in padded input coordinates
        d = delta[j]
        for kh in range(k):
            yy = py - kh
            if stride != 1:  # integer division is slow: only strided convs pay for it
                if yy % stride != 0:
                    continue
                yy //= stride
            for kw in range(k):
                xx = px - kw
                if stride != 1:
                    if xx % stride != 0:
                        continue
                    xx //= stride
                acc, w = dz[yy + margin, xx + margin], wt[c, kh, kw]
                for o in range(n_c):
                    acc[o] += w[o] * d
    # Every pooled cell, vectorised over channels: most cells change when a delta arrives.
    for cy in range(hp):
        for cx in range(wp):
            y, x, ym, xm = 2 * cy, 2 * cx, 2 * cy + margin, 2 * cx + margin
            r00, r01, r10, r11 = dz[ym, xm], dz[ym, xm + 1], dz[ym + 1, xm], dz[ym + 1, xm + 1]
            z00, z01, z10, z11 = zl[y, x], zl[y, x + 1], zl[y + 1, x], zl[y + 1, x + 1]
            old, out = ol[cy, cx], dd[cy, cx]
            for o in range(n_c):
                best = max(
                    max(z00[o] + r00[o], z01[o] + r01[o]), max(z10[o] + r10[o], z11[o] + r11[o])
                )
                r00[o] = r01[o] = r10[o] = r11[o] = 0.0
                out[o] = _hardtanh(best * scale) - old[o]
    n_out = 0
    for cy in range(hp):  # compact the changes without branches
        for cx in range(wp):
            for o in range(n_c):
                feat_out[n_out] = (o * hp + cy) * wp + cx
                delta_out[n_out] = dd[cy, cx, o]
                n_out += dd[cy, cx, o] != 0.0
    return n_out


@njit(inline="always", cache=True)
def _linear_row(
    i: int,
    feat: np.ndarray,
    delta: np.ndarray,
    n: int,
    wt: np.ndarray,
    z: np.ndarray,
    row: np.ndarray,
) -> None:
    """``row = z[:, i] + sum_j wt[feat[j]] * delta[j]``: a linear layer's new pre-activation."""
    for u in range(row.shape[0]):
        row[u] = z[u, i]
    for j in range(n):
        f, d = feat[j], delta[j]
        for u in range(row.shape[0]):
            row[u] += wt[f, u] * d


@njit(parallel=True, cache=True)
def conv_swap_scores(
    taps: np.ndarray,
    units: np.ndarray,
    swap_layer: tuple[np.ndarray, np.ndarray, np.ndarray, int, float, int],
    conv: tuple[np.ndarray, np.ndarray, int, int, int, float, np.ndarray],
    has_conv: bool,
    hidden: tuple[np.ndarray, np.ndarray, float, np.ndarray],
    has_hidden: bool,
    last: tuple[np.ndarray, np.ndarray, float],
    labels: np.ndarray,
    base: tuple[np.ndarray, np.ndarray],
    tables: tuple[np.ndarray, np.ndarray],
    chunk: int,
    correct_out: np.ndarray,
    units_out: np.ndarray,
) -> None:
    """Score K swaps in a pooled conv layer on every sample, sparsely (see the module docstring).

    Args:
        taps: (K, 2, 2, 4) float64: per swap, per changed channel, up to two tap rows
            ``(channel, kh, kw, coefficient)`` (see :func:`_swap_cells`).
        units: (K, 2) int64 the two changed channels (the second is -1 when they coincide).
        swap_layer: (z, padded input, cached pooled output, stride, scale, output offset).
        conv: The next conv layer, when ``has_conv``: (weights (C_in, K, K, C), z, stride,
            padding, output offset, scale, cached pooled output); see :func:`_conv_deltas`.
        hidden: A hidden linear layer, when ``has_hidden``: (wt (F, U) float64 transposed
            weights, z (U, N), scale, its cached output (U, N)).
        last: The output layer: (wt (F, C) float64, z (C, N), scale).
        base: The cached network's per-sample correctness (bool) and loss units (int64).
        tables: (exp units, log table) of the loss.
        chunk: Samples per work item.
        correct_out, units_out: (K, n_chunks) int64 zeros, incremented by the correct counts
            and loss sums (units of ``1 / LOSS_GRID``) of each chunk.
    """
    z0, in0, out0, stride0, scale0, off0 = swap_layer
    wt1, z1, stride1, pad1, off1, scale1, out1 = conv
    wt_h, z_h, scale_h, out_h = hidden
    wt_l, z_l, scale_l = last
    exp_units, log_table = tables
    n, n_swaps = z0.shape[1], taps.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    ho, wo = z0.shape[2] // 2, z0.shape[3] // 2
    margin = wt1.shape[1] - 1
    n_next = z1.shape[0] * (z1.shape[2] // 2) * (z1.shape[3] // 2)
    for ch in prange(n_chunks):
        feat = np.empty(2 * ho * wo, dtype=np.int64)
        delta, row0 = np.empty(2 * ho * wo), np.empty(wo)
        feat1, delta1 = np.empty(n_next, dtype=np.int64), np.empty(n_next)
        dz = np.zeros((z1.shape[2] + 2 * margin, z1.shape[3] + 2 * margin, z1.shape[0]))
        zl = np.empty((z1.shape[2], z1.shape[3], z1.shape[0]))
        ol = np.empty((z1.shape[2] // 2, z1.shape[3] // 2, z1.shape[0]))
        dd = np.empty_like(ol)
        feat_h = np.empty(wt_h.shape[1], dtype=np.int64)
        delta_h, row_h = np.empty(wt_h.shape[1]), np.empty(wt_h.shape[1])
        row = np.empty(wt_l.shape[1])
        # Swaps inside samples: one sample's cached planes stay in cache across all swaps.
        for i in range(ch * chunk, min(n, (ch + 1) * chunk)):
            if has_conv:
                _sample_planes(i, z1, out1, off1, zl, ol)
            for k in range(n_swaps):
                m = _swap_cells(
                    i, units[k, 0], taps[k, 0], z0, in0, stride0, scale0, out0, off0, feat, delta,
                    0, row0,
                )  # fmt: skip
                if units[k, 1] >= 0:
                    m = _swap_cells(
                        i, units[k, 1], taps[k, 1], z0, in0, stride0, scale0, out0, off0, feat,
                        delta, m, row0,
                    )  # fmt: skip
                f, d = feat, delta
                if has_conv and m > 0:
                    m = _conv_deltas(
                        feat, delta, m, (ho, wo), wt1, (stride1, pad1), scale1, (zl, ol), dz, dd,
                        feat1, delta1,
                    )  # fmt: skip
                    f, d = feat1, delta1
                if has_hidden and m > 0:
                    _linear_row(i, f, d, m, wt_h, z_h, row_h)
                    m = 0
                    for u in range(row_h.shape[0]):
                        new, old = _hardtanh(row_h[u] * scale_h), np.float64(out_h[u, i])
                        if new != old:
                            feat_h[m], delta_h[m] = u, new - old
                            m += 1
                    f, d = feat_h, delta_h
                if m == 0:  # nothing reaches the logits: the cached score stands
                    correct_out[k, ch] += base[0][i]
                    units_out[k, ch] += base[1][i]
                    continue
                _linear_row(i, f, d, m, wt_l, z_l, row)
                ok, loss = row_scores(row, scale_l, labels[i], exp_units, log_table)
                correct_out[k, ch] += ok
                units_out[k, ch] += np.int64(loss * LOSS_GRID)
