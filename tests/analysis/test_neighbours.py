"""Neighbour analyses: every written score equals a from-scratch evaluation (``==``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aann_env.analysis import analyze_neighbours, distinct_swaps
from aann_env.analysis.records import read_csv
from aann_env.core.architecture import CAR, MNIST
from aann_env.core.forward import evaluate
from aann_env.core.network import random_network


def _data(arch, n: int, seed: int):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n, *arch.input_shape[1:]), dtype=np.uint8)
    pixels[rng.random(pixels.shape) < 0.5] = 0
    return pixels, rng.integers(0, arch.n_classes, size=n)


def test_distinct_swaps_are_legal_distinct_and_avoid_excluded_positions():
    net = random_network(MNIST, 0.8, 0)
    rng = np.random.default_rng(1)
    swaps = distinct_swaps(net, "1.0", 500, rng, exclude=[0, 1, 2, 3])
    assert len({tuple(s) for s in swaps}) == 500
    assert all(net.is_legal(s) for s in swaps)
    assert not np.isin(swaps[:, 1:], [0, 1, 2, 3]).any()
    # A layer with fewer legal swaps than asked gives all of them, once each.
    every = distinct_swaps(net, 0, 10**9, rng)
    assert len(every) == net.n_swaps(0) == len({tuple(s) for s in every})


@pytest.mark.parametrize(("arch", "offset"), [(MNIST, 0.0), (CAR, 0.5)], ids=["mnist", "car"])
def test_written_scores_equal_from_scratch_evaluations(arch, offset, tmp_path):
    pixels, labels = _data(arch, 40, seed=2)
    net = random_network(arch, 0.8, 3, offset=offset)
    layers = [arch.layer_names[0], arch.layer_names[-1]]
    result = analyze_neighbours(
        net, pixels, labels, neighbours=6, layers=layers, max_distance=3, walks=2,
        distance_neighbours=2, seed=4,
    )  # fmt: skip
    result.save(tmp_path)
    base = evaluate(net, pixels, labels)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["base_accuracy"] == base.accuracy and summary["base_loss"] == base.loss
    rows = read_csv(tmp_path / "neighbours.csv")
    assert [r["layer"] for r in rows] == [layers[0]] * 6 + [layers[1]] * 6
    for r in rows:
        n = net.copy()
        n.apply_swap((n.layer_index(r["layer"]), int(r["src"]), int(r["dst"])))
        ev = evaluate(n, pixels, labels)
        assert (float(r["accuracy"]), float(r["loss"])) == (ev.accuracy, ev.loss)
    # k-th neighbours: rebuilt from walks.csv, at Hamming distance 2k, scores exact.
    steps = read_csv(tmp_path / "walks.csv")
    dist = read_csv(tmp_path / "distances.csv")
    assert sorted({int(r["k"]) for r in dist}) == [1, 2, 3]
    for r in dist:
        n = net.copy()
        li = n.layer_index(r["layer"])
        walk = [s for s in steps if s["layer"] == r["layer"] and s["walk"] == r["walk"]]
        for s in sorted(walk, key=lambda s: int(s["step"]))[: int(r["k"]) - 1]:
            n.apply_swap((li, int(s["src"]), int(s["dst"])))
        n.apply_swap((li, int(r["src"]), int(r["dst"])))
        assert n.hamming(net) == 2 * int(r["k"])
        ev = evaluate(n, pixels, labels)
        assert (float(r["accuracy"]), float(r["loss"])) == (ev.accuracy, ev.loss)


def test_fractions_better_equal_worse_count_the_neighbours():
    pixels, labels = _data(MNIST, 30, seed=5)
    net = random_network(MNIST, 0.8, 6)
    result = analyze_neighbours(net, pixels, labels, neighbours=50, layers=["fc"], max_distance=0)
    s = result.layer_summary(result.layers[0])
    acc = result.layers[0].accuracy
    assert s["better"] == np.mean(acc > result.base_accuracy)
    assert s["worse"] == np.mean(acc < result.base_accuracy)
    assert s["better"] + s["equal"] + s["worse"] == pytest.approx(1.0)
    assert result.distances == []


def test_bad_counts_and_layers_are_refused():
    pixels, labels = _data(MNIST, 8, seed=7)
    net = random_network(MNIST, 0.8, 8)
    with pytest.raises(KeyError, match="no layer"):
        analyze_neighbours(net, pixels, labels, layers=["fc9"])
    with pytest.raises(KeyError, match="not analysed"):
        analyze_neighbours(net, pixels, labels, neighbours={"fc9": 3}, layers=["fc"])
    with pytest.raises(ValueError, match=">= 1"):
        analyze_neighbours(net, pixels, labels, neighbours=0, layers=["fc"])
