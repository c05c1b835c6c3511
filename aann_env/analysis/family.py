"""Families: networks with one signature, compared by structure and by function.

The paper defines a *family* as the networks of one sparsity with the same counts of -1, 0 and +1
weights in every layer (the signature that bit-swaps keep), and claims that its members are
"architecturally distinct, functionally similar". :func:`analyze_family` puts numbers on both
halves: pairwise Hamming distances (structure), accuracies and pairwise agreement of predictions
(function). As a yardstick for the distances, two independent uniformly random members of a family
differ at :func:`random_pair_hamming` positions on average.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aann_env.analysis.records import write_csv, write_json
from aann_env.core.forward import evaluate
from aann_env.core.loss import correct, per_sample_loss
from aann_env.core.network import TernaryNetwork


def check_family(nets: Sequence[TernaryNetwork], names: Sequence[str]) -> None:
    """Raise ValueError unless all networks share architecture, scales, offset and signature."""
    if len(nets) < 2:
        raise ValueError(f"a family analysis needs at least 2 networks, got {len(nets)}")
    first = nets[0]
    for net, name in zip(nets[1:], names[1:], strict=True):
        if net.arch != first.arch:
            raise ValueError(
                f"{name} is a {net.arch.name!r} network but {names[0]} is {first.arch.name!r}"
            )
        if net.scales != first.scales or net.offset != first.offset:
            raise ValueError(f"{name} has other layer scales or input offset than {names[0]}")
        if net.family_signature() != first.family_signature():
            raise ValueError(
                f"{name} is not in the family of {names[0]}: signatures (-1, 0, +1 counts per "
                f"layer) {net.family_signature()} and {first.family_signature()}; a family is "
                "networks whose signatures agree (for example searches started with --init "
                "balanced, or from one network)"
            )


def random_pair_hamming(net: TernaryNetwork) -> float:
    """Expected Hamming distance of two independent uniformly random members of ``net``'s family.

    At each position of a layer with ``n`` weights and counts ``n_v`` of each value, the two
    members agree with probability ``sum_v (n_v / n)^2``.
    """
    total = 0.0
    for counts in net.family_signature().values():
        n = sum(counts)
        total += n * (1.0 - sum((c / n) ** 2 for c in counts))
    return total


def member_logits(
    nets: Sequence[TernaryNetwork],
    pixels: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """(M, N, C) float32 logits of every network on a data set (a from-scratch forward pass)."""
    return torch.stack(
        [evaluate(n, pixels, labels, device=device, keep_logits=True).logits for n in nets]  # type: ignore[misc]
    )


def prediction_agreement(logits: torch.Tensor) -> np.ndarray:
    """(M, M) fraction of samples on which two members predict the same class."""
    pred = logits.argmax(-1)  # (M, N)
    return (pred[:, None, :] == pred[None, :, :]).double().mean(-1).numpy()


@dataclass
class FamilyAnalysis:
    """Structure and function of a family's members.

    Attributes:
        names: One label per member (its file or run directory).
        accuracy: ``{split: (M,) accuracy}``.
        loss: ``{split: (M,) mean loss}``.
        agreement: ``{split: (M, M) fraction of samples with the same predicted class}``.
        hamming: (M, M) weight positions where two members differ.
        hamming_by_layer: ``{layer: (M, M)}`` the same per layer.
        random_hamming: Expected Hamming distance of two uniformly random members.
        signature: The family signature.
        n_weights: Weights in the network.
        meta: What produced it, copied into the summary.
    """

    names: list[str]
    accuracy: dict[str, np.ndarray]
    loss: dict[str, np.ndarray]
    agreement: dict[str, np.ndarray]
    hamming: np.ndarray
    hamming_by_layer: dict[str, np.ndarray]
    random_hamming: float
    signature: dict[str, tuple[int, int, int]]
    n_weights: int
    meta: dict[str, Any] = field(default_factory=dict)

    def _off_diagonal(self, m: np.ndarray) -> np.ndarray:
        return m[~np.eye(len(m), dtype=bool)]

    def summary(self) -> dict[str, Any]:
        """Per split: accuracy mean / std / range; pairwise distances and agreement statistics."""
        ham = self._off_diagonal(self.hamming)
        out: dict[str, Any] = {
            **self.meta,
            "members": len(self.names),
            "signature": self.signature,
            "n_weights": self.n_weights,
            "hamming_mean": float(ham.mean()),
            "hamming_min": int(ham.min()),
            "hamming_max": int(ham.max()),
            "random_pair_hamming": self.random_hamming,
            "hamming_over_random": float(ham.mean() / self.random_hamming),
            "hamming_by_layer_mean": {
                k: float(self._off_diagonal(v).mean()) for k, v in self.hamming_by_layer.items()
            },
        }
        for split, acc in self.accuracy.items():
            agree = self._off_diagonal(self.agreement[split])
            out[split] = {
                "accuracy_mean": float(acc.mean()),
                "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
                "accuracy_min": float(acc.min()),
                "accuracy_max": float(acc.max()),
                "agreement_mean": float(agree.mean()),
                "agreement_min": float(agree.min()),
            }
        return out

    def save(self, out_dir: str | Path) -> list[Path]:
        """Write ``members.csv``, ``pairs.csv`` and ``family.json``."""
        out = Path(out_dir)
        splits = list(self.accuracy)
        m = len(self.names)
        cols = ["member", *(f"{s}_{w}" for s in splits for w in ("accuracy", "loss"))]
        cols += ["mean_hamming_to_others", *(f"{s}_mean_agreement" for s in splits)]
        rows = []
        for i, name in enumerate(self.names):
            others = [j for j in range(m) if j != i]
            row: list[Any] = [name]
            for s in splits:
                row += [float(self.accuracy[s][i]), float(self.loss[s][i])]
            row.append(float(self.hamming[i, others].mean()))
            row += [float(self.agreement[s][i, others].mean()) for s in splits]
            rows.append(row)
        paths = [write_csv(out / "members.csv", cols, rows)]
        layers = list(self.hamming_by_layer)
        pair_cols = ["a", "b", "hamming", *(f"hamming_{k}" for k in layers)]
        pair_cols += [f"{s}_agreement" for s in splits]
        pairs = (
            [self.names[i], self.names[j], int(self.hamming[i, j])]
            + [int(self.hamming_by_layer[k][i, j]) for k in layers]
            + [float(self.agreement[s][i, j]) for s in splits]
            for i in range(m)
            for j in range(i + 1, m)
        )
        paths.append(write_csv(out / "pairs.csv", pair_cols, pairs))
        paths.append(write_json(out / "family.json", self.summary()))
        return paths


def analyze_family(
    nets: Sequence[TernaryNetwork],
    names: Sequence[str],
    splits: Mapping[str, tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor]],
    *,
    device: torch.device | str = "cpu",
    require_family: bool = True,
    logits: Mapping[str, torch.Tensor] | None = None,
) -> FamilyAnalysis:
    """Accuracies, pairwise Hamming distances and prediction agreement of family members.

    Args:
        nets: The members.
        names: A label per member.
        splits: ``{split name: (pixels, labels)}`` to evaluate on.
        device: Where forward passes run.
        require_family: Raise unless the networks share one signature (a comparison of networks
            of several families is allowed with False; the Hamming yardstick is then the first
            network's family's).
        logits: Precomputed ``{split: (M, N, C)}`` logits (from :func:`member_logits`).

    Raises:
        ValueError: Fewer than 2 networks, names that do not match, or (with
            ``require_family``) networks of different families.
    """
    if len(names) != len(nets):
        raise ValueError(f"{len(nets)} networks but {len(names)} names")
    if require_family:
        check_family(nets, names)
    elif len(nets) < 2:
        raise ValueError(f"a family analysis needs at least 2 networks, got {len(nets)}")
    m = len(nets)
    layers = nets[0].layer_names
    by_layer = {k: np.zeros((m, m), dtype=np.int64) for k in layers}
    for i in range(m):
        for j in range(i + 1, m):
            for k in layers:
                d = int(np.count_nonzero(nets[i].weights[k] != nets[j].weights[k]))
                by_layer[k][i, j] = by_layer[k][j, i] = d
    accuracy, loss, agreement = {}, {}, {}
    for split, (pixels, labels) in splits.items():
        lg = logits[split] if logits is not None else member_logits(nets, pixels, labels, device)
        y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
        accuracy[split] = correct(lg, y).double().mean(-1).numpy()
        loss[split] = (per_sample_loss(lg, y).sum(-1) / len(y)).numpy()
        agreement[split] = prediction_agreement(lg)
    return FamilyAnalysis(
        [str(n) for n in names],
        accuracy,
        loss,
        agreement,
        sum(by_layer.values()),  # type: ignore[arg-type]
        by_layer,
        random_pair_hamming(nets[0]),
        nets[0].family_signature(),
        int(sum(w.size for w in nets[0].weights.values())),
    )
