from __future__ import annotations

import numpy as np
import pytest
import torch

from aann_env.core.architecture import CAR, MNIST
from aann_env.core.forward import evaluate
from aann_env.core.network import random_network
from aann_env.errors import SwapError
from aann_env.evaluation.incremental import IncrementalEvaluator


def _data(arch, n: int, seed: int):
    rng = np.random.default_rng(seed)
    # Blank borders, like real digits and frames: many exact zeros exercise the sparse paths.
    pixels = rng.integers(0, 256, size=(n, *arch.input_shape[1:]), dtype=np.uint8)
    pixels[:, :3] = 0
    pixels[rng.random(pixels.shape) < 0.5] = 0
    return pixels, rng.integers(0, arch.n_classes, size=n)


def _references(net, pixels, labels, swaps):
    """A from-scratch evaluation of the network after each swap."""
    refs = []
    for swap in swaps:
        other = net.copy()
        other.apply_swap(swap)
        refs.append(evaluate(other, pixels, labels, keep_logits=True))
    return refs


def _assert_matches_reference(net, pixels, labels, swaps, *all_scores):
    """Each of ``all_scores`` (scorings of ``swaps``) equals the from-scratch evaluations."""
    refs = _references(net, pixels, labels, swaps)
    for k, (swap, ref) in enumerate(zip(swaps, refs, strict=True)):
        for i, scores in enumerate(all_scores):
            assert scores.accuracy[k] == ref.accuracy, f"accuracy of swap {swap} (scoring {i})"
            assert scores.loss[k] == ref.loss, f"loss of swap {swap} (scoring {i})"
            if scores.logits is not None:
                assert torch.equal(scores.logits[k], ref.logits), f"logits of swap {swap} ({i})"


def _both_scorers(net, pixels, labels, swaps):
    """Scores of ``swaps`` by the numba kernels and by torch, each without and with logits,
    after checking that each evaluator starts at the from-scratch figures."""
    ref = evaluate(net, pixels, labels, keep_logits=True)
    all_scores = []
    for use_kernels in (True, False):
        ev = IncrementalEvaluator(net, pixels, labels, use_kernels=use_kernels)
        assert ev.accuracy == ref.accuracy and ev.loss == ref.loss, f"use_kernels={use_kernels}"
        assert torch.equal(ev.logits, ref.logits), f"use_kernels={use_kernels}"
        all_scores += [ev.score(swaps), ev.score(swaps, return_logits=True)]
        assert ev.network == net  # scoring changes nothing
    return all_scores


@pytest.mark.parametrize("arch", [MNIST, CAR], ids=lambda a: a.name)
@pytest.mark.parametrize("sparsity", [0.5, 0.8, 0.95])
def test_scores_equal_a_from_scratch_forward_bit_for_bit(arch, sparsity):
    """Kernels and torch, with and without logits, against one from-scratch pass per swap."""
    pixels, labels = _data(arch, 96, seed=1)
    net = random_network(arch, sparsity, 3)
    rng = np.random.default_rng(2)
    swaps = np.concatenate([net.sample_swaps(8, rng, layer=layer) for layer in range(net.n_layers)])
    rng.shuffle(swaps)
    _assert_matches_reference(
        net, pixels, labels, swaps, *_both_scorers(net, pixels, labels, swaps)
    )


@pytest.mark.parametrize("arch", [MNIST, CAR], ids=lambda a: a.name)
def test_swaps_within_one_unit_and_tiny_chunks(arch):
    """Both weights of a swap feeding the same unit, and chunking down to a few samples."""
    pixels, labels = _data(arch, 50, seed=4)
    net = random_network(arch, 0.8, 5)
    ev = IncrementalEvaluator(net, pixels, labels, memory_budget=2**16)
    swaps = []
    for layer in range(net.n_layers):
        w = net.flat(layer).reshape(arch.layers[layer].out_features, -1)
        unit = int(np.flatnonzero((w != 0).any(axis=1) & (w == 0).any(axis=1))[0])
        src = unit * w.shape[1] + int(np.flatnonzero(w[unit])[0])
        dst = unit * w.shape[1] + int(np.flatnonzero(w[unit] == 0)[0])
        swaps.append((layer, src, dst))
    _assert_matches_reference(net, pixels, labels, swaps, ev.score(swaps, return_logits=True))


@pytest.mark.parametrize("arch", [MNIST, CAR], ids=lambda a: a.name)
def test_long_chains_of_commits_do_not_drift(arch):
    pixels, labels = _data(arch, 64, seed=6)
    net = random_network(arch, 0.8, 7)
    ev = IncrementalEvaluator(net, pixels, labels)
    rng = np.random.default_rng(8)
    for step in range(150):
        swap = ev.network.sample_swaps(1, rng, layer=step % net.n_layers)[0]
        predicted = ev.score([swap])
        accuracy, loss = ev.commit(swap)
        assert (accuracy, loss) == (predicted.accuracy[0], predicted.loss[0])
    ref = evaluate(ev.network, pixels, labels, keep_logits=True)
    assert torch.equal(ev.logits, ref.logits)
    assert (ev.accuracy, ev.loss) == (ref.accuracy, ref.loss)
    assert ev.network.family_signature() == net.family_signature()
    assert ev.network.hamming(net) > 0


def test_illegal_swaps_raise_and_leave_the_state_alone():
    pixels, labels = _data(MNIST, 32, seed=9)
    net = random_network(MNIST, 0.8, 10)
    ev = IncrementalEvaluator(net, pixels, labels)
    before = ev.logits.clone()
    flat = net.flat(2)
    zero = int(np.flatnonzero(flat == 0)[0])
    with pytest.raises(SwapError):
        ev.score([(2, zero, zero)])
    with pytest.raises(SwapError):
        ev.commit((2, zero, zero))
    with pytest.raises(SwapError):
        ev.commit((5, 0, 1))
    assert torch.equal(ev.logits, before) and ev.network == net


def test_reset_and_input_validation():
    pixels, labels = _data(MNIST, 32, seed=11)
    net_a, net_b = random_network(MNIST, 0.8, 12), random_network(MNIST, 0.8, 13)
    ev = IncrementalEvaluator(net_a, pixels, labels)
    ev.reset(net_b)
    assert ev.network == net_b and ev.loss == evaluate(net_b, pixels, labels).loss
    with pytest.raises(ValueError, match="another architecture"):
        ev.reset(random_network(CAR, 0.8, 0))
    with pytest.raises(ValueError, match="empty"):
        IncrementalEvaluator(net_a, pixels[:0], labels[:0])
    with pytest.raises(ValueError, match="labels"):
        IncrementalEvaluator(net_a, pixels[:5], labels[:6])
    with pytest.raises(ValueError, match="CPU only"):
        IncrementalEvaluator(net_a, pixels, labels, device="meta", use_kernels=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu_bit_for_bit():
    pixels, labels = _data(MNIST, 200, seed=14)
    net = random_network(MNIST, 0.8, 15)
    rng = np.random.default_rng(16)
    swaps = np.concatenate([net.sample_swaps(6, rng, layer=layer) for layer in range(3)])
    cpu = IncrementalEvaluator(net, pixels, labels).score(swaps)
    gpu_ev = IncrementalEvaluator(net, pixels, labels, device="cuda")
    gpu = gpu_ev.score(swaps)
    assert np.array_equal(cpu.accuracy, gpu.accuracy) and np.array_equal(cpu.loss, gpu.loss)
    gpu_ev.commit(swaps[0])
    assert torch.equal(
        gpu_ev.logits.cpu(), evaluate(gpu_ev.network, pixels, labels, keep_logits=True).logits
    )


def test_car_task_offset_stays_exact():
    """The car task feeds ``code/256 - 0.5``: scores still equal a from-scratch forward pass."""
    pixels, labels = _data(CAR, 64, seed=7)
    net = random_network(CAR, 0.8, 8, offset=0.5)
    rng = np.random.default_rng(9)
    swaps = np.concatenate([net.sample_swaps(6, rng, layer=layer) for layer in range(net.n_layers)])
    _assert_matches_reference(
        net, pixels, labels, swaps, *_both_scorers(net, pixels, labels, swaps)
    )


@pytest.mark.parametrize("use_kernels", [True, False], ids=["kernels", "torch"])
def test_no_attribute_is_added_after_init(use_kernels):
    pixels, labels = _data(CAR, 24, seed=17)
    net = random_network(CAR, 0.8, 18)
    ev = IncrementalEvaluator(net, pixels, labels, use_kernels=use_kernels)
    names = set(vars(ev))
    rng = np.random.default_rng(19)
    swaps = np.concatenate([net.sample_swaps(2, rng, layer=layer) for layer in range(net.n_layers)])
    ev.score(swaps)
    ev.score(swaps, return_logits=True)
    for swap in swaps[::2]:
        ev.commit(swap)
    ev.reset(random_network(CAR, 0.8, 20))
    assert set(vars(ev)) == names
