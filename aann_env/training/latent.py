"""Real-valued latent networks that backprop trains and that ternarize into exact ternary networks.

A :class:`LatentNetwork` holds, for each layer of an :class:`~aann_env.core.architecture.Architecture`,
a real weight tensor ``w`` and a real log2 scale ``theta``. It runs in two modes:

- **dense** (``sparsity=None``): ``z = op(a, w) * 2**theta``, ordinary real-valued backprop;
- **ternary** (``sparsity=p``): ``z = op(a, t) * 2**round(theta)``, where ``t = ternarize(w, p)``
  keeps the sign of the ``(1 - p) * size`` weights of largest magnitude and zeros the rest
  (exactly ``round(p * size)`` zeros, as :class:`~aann_env.core.network.TernaryNetwork` demands).
  Gradients pass straight through the ternarization and the rounding (the straight-through
  estimator), so ``w`` and ``theta`` keep learning while the forward pass is ternary.

Everything else (HardTanh, 2x2 max-pool, no bias, the input ``pixels/256 - offset``) is the core's
forward pass (:mod:`aann_env.core.forward`). The rounded exponents are raised where needed so that
:meth:`~aann_env.core.architecture.Architecture.check_scales` holds, so :meth:`LatentNetwork.to_network`
returns exactly the network whose forward pass the ternary mode computes: same weights, same
power-of-two scales, same offset.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aann_env.core.architecture import FLOAT32_SIGNIFICAND_BITS, Architecture
from aann_env.core.network import TernaryNetwork, zeros_per_layer

MIN_EXPONENT = -16
MAX_EXPONENT = 4
"""Scale exponents are kept in [MIN_EXPONENT, MAX_EXPONENT]."""


def ternarize(w: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Signs of the largest-magnitude weights, zeros elsewhere: exactly ``round(p * size)`` zeros.

    Ties in magnitude go to the lower flat index (a stable sort), so the result is deterministic;
    a kept weight that is exactly 0 counts as +1.
    """
    flat = w.detach().reshape(-1)
    keep = flat.numel() - zeros_per_layer(flat.numel(), sparsity)
    order = torch.sort(flat.abs(), descending=True, stable=True).indices[:keep]
    t = torch.zeros_like(flat)
    t[order] = torch.where(flat[order] < 0, -1.0, 1.0)
    return t.reshape(w.shape)


def exact_exponents(arch: Architecture, wanted: list[int], offset: float) -> list[int]:
    """The scale exponents closest to ``wanted`` (clamped) that keep every float32 sum exact.

    While some layer would need more than 24 significand bits, the earliest layer before it whose
    exponent can grow is raised by one (a coarser grid), as :func:`default_scales` does.
    """
    exps = [min(MAX_EXPONENT, max(MIN_EXPONENT, int(e))) for e in wanted]
    names = arch.layer_names
    for _ in range(64 * len(exps)):
        bits = arch.exact_bits({n: 2.0**e for n, e in zip(names, exps, strict=True)}, offset)
        over = [i for i, n in enumerate(names) if bits[n] > FLOAT32_SIGNIFICAND_BITS]
        if not over:
            return exps
        for i in range(over[0]):
            if exps[i] < MAX_EXPONENT:
                exps[i] += 1
                break
        else:
            raise ValueError(f"no scales keep architecture {arch.name!r} exact")
    raise ValueError(f"no scales keep architecture {arch.name!r} exact")


class LatentNetwork(nn.Module):
    """Latent real weights and log2 scales of one architecture (see the module docstring).

    Args:
        arch: The architecture.
        offset: The dyadic input offset (inputs are ``pixels/256 - offset``).
        generator: Torch generator for the Kaiming-uniform initialisation.
    """

    def __init__(
        self, arch: Architecture, offset: float = 0.0, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        self.arch = arch
        self.offset = float(offset)
        weights = []
        for spec in arch.layers:
            bound = math.sqrt(6.0 / spec.fan_in)  # Kaiming uniform for a unit-gain activation
            w = (torch.rand(spec.weight_shape, generator=generator) * 2.0 - 1.0) * bound
            weights.append(nn.Parameter(w))
        self.weights = nn.ParameterList(weights)
        self.log2_scales = nn.Parameter(torch.zeros(len(arch.layers)))

    # --------------------------------------------------------------------------------- scales
    def exponents(self) -> list[int]:
        """The power-of-two exponents the ternary mode uses (rounded, clamped, exactness-raised)."""
        wanted = [round(float(v)) for v in self.log2_scales.detach()]
        return exact_exponents(self.arch, wanted, self.offset)

    def fit_scales(self, sparsity: float) -> None:
        """Set each ``theta`` so the ternary layer best matches the current real layer.

        The least-squares scale of ``t`` against ``w * 2**theta`` is ``2**theta`` times the mean
        magnitude ``m`` of the kept weights (as in ternary weight networks): ``theta`` grows by
        ``log2(m)`` and ``w`` is divided by ``m``, which leaves the dense network unchanged and
        puts every layer's latent weights on the same footing (kept weights of magnitude about
        1), so one learning rate suits every layer in the ternary phase.
        """
        with torch.no_grad():
            for i, w in enumerate(self.weights):
                t = ternarize(w, sparsity)
                kept = w.abs()[t != 0]
                mean = max(float(kept.mean()) if kept.numel() else 1.0, 2.0**MIN_EXPONENT)
                self.log2_scales[i] += math.log2(mean)
                w /= mean

    def project_scales(self) -> None:
        """Pull ``theta`` up to the exponents that exactness forced (keeps theta and use in step)."""
        with torch.no_grad():
            for i, e in enumerate(self.exponents()):
                if round(float(self.log2_scales[i])) < e:
                    self.log2_scales[i] = float(e)
                self.log2_scales[i].clamp_(MIN_EXPONENT - 0.49, MAX_EXPONENT + 0.49)

    # -------------------------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor, sparsity: float | None = None) -> torch.Tensor:
        """Logits of a batch ``x = pixels/256 - offset`` in dense (None) or ternary mode."""
        a = x
        n_layers = len(self.arch.layers)
        exps = self.exponents() if sparsity is not None else None
        for i, (spec, w) in enumerate(zip(self.arch.layers, self.weights, strict=True)):
            theta = self.log2_scales[i]
            if sparsity is None:
                weight, scale = w, torch.exp2(theta)
            else:
                assert exps is not None
                weight = w + (ternarize(w, sparsity) - w).detach()  # forward t, gradient to w
                scale = torch.exp2(theta + (exps[i] - theta).detach())  # forward 2**e
            if spec.kind == "conv":
                z = F.conv2d(a, weight, stride=spec.stride, padding=spec.padding)
            else:
                z = a.flatten(1) @ weight.T
            z = z * scale
            if i < n_layers - 1:
                a = F.hardtanh(z)
                if spec.pool:
                    a = F.max_pool2d(a, 2)
            else:
                a = z
        return a

    # ---------------------------------------------------------------------------------- export
    def to_network(
        self, sparsity: float, seed: int | None = None, provenance: dict[str, Any] | None = None
    ) -> TernaryNetwork:
        """The exact ternary network that ``forward(x, sparsity)`` computes."""
        weights = {
            spec.name: ternarize(w, sparsity).to(torch.int8).cpu().numpy()
            for spec, w in zip(self.arch.layers, self.weights, strict=True)
        }
        scales = {
            name: 2.0**e for name, e in zip(self.arch.layer_names, self.exponents(), strict=True)
        }
        return TernaryNetwork(
            self.arch, weights, scales, self.offset, sparsity, seed, dict(provenance or {})
        )
