"""The exact loss and accuracy of a ternary network's logits: the definition every evaluator
reproduces bit for bit.

The loss is defined just as exactly, with table lookups in place of ``exp`` and ``log`` so that
no last bit depends on a math library. Per sample, in float64::

    m    = floor(max_c logits_c / 16) * 16                   # a shift a small change rarely moves
    t_c  = EXP_UNITS[floor((logits_c - m) * 1024)]           # exp on a 2**-10 grid, in 2**-24 units
    s    = t_0 + t_1 + ... + t_{C-1}                         # integers: exact in any order
    f, e = frexp(s)                                          # s = f * 2**e, f in [0.5, 1), exact
    ce   = LOG_TABLE[floor((f - 0.5) * 2**17)] + (e - 24) * ln2 + (m - logits_y)
    loss = round(ce * 2**24) / 2**24

``EXP_UNITS[j] = round(exp(j / 1024) * 2**24)`` and ``LOG_TABLE[j] = log(0.5 + j / 2**17)`` are
built once; every evaluator (torch on any device, or the CPU kernels) reads the same tables and
does the same IEEE additions and multiplications in the same order. The mean loss is the
per-sample values' sum (exact in any order) divided by N. The result differs from the textbook
cross-entropy by less than 1e-3 per sample (the exponent grid). A prediction is the first class
with the largest logit (``argmax``); accuracy is the fraction of correct predictions.
"""

from __future__ import annotations

import numpy as np
import torch

LOSS_GRID = 2.0**24
"""Per-sample losses are rounded to multiples of ``1 / LOSS_GRID`` (see the module docstring)."""

TERM_GRID = 2.0**24
"""Loss terms are integers in units of ``1 / TERM_GRID`` (2**24: see ``(e - 24)`` below)."""

SHIFT_STEP = 16.0
"""The loss shifts logits by their maximum rounded down to a multiple of this."""

EXP_STEP = 1024.0
"""Shifted logits are rounded down to multiples of ``1 / EXP_STEP`` before the table lookup."""

EXP_LOW = -18
"""Below this shifted logit every term rounds to 0 units, so the table starts here."""

EXP_UNITS: np.ndarray = np.round(
    np.exp(np.arange(EXP_LOW * int(EXP_STEP), int(SHIFT_STEP * EXP_STEP)) / EXP_STEP) * TERM_GRID
)
"""``EXP_UNITS[j - EXP_LOW * EXP_STEP] = round(exp(j / EXP_STEP) * TERM_GRID)``: the loss's exp."""

LOG_BITS = 17
"""The mantissa of the term sum is rounded down to multiples of ``2**-LOG_BITS`` for the log."""

LOG_TABLE: np.ndarray = np.log(0.5 + np.arange(2 ** (LOG_BITS - 1)) / 2.0**LOG_BITS)
"""``LOG_TABLE[j] = log(0.5 + j / 2**LOG_BITS)`` for mantissas in [0.5, 1)."""

LN2 = float(np.log(2.0))

MAX_CLASSES = 60
"""Up to this many classes, ``C * exp(SHIFT_STEP) * TERM_GRID < 2**53``: term sums are exact."""

_TABLES: dict[tuple[str, torch.device], torch.Tensor] = {}


def per_sample_loss(
    logits: torch.Tensor, labels: torch.Tensor, class_dim: int = -1
) -> torch.Tensor:
    """Cross-entropy of each sample on the exact grid of the module docstring.

    Args:
        logits: float32 logits with the classes along ``class_dim``: (..., N, C) by default, or
            class-major (..., C, N) with ``class_dim=-2``. Both give the same bits.
        labels: (N,) int64.
        class_dim: -1 or -2.

    Returns:
        (..., N) float64, each a multiple of ``1 / LOSS_GRID``.
    """
    if class_dim not in (-1, -2):
        raise ValueError("class_dim must be -1 or -2")
    if logits.shape[class_dim] > MAX_CLASSES:
        raise ValueError(f"at most {MAX_CLASSES} classes keep the loss exact")
    lg = logits.to(torch.float64)
    m = loss_shift(lg.max(dim=class_dim).values)  # (..., N)
    s = loss_term_units(lg.select(class_dim, 0) - m)
    for c in range(1, lg.shape[class_dim]):
        s += loss_term_units(lg.select(class_dim, c) - m)
    idx = labels.expand(m.shape).unsqueeze(class_dim)
    target = lg.gather(class_dim, idx).squeeze(class_dim)
    return loss_from_units(s, m - target)


def loss_shift(max_logit: torch.Tensor) -> torch.Tensor:
    """The shift ``m``: the largest logit (float64) rounded down to a multiple of SHIFT_STEP."""
    return torch.floor(max_logit / SHIFT_STEP) * SHIFT_STEP


def _table(name: str, values: np.ndarray, device: torch.device | str) -> torch.Tensor:
    key = (name, torch.device(device))
    if key not in _TABLES:
        _TABLES[key] = torch.as_tensor(values, dtype=torch.float64, device=key[1])
    return _TABLES[key]


def loss_term_units(shifted: torch.Tensor) -> torch.Tensor:
    """One class's term ``t_c`` (integer units, float64) from ``logits_c - m`` (float64)."""
    table = _table("exp", EXP_UNITS, shifted.device)
    j = torch.floor(shifted * EXP_STEP) - EXP_LOW * EXP_STEP
    return table[j.clamp_(0, len(table) - 1).to(torch.int64)]


def loss_from_units(s_units: torch.Tensor, shift_minus_target: torch.Tensor) -> torch.Tensor:
    """Per-sample loss on the LOSS_GRID grid from the term sum (units) and ``m - logits_y``."""
    mantissa, exponent = torch.frexp(s_units)
    j = torch.floor((mantissa - 0.5) * 2.0**LOG_BITS).to(torch.int64)
    log_s = _table("log", LOG_TABLE, s_units.device)[j] + (exponent.to(torch.float64) - 24.0) * LN2
    ce = log_s + shift_minus_target
    return torch.round(ce * LOSS_GRID) / LOSS_GRID


def correct(logits: torch.Tensor, labels: torch.Tensor, class_dim: int = -1) -> torch.Tensor:
    """Whether each sample's first largest logit is its label: (..., N) bool.

    With ``class_dim=-2`` (class-major logits) the argmax runs as a loop over class rows, which
    is much faster than a reduction over a strided dimension and keeps the first-max rule.
    """
    if class_dim == -1:
        return logits.argmax(dim=-1) == labels
    if class_dim != -2:
        raise ValueError("class_dim must be -1 or -2")
    best = logits.select(-2, 0)
    idx = torch.zeros(best.shape, dtype=torch.int64, device=logits.device)
    for c in range(1, logits.shape[-2]):
        row = logits.select(-2, c)
        better = row > best  # strict: an equal later class never wins
        best = torch.where(better, row, best)
        idx.masked_fill_(better, c)
    return idx == labels
