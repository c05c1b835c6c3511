"""t-SNE maps of first neighbours, with their exact accuracy as height (the paper's Figs. 4 and 10).

Two representations of a first neighbour are offered:

- ``"weights"`` (the paper's): the neighbour's weights of the swapped layer, a vector in
  {-1, 0, +1}^n. Every neighbour differs from the original in two positions, so only the change
  matters: ``-v`` at ``src`` and ``+v`` at ``dst``. The squared Euclidean distance of two
  neighbours is then ``4 - 2 * ([same src] + [same dst] * v_i * v_j)``: 0 for the same swap, 2 when
  they move the same weight or fill the same position with the same sign, 4 when they share
  nothing, 6 when they fill one position with opposite signs. The map is exact from those
  distances (``metric="precomputed"`` given the squared distances, which is what scikit-learn's
  t-SNE computes itself for ``metric="euclidean"``, so the map is the t-SNE of the full weight
  vectors without building them); clusters are swaps that share a source weight or a
  destination.
- ``"logits"``: what the neighbour *does*: the change of its logits from the original's on a fixed
  probe set of images (flattened, ``probe x classes`` numbers), reduced to 50 dimensions by PCA
  before t-SNE. Neighbours that are near in this map change the network's outputs alike, whatever
  weights they move.

The implementation is scikit-learn's :class:`sklearn.manifold.TSNE`: well kept, BSD-licensed,
deterministic for a given ``random_state``, with a precomputed-distance mode the weights
representation needs; at the few thousand points these maps hold, openTSNE's faster gradient
(for hundreds of thousands of points) buys nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aann_env.analysis.neighbours import distinct_swaps
from aann_env.analysis.records import write_csv, write_json
from aann_env.core.network import TernaryNetwork
from aann_env.evaluation.incremental import IncrementalEvaluator

REPRESENTATIONS = ("weights", "logits")
"""The neighbour representations :func:`tsne_neighbours` knows."""


@dataclass
class NeighbourMap:
    """A 2-D t-SNE map of first neighbours of one layer.

    Attributes:
        layer: The layer's name.
        representation: ``"weights"`` or ``"logits"`` (see the module docstring).
        swaps: (K, 3) the neighbours' swaps.
        xy: (K, 2) t-SNE coordinates.
        accuracy: (K,) exact accuracy of each neighbour on the evaluation set.
        loss: (K,) exact mean loss.
        base_accuracy: The original network's accuracy.
        meta: What produced it, copied into the summary.
    """

    layer: str
    representation: str
    swaps: np.ndarray
    xy: np.ndarray
    accuracy: np.ndarray
    loss: np.ndarray
    base_accuracy: float
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, out_dir: str | Path) -> list[Path]:
        """Write ``tsne-LAYER.csv`` (one row per neighbour) and ``tsne-LAYER.json``."""
        out = Path(out_dir)
        rows = (
            (int(s[1]), int(s[2]), float(x), float(y), float(a), float(lo))
            for s, (x, y), a, lo in zip(self.swaps, self.xy, self.accuracy, self.loss, strict=True)
        )
        cols = ("src", "dst", "tsne_x", "tsne_y", "accuracy", "loss")
        summary = {
            **self.meta,
            "layer": self.layer,
            "representation": self.representation,
            "neighbours": len(self.swaps),
            "base_accuracy": self.base_accuracy,
            "better": float(np.mean(self.accuracy > self.base_accuracy)),
        }
        return [
            write_csv(out / f"tsne-{self.layer}.csv", cols, rows),
            write_json(out / f"tsne-{self.layer}.json", summary),
        ]


def weight_distances(net: TernaryNetwork, swaps: np.ndarray) -> np.ndarray:
    """(K, K) Euclidean distances of the neighbours' weight vectors (one layer's swaps).

    Uses the closed form of the module docstring; equal to the distances of the full vectors.
    """
    flat = net.flat(int(swaps[0, 0])).astype(np.int64)
    src, dst, v = swaps[:, 1], swaps[:, 2], flat[swaps[:, 1]]
    dot = (src[:, None] == src[None, :]).astype(np.int64)
    dot += (dst[:, None] == dst[None, :]) * (v[:, None] * v[None, :])
    return np.sqrt(np.maximum(4 - 2 * dot, 0).astype(np.float64))


def _logit_features(ev: IncrementalEvaluator, swaps: np.ndarray, chunk: int = 64) -> np.ndarray:
    """(K, probe * C) change of each neighbour's logits from the original's, on ``ev``'s set."""
    base = ev.logits.cpu()
    out = np.empty((len(swaps), base.numel()), dtype=np.float32)
    for i in range(0, len(swaps), chunk):
        logits = ev.score(swaps[i : i + chunk], return_logits=True).logits
        assert logits is not None
        out[i : i + chunk] = (logits.cpu() - base).reshape(len(logits), -1).numpy()
    return out


def embed(
    features: np.ndarray | None,
    distances: np.ndarray | None,
    *,
    seed: int,
    perplexity: float = 30.0,
) -> np.ndarray:
    """t-SNE of either feature rows (PCA to 50 dimensions first) or a Euclidean distance matrix."""
    from sklearn.decomposition import PCA  # heavy imports, only when a map is made
    from sklearn.manifold import TSNE

    n = len(features if features is not None else distances)  # type: ignore[arg-type]
    perplexity = min(perplexity, max(1.0, (n - 1) / 3))
    if distances is not None:
        tsne = TSNE(
            2, perplexity=perplexity, metric="precomputed", init="random", random_state=seed
        )
        return tsne.fit_transform(distances**2)  # squared, as TSNE squares euclidean ones
    assert features is not None
    if features.shape[1] > 50 and n > 50:
        features = PCA(50, random_state=seed).fit_transform(features)
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)


def tsne_neighbours(
    net: TernaryNetwork,
    pixels: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    layer: str,
    *,
    neighbours: int = 2000,
    representation: str = "weights",
    probe: int = 500,
    perplexity: float = 30.0,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> NeighbourMap:
    """Score ``neighbours`` distinct random first neighbours of ``layer`` and map them with t-SNE.

    Args:
        net: The network.
        pixels: The evaluation set's pixel codes (scores are exact on all of it).
        labels: Its labels.
        layer: The layer whose swaps make the neighbours.
        neighbours: How many first neighbours (at least 5).
        representation: ``"weights"`` or ``"logits"`` (module docstring).
        probe: With ``"logits"``: the first ``probe`` images of the set are the probe set.
        perplexity: t-SNE's perplexity (lowered for small maps).
        seed: Seed of the draws and of t-SNE.
        device: Where the evaluator runs.

    Raises:
        ValueError: An unknown representation or fewer than 5 neighbours.
    """
    if representation not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {representation!r}")
    if neighbours < 5:
        raise ValueError(f"a t-SNE map needs at least 5 neighbours, got {neighbours}")
    rng = np.random.default_rng(seed)
    swaps = distinct_swaps(net, layer, neighbours, rng)
    ev = IncrementalEvaluator(net, pixels, labels, device=device)
    base = ev.accuracy
    acc, loss = np.empty(len(swaps)), np.empty(len(swaps))
    for i in range(0, len(swaps), 4096):
        s = ev.score(swaps[i : i + 4096])
        acc[i : i + 4096], loss[i : i + 4096] = s.accuracy, s.loss
    if representation == "weights":
        xy = embed(None, weight_distances(net, swaps), seed=seed, perplexity=perplexity)
    else:
        n_probe = min(int(probe), len(labels))
        probe_ev = IncrementalEvaluator(net, pixels[:n_probe], labels[:n_probe], device=device)
        xy = embed(_logit_features(probe_ev, swaps), None, seed=seed, perplexity=perplexity)
    meta = {"seed": seed, "perplexity": perplexity, "n_samples": ev.n}
    if representation == "logits":
        meta["probe_images"] = min(int(probe), len(labels))
    return NeighbourMap(layer, representation, swaps, np.asarray(xy), acc, loss, base, meta)
