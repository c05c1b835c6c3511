from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from aann_env.core.architecture import CAR, MNIST
from aann_env.core.loss import loss_shift
from aann_env.core.network import random_network
from aann_env.evaluation.caches import build_caches
from aann_env.evaluation.kernels import TILE
from aann_env.evaluation.output_layer import (
    OUTPUT_BATCH,
    KernelOutputScorer,
    TorchOutputScorer,
    output_layer_logits,
)


def _setup(arch, n: int, seed: int, *, max_at_zero: bool):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n, *arch.input_shape[1:]), dtype=np.uint8)
    pixels[rng.random(pixels.shape) < 0.5] = 0
    labels = torch.as_tensor(rng.integers(0, arch.n_classes, size=n), dtype=torch.int64)
    net = random_network(arch, 0.8, seed + 1)
    caches = build_caches(net, pixels, torch.device("cpu"))
    if max_at_zero:
        # Every sample's largest logit at exactly 0 (a difference of values on one grid is
        # exact): most swaps then move the loss shift, the rare path of both scorers.
        z = caches.preacts[-1]
        z -= z.max(dim=0).values
    swaps = net.sample_swaps(2 * OUTPUT_BATCH + 7, rng, layer=net.n_layers - 1)
    w = net.flat(net.n_layers - 1).reshape(arch.layers[-1].weight_shape)
    unit = int(np.flatnonzero((w != 0).any(axis=1) & (w == 0).any(axis=1))[0])
    src = unit * w.shape[1] + int(np.flatnonzero(w[unit])[0])
    dst = unit * w.shape[1] + int(np.flatnonzero(w[unit] == 0)[0])
    swaps[0] = (net.n_layers - 1, src, dst)  # both weights feed one class
    return caches, labels, swaps


@pytest.mark.parametrize("arch", [MNIST, CAR], ids=lambda a: a.name)
@pytest.mark.parametrize("max_at_zero", [False, True], ids=["forward", "max-at-zero"])
def test_torch_and_kernel_scorers_agree_bit_for_bit(arch, max_at_zero):
    caches, labels, swaps = _setup(arch, 72, seed=20, max_at_zero=max_at_zero)
    torch_path = TorchOutputScorer(labels, arch.n_classes, memory_budget=2**16)  # many chunks
    kernel_path = KernelOutputScorer(labels, arch.n_classes)
    assert torch_path.rebuild(caches) == kernel_path.rebuild(caches)
    ours, theirs = torch_path.tables(caches), kernel_path.tables(caches)
    for field in dataclasses.fields(ours):
        assert torch.equal(getattr(ours, field.name), getattr(theirs, field.name)), field.name

    t_correct, t_loss = torch_path.score_swaps(caches, swaps)
    k_correct, k_loss = kernel_path.score_swaps(caches, swaps)
    assert np.array_equal(t_correct, k_correct) and np.array_equal(t_loss, k_loss)
    assert len(np.unique(t_loss)) > 1  # the swaps do differ

    # Both equal scoring each swapped network's whole logits, with either scorer.
    logits = output_layer_logits(caches, swaps, 0, len(labels))  # (K, C, N)
    if max_at_zero:
        assert bool((loss_shift(logits.double().max(dim=1).values) != ours.shift).any())
    for k in range(len(swaps)):
        expected = (int(t_correct[k]), float(t_loss[k]))
        assert torch_path.row_scores(logits[k], 0, len(labels)) == expected
        assert kernel_path.row_scores(logits[k], 0, len(labels)) == expected
    assert torch_path.row_scores(logits[0, :, 9:50], 9, 50) == kernel_path.row_scores(
        logits[0, :, 9:50], 9, 50
    )


@pytest.mark.parametrize("max_at_zero", [False, True], ids=["forward", "max-at-zero"])
def test_kernel_tiles_agree_with_the_torch_scorer(max_at_zero):
    caches, labels, swaps = _setup(MNIST, 2 * TILE + 40, seed=21, max_at_zero=max_at_zero)
    torch_path = TorchOutputScorer(labels, MNIST.n_classes, memory_budget=2**20)
    kernel_path = KernelOutputScorer(labels, MNIST.n_classes)
    assert torch_path.rebuild(caches) == kernel_path.rebuild(caches)
    t_correct, t_loss = torch_path.score_swaps(caches, swaps)
    k_correct, k_loss = kernel_path.score_swaps(caches, swaps)
    assert np.array_equal(t_correct, k_correct) and np.array_equal(t_loss, k_loss)


@pytest.mark.parametrize("scorer", ["torch", "kernel"])
def test_scorers_add_no_attribute_after_init(scorer):
    caches, labels, swaps = _setup(MNIST, 16, seed=30, max_at_zero=False)
    path = (
        TorchOutputScorer(labels, MNIST.n_classes, memory_budget=2**20)
        if scorer == "torch"
        else KernelOutputScorer(labels, MNIST.n_classes)
    )
    names = set(vars(path))
    path.rebuild(caches)
    path.score_swaps(caches, swaps[:5])
    path.tables(caches)
    path.row_scores(caches.preacts[-1] * caches.scales[-1], 0, len(labels))
    assert set(vars(path)) == names


def test_kernel_scorer_refuses_other_devices():
    with pytest.raises(ValueError, match="CPU only"):
        KernelOutputScorer(torch.zeros(3, dtype=torch.int64, device="meta"), 10)
