from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aann_env.core.architecture import CAR, MNIST, default_scales
from aann_env.core.network import (
    TernaryNetwork,
    random_neighbor,
    random_network,
    zeros_per_layer,
)
from aann_env.errors import CheckpointError, SwapError


@pytest.fixture(scope="module")
def mnist_net() -> TernaryNetwork:
    return random_network(MNIST, 0.8, 0)


@pytest.mark.parametrize("arch", [MNIST, CAR], ids=lambda a: a.name)
@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.8, 0.95, 0.99])
def test_random_init_has_exact_sparsity(arch, sparsity):
    net = random_network(arch, sparsity, np.random.default_rng(1))
    for spec in arch.layers:
        w = net.weights[spec.name]
        assert w.dtype == np.int8 and w.shape == spec.weight_shape
        assert set(np.unique(w)) <= {-1, 0, 1}
        assert np.count_nonzero(w == 0) == round(sparsity * spec.size)


def test_mnist_80_sparse_has_20_percent_nonzeros_everywhere(mnist_net):
    for spec in MNIST.layers:
        assert np.count_nonzero(mnist_net.weights[spec.name]) == spec.size - round(0.8 * spec.size)
        assert np.count_nonzero(mnist_net.weights[spec.name]) / spec.size == pytest.approx(0.2)


def test_same_seed_same_network_and_int_seed_recorded():
    a = random_network(MNIST, 0.8, 7)
    b = random_network(MNIST, 0.8, 7)
    c = random_network(MNIST, 0.8, 8)
    assert a == b and a != c
    assert a.seed == 7


def test_a_swap_keeps_the_counts_and_moves_one_weight(mnist_net):
    net = mnist_net.copy()
    before = net.family_signature()
    layer, src, dst = (int(v) for v in net.sample_swaps(1, np.random.default_rng(0), layer="fc")[0])
    value = net.flat(layer)[src]
    net.apply_swap((layer, src, dst))
    assert net.family_signature() == before
    assert net.flat(layer)[dst] == value and net.flat(layer)[src] == 0
    assert net.hamming(mnist_net) == 2


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1), n_swaps=st.integers(0, 60), arch=st.sampled_from([MNIST, CAR])
)
def test_any_swap_sequence_keeps_ternary_and_family_and_undo_restores(seed, n_swaps, arch):
    rng = np.random.default_rng(seed)
    start = random_network(arch, float(rng.choice([0.5, 0.8, 0.95])), rng)
    net = start.copy()
    signature = start.family_signature()
    applied = []
    for _ in range(n_swaps):
        layer = None if rng.random() < 0.5 else int(rng.integers(net.n_layers))
        swap = net.sample_swaps(1, rng, layer=layer)[0]
        net.apply_swap(swap)
        applied.append(swap)
        assert net.family_signature() == signature
    for w in net.weights.values():
        assert w.dtype == np.int8 and set(np.unique(w)) <= {-1, 0, 1}
    for swap in reversed(applied):
        net.undo_swap(swap)
    assert net == start
    # The O(1) position index stays consistent with the weights after all of that.
    for layer in range(net.n_layers):
        flat = net.flat(layer)
        swaps = net.sample_swaps(50, rng, layer=layer)
        assert (flat[swaps[:, 1]] != 0).all() and (flat[swaps[:, 2]] == 0).all()


def test_illegal_swaps_raise_and_change_nothing(mnist_net):
    net = mnist_net.copy()
    flat = net.flat(2)
    zero, nonzero = int(np.flatnonzero(flat == 0)[0]), int(np.flatnonzero(flat)[0])
    for bad in [
        (2, zero, zero),
        (2, nonzero, nonzero),
        (2, nonzero, flat.size),
        (3, 0, 1),
        (-1, 0, 1),
    ]:
        with pytest.raises(SwapError):
            net.apply_swap(bad)
        assert not net.is_legal(bad)
    assert net == mnist_net


def test_sample_swaps_shapes_layers_and_legality(mnist_net):
    rng = np.random.default_rng(3)
    swaps = mnist_net.sample_swaps(500, rng)
    assert swaps.shape == (500, 3) and swaps.dtype == np.int64
    assert all(mnist_net.is_legal(s) for s in swaps)
    # Uniform over first neighbours: fc holds most of the legal swaps.
    counts = np.bincount(swaps[:, 0], minlength=3)
    assert counts[2] > counts[1] > counts[0]
    only_conv1 = mnist_net.sample_swaps(20, rng, layer="1.0")
    assert (only_conv1[:, 0] == 0).all()
    uniform_layers = mnist_net.sample_swaps(300, rng, layer_weights=[1, 1, 1])
    assert np.bincount(uniform_layers[:, 0], minlength=3).min() > 50


@pytest.mark.parametrize("k", [1, 2, 5])
def test_kth_neighbour_is_at_hamming_distance_2k(mnist_net, k):
    other, swaps = random_neighbor(mnist_net, k, np.random.default_rng(k))
    assert swaps.shape == (k, 3)
    assert other.hamming(mnist_net) == 2 * k
    assert other.family_signature() == mnist_net.family_signature()


def test_save_load_round_trip(tmp_path, mnist_net):
    net = mnist_net.copy()
    net.provenance = {"command": "test", "parent": None}
    path = net.save(tmp_path / "net.npz")
    loaded = TernaryNetwork.load(path)
    assert loaded == net
    assert loaded.sparsity == net.sparsity and loaded.seed == net.seed
    assert loaded.provenance == net.provenance
    assert TernaryNetwork.load(path, arch="mnist") == net


def test_load_rejects_wrong_architecture(tmp_path):
    path = random_network(CAR, 0.8, 0).save(tmp_path / "car.npz")
    with pytest.raises(CheckpointError, match="'car' network, but a 'mnist'"):
        TernaryNetwork.load(path, arch="mnist")


def test_load_rejects_truncated_and_missing_files(tmp_path, mnist_net):
    path = mnist_net.save(tmp_path / "net.npz")
    data = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        TernaryNetwork.load(tmp_path / "trunc.npz")
    with pytest.raises(CheckpointError, match="no network file"):
        TernaryNetwork.load(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError):
        TernaryNetwork.load(tmp_path / "junk.npz")


def _rewrite(path, tmp_path, edit):
    """Rewrite a saved network with ``edit(arrays, meta)`` applied, keeping everything else."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("meta")))
    edit(arrays, meta)
    out = tmp_path / "edited.npz"
    np.savez(out, meta=np.array(json.dumps(meta)), **arrays)
    return out


def test_load_rejects_a_weight_of_two(tmp_path, mnist_net):
    path = mnist_net.save(tmp_path / "net.npz")

    def put_two(arrays, meta):
        w = arrays["weight/fc"].copy()
        w.reshape(-1)[np.flatnonzero(w)[0]] = 2
        arrays["weight/fc"] = w

    with pytest.raises(CheckpointError, match="holds the weight 2"):
        TernaryNetwork.load(_rewrite(path, tmp_path, put_two))


def test_load_rejects_flipped_weight_via_checksum(tmp_path, mnist_net):
    path = mnist_net.save(tmp_path / "net.npz")

    def flip(arrays, meta):
        w = arrays["weight/fc"].copy()
        i = np.flatnonzero(w)[0]
        w.reshape(-1)[i] = -w.reshape(-1)[i]
        arrays["weight/fc"] = w

    with pytest.raises(CheckpointError, match="checksum"):
        TernaryNetwork.load(_rewrite(path, tmp_path, flip))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda a, m: m.update(schema_version=99), "schema version 99"),
        (lambda a, m: m.update(magic="something else"), "not an aann network"),
        (lambda a, m: m["architecture"]["layers"][0].update(out_features=8), "differs"),
        (lambda a, m: m["architecture"].update(name="resnet"), "unknown"),
        (lambda a, m: a.pop("weight/2.0"), "missing weights of layer '2.0'"),
        (lambda a, m: a.update({"weight/fc": a["weight/fc"][:, :100]}), "shape"),
        (lambda a, m: a.update({"weight/fc": a["weight/fc"].astype(np.float32)}), "dtype"),
        (lambda a, m: m.update(sparsity=0.5), "zeros"),
        (lambda a, m: m["scales"].update(fc=0.3), "power of two"),
    ],
)
def test_load_rejects_mismatched_contents(tmp_path, mnist_net, edit, message):
    path = mnist_net.save(tmp_path / "net.npz")
    with pytest.raises(CheckpointError, match=message):
        TernaryNetwork.load(_rewrite(path, tmp_path, edit))


def test_save_is_a_single_zip_with_schema(tmp_path, mnist_net):
    path = mnist_net.save(tmp_path / "sub" / "net.npz")
    assert zipfile.is_zipfile(path)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["net.npz"]  # no temp file left


def test_zeros_per_layer_rounds():
    assert zeros_per_layer(400, 0.8) == 320
    assert zeros_per_layer(15680, 0.87) == round(0.87 * 15680)


def test_default_scales_are_exact_powers_of_two():
    for arch in (MNIST, CAR):
        for p in np.linspace(0, 0.99, 23):
            scales = default_scales(arch, float(p))
            arch.check_scales(scales, 0.0)
            assert max(arch.exact_bits(scales, 0.0).values()) <= 24


def test_check_scales_rejects_inexact_scales():
    scales = {"1.0": 2.0**-8, "2.0": 2.0**-8, "fc": 1.0}
    with pytest.raises(ValueError, match="significand bits"):
        MNIST.check_scales(scales, 0.0)
