"""t-SNE maps: the closed-form weight distances and exact scores of the mapped neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from aann_env.analysis import distinct_swaps, tsne_neighbours
from aann_env.analysis.tsne import weight_distances
from aann_env.core.architecture import MNIST
from aann_env.core.forward import evaluate
from aann_env.core.network import random_network


def test_weight_distances_equal_distances_of_the_full_weight_vectors():
    net = random_network(MNIST, 0.8, 0)
    flat = net.flat("1.0")
    nz, z = np.flatnonzero(flat), np.flatnonzero(flat == 0)
    opposite = nz[np.flatnonzero(flat[nz] != flat[nz[0]])[0]]
    li = net.layer_index("1.0")
    # Shared source, shared destination with the same and with opposite signs, nothing shared.
    swaps = np.array(
        [[li, nz[0], z[0]], [li, nz[0], z[1]], [li, nz[1], z[0]], [li, opposite, z[0]],
         [li, nz[2], z[2]]]
    )  # fmt: skip
    swaps = np.vstack([swaps, distinct_swaps(net, "1.0", 20, np.random.default_rng(1))])
    vectors = []
    for s in swaps:
        n = net.copy()
        n.apply_swap(s)
        vectors.append(n.flat("1.0").astype(np.float64))
    v = np.array(vectors)
    brute = np.sqrt(((v[:, None, :] - v[None, :, :]) ** 2).sum(-1))
    assert np.array_equal(weight_distances(net, swaps), brute)
    assert set(np.round(brute[:5, :5] ** 2).astype(int).ravel()) >= {0, 2, 4, 6}


@pytest.mark.parametrize("representation", ["weights", "logits"])
def test_map_scores_are_exact(representation):
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, size=(24, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=24)
    net = random_network(MNIST, 0.8, 3)
    nmap = tsne_neighbours(
        net, pixels, labels, "2.0", neighbours=12, representation=representation, probe=8
    )
    assert nmap.xy.shape == (12, 2) and np.isfinite(nmap.xy).all()
    for s, acc, loss in zip(nmap.swaps[:4], nmap.accuracy, nmap.loss, strict=False):
        n = net.copy()
        n.apply_swap(s)
        ev = evaluate(n, pixels, labels)
        assert (acc, loss) == (ev.accuracy, ev.loss)
    with pytest.raises(ValueError, match="representation"):
        tsne_neighbours(net, pixels, labels, "fc", representation="pixels")
