from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aann_env.core.architecture import CAR, MNIST
from aann_env.core.forward import evaluate, forward, to_input, weight_tensors
from aann_env.core.loss import LOSS_GRID, correct, per_sample_loss
from aann_env.core.network import random_network


def _pixels(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


@pytest.mark.parametrize(("arch", "n_classes"), [(MNIST, 10), (CAR, 3)], ids=["mnist", "car"])
def test_forward_shapes(arch, n_classes):
    net = random_network(arch, 0.8, 0)
    x = to_input(_pixels(7, arch.input_shape[1:]), net.offset)
    assert x.shape == (7, *arch.input_shape) and x.dtype == torch.float32
    logits = forward(net, x)
    assert logits.shape == (7, n_classes) and logits.dtype == torch.float32
    assert arch.activation_shapes()[-2] in [(32, 7, 7), (100,)]


@pytest.mark.parametrize("arch", [MNIST, CAR], ids=lambda a: a.name)
@pytest.mark.parametrize("sparsity", [0.0, 0.8, 0.95])
def test_forward_is_exact_against_float64(arch, sparsity):
    """float32 and float64 give identical logits: the arithmetic is exact, as designed."""
    net = random_network(arch, sparsity, 1)
    pixels = _pixels(16, arch.input_shape[1:], seed=2)
    logits32 = forward(net, to_input(pixels, net.offset))
    a = torch.as_tensor(pixels).unsqueeze(1).double() / 256 - net.offset
    ws = [w.double() for w in weight_tensors(net)]
    for i, spec in enumerate(arch.layers):
        if spec.kind == "conv":
            z = F.conv2d(a, ws[i], stride=spec.stride, padding=spec.padding)
        else:
            z = a.flatten(1) @ ws[i].T
        if i < len(arch.layers) - 1:
            a = F.hardtanh(z * net.scales[spec.name])
            a = F.max_pool2d(a, 2) if spec.pool else a
        else:
            a = z * net.scales[spec.name]
    assert torch.equal(logits32.double(), a)


def test_batching_does_not_change_results():
    net = random_network(MNIST, 0.8, 3)
    pixels, labels = _pixels(130, (28, 28)), np.arange(130) % 10
    a = evaluate(net, pixels, labels, batch_size=130, keep_logits=True)
    b = evaluate(net, pixels, labels, batch_size=17, keep_logits=True)
    assert a.accuracy == b.accuracy and a.loss == b.loss
    assert torch.equal(a.logits, b.logits)


def test_loss_matches_torch_cross_entropy_and_lies_on_the_grid():
    logits = torch.randn(64, 10) * 4
    labels = torch.randint(0, 10, (64,))
    ours = per_sample_loss(logits, labels)
    ref = F.cross_entropy(logits.double(), labels, reduction="none")
    assert torch.allclose(ours, ref, atol=2e-3)
    assert torch.equal(torch.round(ours * LOSS_GRID), ours * LOSS_GRID)


def test_batched_loss_equals_single_loss_bit_for_bit():
    logits = torch.randn(5, 300, 10) * 8
    labels = torch.randint(0, 10, (300,))
    batched = per_sample_loss(logits, labels)
    for k in range(5):
        assert torch.equal(batched[k], per_sample_loss(logits[k], labels))
        assert torch.equal(
            batched[k, 123:190], per_sample_loss(logits[k, 123:190], labels[123:190])
        )


def test_argmax_ties_pick_the_first_class():
    logits = torch.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 1.0], [0.0, 0.0, 0.0]])
    assert correct(logits, torch.tensor([1, 0, 0])).tolist() == [True, True, True]
    assert correct(logits, torch.tensor([2, 1, 1])).tolist() == [False, False, False]


def test_evaluate_counts_and_rejects_empty():
    net = random_network(MNIST, 0.8, 3)
    pixels, labels = _pixels(50, (28, 28)), np.arange(50) % 10
    ev = evaluate(net, pixels, labels)
    assert ev.n == 50 and ev.accuracy == ev.n_correct / 50
    with pytest.raises(ValueError, match="empty"):
        evaluate(net, pixels[:0], labels[:0])


def test_to_input_requires_uint8():
    with pytest.raises(TypeError, match="uint8"):
        to_input(np.zeros((2, 28, 28), dtype=np.float32), 0.0)
    x = to_input(np.full((1, 2, 2), 255, dtype=np.uint8), 0.5)
    assert torch.equal(x, torch.full((1, 1, 2, 2), 255 / 256 - 0.5))
