"""First and k-th neighbours of a network, scored exactly (the paper's Figs. 3 and 9).

A *first neighbour* is one bit-swap away from the network. For each layer,
:func:`analyze_neighbours` draws distinct first neighbours uniformly without replacement and
scores them all with the exact incremental evaluator
(:class:`~aann_env.evaluation.incremental.IncrementalEvaluator`): every accuracy and loss is what a
from-scratch forward pass of that neighbour gives, bit for bit.

*k-th neighbours* (k swaps, Hamming distance 2k) come from random walks: a walk commits one
uniformly random swap per step, never touching a position an earlier step touched (so after k
steps the network differs from the original at exactly 2k positions), and at step k it scores a
sample of the swaps that would complete a k-th neighbour. The scores at each k show how accuracy
decays with distance.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aann_env.analysis.records import write_csv, write_json
from aann_env.core.network import TernaryNetwork
from aann_env.evaluation.incremental import IncrementalEvaluator

DEFAULT_NEIGHBOURS: dict[str, dict[str, int]] = {
    "mnist": {"1.0": 500, "2.0": 2000, "fc": 10_000},
    "car": {"1.0": 200, "2.0": 2000, "fc1": 5000, "fc2": 10_000},
}
"""First neighbours scored per layer by default: about a minute per task on a 2-core CPU (a conv
``1.0`` neighbour of MNIST costs about 1/11 s on 10,000 images, an fc one 1/10,000 s)."""

DISTANCE_SHARE = 40
"""By default a walk step scores ``neighbours // DISTANCE_SHARE`` swaps of its layer."""


def distinct_swaps(
    net: TernaryNetwork,
    layer: int | str,
    k: int,
    rng: np.random.Generator,
    exclude: Sequence[int] | np.ndarray = (),
) -> np.ndarray:
    """Draw ``k`` distinct swaps of one layer uniformly without replacement.

    Args:
        net: The network.
        layer: The layer (index or name).
        k: How many; fewer if the layer has fewer legal swaps.
        rng: The generator every draw comes from.
        exclude: Flat positions of the layer that neither end of a swap may touch.

    Returns:
        (min(k, available), 3) int64 rows ``(layer, src, dst)``.
    """
    li = net.layer_index(layer)
    flat = net.flat(li)
    nonzero, zero = np.flatnonzero(flat), np.flatnonzero(flat == 0)
    if len(exclude):
        nonzero = np.setdiff1d(nonzero, exclude, assume_unique=True)
        zero = np.setdiff1d(zero, exclude, assume_unique=True)
    total = nonzero.size * zero.size
    codes = rng.choice(total, size=min(int(k), total), replace=False)
    src, dst = nonzero[codes // zero.size], zero[codes % zero.size]
    return np.column_stack([np.full(codes.size, li), src, dst]).astype(np.int64)


@dataclass(frozen=True)
class LayerNeighbours:
    """Scores of first neighbours in one layer.

    Attributes:
        layer: The layer's name.
        swaps: (K, 3) int64 swaps ``(layer, src, dst)``; neighbour i is the network with swap i.
        accuracy: (K,) exact accuracy of each neighbour.
        loss: (K,) exact mean loss of each neighbour.
        n_swaps: Legal swaps of the layer (how many first neighbours it has).
        seconds: Wall time of the scoring.
    """

    layer: str
    swaps: np.ndarray
    accuracy: np.ndarray
    loss: np.ndarray
    n_swaps: int
    seconds: float


@dataclass(frozen=True)
class LayerDistances:
    """k-th neighbours of one layer from random walks.

    Attributes:
        layer: The layer's name.
        walk_swaps: (W, K-1, 3) the swaps each walk committed, in order.
        walk: (R,) which walk a row belongs to.
        distance: (R,) k: the row's network is the original plus the walk's first k-1 swaps plus
            the row's swap, at Hamming distance 2k.
        swaps: (R, 3) the row's last swap.
        accuracy: (R,) exact accuracy of the row's network.
        loss: (R,) exact mean loss.
    """

    layer: str
    walk_swaps: np.ndarray
    walk: np.ndarray
    distance: np.ndarray
    swaps: np.ndarray
    accuracy: np.ndarray
    loss: np.ndarray

    def network(self, net: TernaryNetwork, row: int) -> TernaryNetwork:
        """The network of row ``row`` (``net`` being the walks' origin), rebuilt swap by swap."""
        out = net.copy()
        for swap in self.walk_swaps[self.walk[row], : self.distance[row] - 1]:
            out.apply_swap(swap)
        out.apply_swap(self.swaps[row])
        return out


@dataclass
class NeighbourAnalysis:
    """The neighbourhood of one network, layer by layer.

    Attributes:
        base_accuracy: The network's own accuracy on the evaluation set.
        base_loss: Its mean loss.
        n_samples: Images (frames) in the evaluation set.
        layers: First-neighbour scores, one entry per analysed layer.
        distances: k-th neighbour scores, one entry per analysed layer (empty if not asked).
        meta: What produced it (task, split, network path, seed, ...), copied into the summary.
    """

    base_accuracy: float
    base_loss: float
    n_samples: int
    layers: list[LayerNeighbours]
    distances: list[LayerDistances] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def layer_summary(self, scores: LayerNeighbours) -> dict[str, Any]:
        """Fractions better / equal / worse than the original (by accuracy) and the spread."""
        delta = scores.accuracy - self.base_accuracy
        k = max(len(delta), 1)
        return {
            "layer": scores.layer,
            "neighbours": len(delta),
            "first_neighbours_in_layer": scores.n_swaps,
            "better": float(np.count_nonzero(delta > 0) / k),
            "equal": float(np.count_nonzero(delta == 0) / k),
            "worse": float(np.count_nonzero(delta < 0) / k),
            "lower_loss": float(np.count_nonzero(scores.loss < self.base_loss) / k),
            "mean_delta_accuracy": float(delta.mean()) if len(delta) else None,
            "median_delta_accuracy": float(np.median(delta)) if len(delta) else None,
            "min_delta_accuracy": float(delta.min()) if len(delta) else None,
            "max_delta_accuracy": float(delta.max()) if len(delta) else None,
            "seconds": scores.seconds,
            "neighbours_per_second": len(delta) / scores.seconds if scores.seconds else None,
        }

    def distance_summary(self, d: LayerDistances) -> list[dict[str, Any]]:
        """Per k: mean, quantiles and fraction better of the k-th neighbours' accuracy."""
        out = []
        for k in np.unique(d.distance):
            acc = d.accuracy[d.distance == k]
            out.append(
                {
                    "layer": d.layer,
                    "k": int(k),
                    "hamming": int(2 * k),
                    "neighbours": int(acc.size),
                    "mean_accuracy": float(acc.mean()),
                    "q10_accuracy": float(np.quantile(acc, 0.1)),
                    "q90_accuracy": float(np.quantile(acc, 0.9)),
                    "better": float(np.count_nonzero(acc > self.base_accuracy) / acc.size),
                }
            )
        return out

    def summary(self) -> dict[str, Any]:
        """Everything but the per-neighbour rows, as JSON-ready data."""
        return {
            **self.meta,
            "n_samples": self.n_samples,
            "base_accuracy": self.base_accuracy,
            "base_loss": self.base_loss,
            "layers": [self.layer_summary(s) for s in self.layers],
            "distances": [row for d in self.distances for row in self.distance_summary(d)],
        }

    def save(self, out_dir: str | Path) -> list[Path]:
        """Write ``neighbours.csv``, ``distances.csv``, ``walks.csv`` and ``summary.json``."""
        out = Path(out_dir)
        rows = (
            (s.layer, int(sw[1]), int(sw[2]), float(a), float(lo), float(a - self.base_accuracy))
            for s in self.layers
            for sw, a, lo in zip(s.swaps, s.accuracy, s.loss, strict=True)
        )
        cols = ("layer", "src", "dst", "accuracy", "loss", "delta_accuracy")
        paths = [write_csv(out / "neighbours.csv", cols, rows)]
        if self.distances:
            rows = (
                (d.layer, int(w), int(k), int(sw[1]), int(sw[2]), float(a), float(lo))
                for d in self.distances
                for w, k, sw, a, lo in zip(
                    d.walk, d.distance, d.swaps, d.accuracy, d.loss, strict=True
                )
            )
            cols = ("layer", "walk", "k", "src", "dst", "accuracy", "loss")
            paths.append(write_csv(out / "distances.csv", cols, rows))
            rows = (
                (d.layer, w, step + 1, int(sw[1]), int(sw[2]))
                for d in self.distances
                for w in range(len(d.walk_swaps))
                for step, sw in enumerate(d.walk_swaps[w])
            )
            paths.append(
                write_csv(out / "walks.csv", ("layer", "walk", "step", "src", "dst"), rows)
            )
        paths.append(write_json(out / "summary.json", self.summary()))
        return paths


def _score(
    ev: IncrementalEvaluator, swaps: np.ndarray, chunk: int
) -> tuple[np.ndarray, np.ndarray]:
    acc, loss = np.empty(len(swaps)), np.empty(len(swaps))
    for i in range(0, len(swaps), chunk):
        s = ev.score(swaps[i : i + chunk])
        acc[i : i + chunk], loss[i : i + chunk] = s.accuracy, s.loss
    return acc, loss


def walk_distances(
    ev: IncrementalEvaluator,
    net: TernaryNetwork,
    layer: str,
    *,
    max_distance: int,
    walks: int,
    per_step: int,
    rng: np.random.Generator,
) -> LayerDistances:
    """Score k-th neighbours of ``net`` in one layer along ``walks`` random walks.

    The evaluator is reset to ``net`` before each walk and after the last.
    """
    li = net.layer_index(layer)
    walk_swaps = np.zeros((walks, max_distance - 1, 3), dtype=np.int64)
    parts: list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]] = []
    for w in range(walks):
        ev.reset(net)
        touched: list[int] = []
        for k in range(1, max_distance + 1):
            swaps = distinct_swaps(ev.network, li, per_step, rng, exclude=touched)
            acc, loss = _score(ev, swaps, max(per_step, 1))
            parts.append((w, k, swaps, acc, loss))
            if k < max_distance:
                step = swaps[rng.integers(len(swaps))]
                ev.commit(step)
                walk_swaps[w, k - 1] = step
                touched += [int(step[1]), int(step[2])]
    ev.reset(net)
    return LayerDistances(
        layer,
        walk_swaps,
        np.concatenate([np.full(len(p[2]), p[0]) for p in parts]),
        np.concatenate([np.full(len(p[2]), p[1]) for p in parts]),
        np.concatenate([p[2] for p in parts]),
        np.concatenate([p[3] for p in parts]),
        np.concatenate([p[4] for p in parts]),
    )


def analyze_neighbours(
    net: TernaryNetwork,
    pixels: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    *,
    neighbours: Mapping[str, int] | int | None = None,
    layers: Sequence[str] | None = None,
    max_distance: int = 8,
    walks: int = 4,
    distance_neighbours: Mapping[str, int] | int | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
    log: Callable[[str], None] | None = None,
) -> NeighbourAnalysis:
    """Score random first neighbours of ``net`` layer by layer, and k-th neighbours by walks.

    Args:
        net: The network.
        pixels: The evaluation set's pixel codes.
        labels: Its labels.
        neighbours: First neighbours per layer: a number for every layer or ``{layer: n}``
            (default :data:`DEFAULT_NEIGHBOURS` of the network's task).
        layers: Layers to analyse (default: all).
        max_distance: Largest k of the k-th neighbours (``0`` or ``1``: no walks).
        walks: Random walks per layer.
        distance_neighbours: Swaps scored per walk step (default: the layer's ``neighbours``
            divided by :data:`DISTANCE_SHARE`, at least 1).
        seed: Seed of every draw.
        device: Where the evaluator runs.
        log: Called with a line of progress per layer.

    Raises:
        KeyError: A layer name the network does not have.
        ValueError: A count below 1.
    """
    names = list(layers) if layers is not None else list(net.layer_names)
    for name in names:
        net.layer_index(name)
    counts = per_layer(neighbours, names, DEFAULT_NEIGHBOURS.get(net.arch.name, {}), 1000)
    per_step = per_layer(
        distance_neighbours,
        names,
        {n: max(1, counts[n] // DISTANCE_SHARE) for n in names},
        1,
    )
    rng = np.random.default_rng(seed)
    ev = IncrementalEvaluator(net, pixels, labels, device=device)
    base_acc, base_loss = ev.accuracy, ev.loss
    result = NeighbourAnalysis(base_acc, base_loss, ev.n, [])
    for name in names:
        t0 = time.perf_counter()
        swaps = distinct_swaps(net, name, counts[name], rng)
        acc, loss = _score(ev, swaps, 4096)
        seconds = time.perf_counter() - t0
        result.layers.append(LayerNeighbours(name, swaps, acc, loss, net.n_swaps(name), seconds))
        if log:
            log(
                f"layer {name}: {len(swaps)} first neighbours in {seconds:.1f} s, "
                f"{np.count_nonzero(acc > base_acc) / len(acc):.1%} better than the original"
            )
        if max_distance > 1:
            t0 = time.perf_counter()
            result.distances.append(
                walk_distances(
                    ev, net, name, max_distance=max_distance, walks=walks,
                    per_step=per_step[name], rng=rng,
                )
            )  # fmt: skip
            if log:
                log(
                    f"layer {name}: k-th neighbours, k = 1..{max_distance} on {walks} walks, "
                    f"in {time.perf_counter() - t0:.1f} s"
                )
    return result


def per_layer(
    given: Mapping[str, int] | int | None,
    names: Sequence[str],
    defaults: Mapping[str, int],
    fallback: int,
) -> dict[str, int]:
    """A count per layer from one number, a partial mapping or nothing (the defaults)."""
    if isinstance(given, (int, np.integer)):
        out = dict.fromkeys(names, int(given))
    else:
        extra = dict(given or {})
        unknown = set(extra) - set(names)
        if unknown:
            raise KeyError(f"counts name layers {sorted(unknown)} that are not analysed: {names}")
        out = {n: int(extra.get(n, defaults.get(n, fallback))) for n in names}
    bad = {n: v for n, v in out.items() if v < 1}
    if bad:
        raise ValueError(f"neighbour counts must be >= 1, got {bad}")
    return out
