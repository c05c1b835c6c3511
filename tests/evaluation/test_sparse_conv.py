"""The sparse conv kernels against a from-scratch forward pass, compared with ``==``."""

from __future__ import annotations

import numpy as np
import pytest

from aann_env.core.architecture import CAR, MNIST, Architecture, LayerSpec
from aann_env.core.forward import evaluate
from aann_env.core.network import random_network
from aann_env.evaluation.incremental import IncrementalEvaluator
from aann_env.evaluation.sparse_conv import SPARSE_CHUNK, SparseConvScorer


def _data(arch, n: int, seed: int):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n, *arch.input_shape[1:]), dtype=np.uint8)
    pixels[:, :4] = 0  # blank borders: taps that are zero, cells that do not change
    pixels[rng.random(pixels.shape) < 0.6] = 0
    return pixels, rng.integers(0, arch.n_classes, size=n)


def _same_unit_swap(net, layer: int, rng) -> tuple[int, int, int]:
    """A swap whose two weights feed one output channel."""
    w = net.flat(layer).reshape(net.arch.layers[layer].out_features, -1)
    unit = int(rng.choice(np.flatnonzero((w != 0).any(axis=1) & (w == 0).any(axis=1))))
    src = unit * w.shape[1] + int(rng.choice(np.flatnonzero(w[unit])))
    dst = unit * w.shape[1] + int(rng.choice(np.flatnonzero(w[unit] == 0)))
    return layer, src, dst


@pytest.mark.parametrize(
    ("arch", "offset"), [(MNIST, 0.0), (CAR, 0.5)], ids=["mnist", "car-offset"]
)
def test_conv_swaps_equal_a_from_scratch_forward(arch, offset):
    pixels, labels = _data(arch, SPARSE_CHUNK + 24, seed=1)  # two chunks of samples
    net = random_network(arch, 0.8, 2, offset=offset)
    ev = IncrementalEvaluator(net, pixels, labels)
    rng = np.random.default_rng(3)
    for layer in (0, 1):
        swaps = np.concatenate(
            [net.sample_swaps(6, rng, layer=layer), [_same_unit_swap(net, layer, rng)]]
        )
        scores = ev.score(swaps)
        for k, swap in enumerate(swaps):
            other = net.copy()
            other.apply_swap(swap)
            ref = evaluate(other, pixels, labels)
            assert (scores.n_correct[k], scores.loss[k]) == (ref.n_correct, ref.loss), swap
        assert len(np.unique(scores.loss)) > 1  # the swaps do differ


@pytest.mark.parametrize("arch", [MNIST, CAR], ids=lambda a: a.name)
def test_conv_swaps_stay_exact_after_chains_of_commits(arch):
    pixels, labels = _data(arch, 80, seed=4)
    ev = IncrementalEvaluator(random_network(arch, 0.9, 5), pixels, labels)
    rng = np.random.default_rng(6)
    for step in range(12):
        swap = ev.network.sample_swaps(1, rng, layer=step % len(arch.layers))[0]
        ev.commit(swap)
    net = ev.network
    swaps = np.concatenate([net.sample_swaps(4, rng, layer=layer) for layer in (0, 1)])
    scores = ev.score(swaps)
    for k, swap in enumerate(swaps):
        other = net.copy()
        other.apply_swap(swap)
        ref = evaluate(other, pixels, labels)
        assert (scores.n_correct[k], scores.loss[k]) == (ref.n_correct, ref.loss), swap


def test_supports_only_pooled_convs_before_linear_layers():
    unpooled = Architecture(
        "unpooled",
        (1, 8, 8),
        (LayerSpec("c", "conv", 1, 2, kernel_size=3, padding=1), LayerSpec("fc", "linear", 128, 3)),
    )
    assert not SparseConvScorer(unpooled.layers).supports(0)
    assert [SparseConvScorer(MNIST.layers).supports(m) for m in range(3)] == [True, True, False]
    assert [SparseConvScorer(CAR.layers).supports(m) for m in range(4)] == [
        True,
        True,
        False,
        False,
    ]
    pixels, labels = _data(unpooled, 40, seed=7)
    net = random_network(unpooled, 0.5, 8)
    ev = IncrementalEvaluator(net, pixels, labels)  # conv swaps take the torch path here
    swaps = net.sample_swaps(4, np.random.default_rng(9), layer=0)
    scores = ev.score(swaps)
    for k, swap in enumerate(swaps):
        other = net.copy()
        other.apply_swap(swap)
        assert scores.loss[k] == evaluate(other, pixels, labels).loss
