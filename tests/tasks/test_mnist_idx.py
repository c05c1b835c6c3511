"""Tests of aann_env.tasks.mnist.idx: reading and writing IDX files, and a folder of four."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mnist_fakes import TINY, fake_images, make_idx_dir

from aann_env.errors import DataError
from aann_env.tasks.mnist import idx
from aann_env.tasks.split import SPLITS

# --------------------------------------------------------------------------------------------
# IDX


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path: Path, suffix: str) -> None:
    images = fake_images(7)
    path = tmp_path / f"img-idx3-ubyte{suffix}"
    idx.write_idx(path, images)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    back = idx.read_idx(path)
    assert back.dtype == np.uint8
    assert back.shape == (7, 28, 28)
    np.testing.assert_array_equal(back, images)
    back[0, 0, 0] = 1  # writable copy, not a view of the file's bytes


def test_idx_header_layout(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    idx.write_idx(path, np.array([7, 2, 1], dtype=np.uint8))
    assert path.read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])


@settings(max_examples=40, deadline=None)
@given(
    dtype=st.sampled_from(["u1", "i1", "i2", "i4", "f4", "f8"]),
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4),
    gz=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_idx_round_trip_all_type_codes(
    tmp_path_factory: pytest.TempPathFactory, dtype: str, shape: list[int], gz: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path_factory.mktemp("idx") / ("a.gz" if gz else "a")
    idx.write_idx(path, array)
    back = idx.read_idx(path)
    assert back.dtype == np.dtype(dtype)
    assert back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def _good_idx_bytes() -> bytes:
    return bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))


@pytest.mark.parametrize(
    ("blob", "match"),
    [
        (b"", "only 0 bytes"),
        (b"\x00\x00", "only 2 bytes"),
        (b"\x01\x00" + _good_idx_bytes()[2:], "magic"),
        (_good_idx_bytes()[:2] + b"\x07" + _good_idx_bytes()[3:], "type code 0x07"),
        (bytes([0, 0, 8, 0]), "0 dimensions"),
        (bytes([0, 0, 8, 3, 0, 0, 0, 2]), "header needs 16 bytes"),
        (_good_idx_bytes()[:-1], "truncated"),
        (_good_idx_bytes() + b"\x00", "trailing bytes"),
        (bytes([0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 3]) + bytes(range(6)), "truncated"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 2]) + bytes(range(6)), "trailing bytes"),
    ],
)
def test_read_idx_rejects_malformed(tmp_path: Path, blob: bytes, match: str) -> None:
    path = tmp_path / "bad"
    path.write_bytes(blob)
    with pytest.raises(DataError, match=match):
        idx.read_idx(path)


def test_read_idx_rejects_truncated_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    idx.write_idx(path, fake_images(3))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match="gzip"):
        idx.read_idx(path)


def test_read_idx_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        idx.read_idx(tmp_path / "nope")


@pytest.mark.parametrize("array", [np.zeros(3, dtype=np.int64), np.zeros(3, dtype=bool)])
def test_write_idx_rejects_unsupported_dtype(tmp_path: Path, array: np.ndarray) -> None:
    with pytest.raises(DataError, match="dtype"):
        idx.write_idx(tmp_path / "x", array)


def test_write_idx_rejects_scalar(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="dimensions"):
        idx.write_idx(tmp_path / "x", np.uint8(3))


# --------------------------------------------------------------------------------------------
# IDX folders


@pytest.mark.parametrize(("gz", "dotted"), [(False, False), (True, False), (False, True)])
def test_load_idx_dir_splits_first_and_last(tmp_path: Path, gz: bool, dotted: bool) -> None:
    folder = make_idx_dir(tmp_path / "mnist", gz=gz, dotted=dotted)
    data = idx.load_idx_dir(folder, **TINY)
    train, valid, test = data.splits["train"], data.splits["valid"], data.splits["test"]
    # train = images 0..7 of the training file, valid = images 8..11.
    np.testing.assert_array_equal(train.pixels[:, 0, 0], np.arange(8))
    np.testing.assert_array_equal(valid.pixels[:, 0, 0], np.arange(8, 12))
    np.testing.assert_array_equal(train.labels, np.arange(8) % 10)
    np.testing.assert_array_equal(valid.labels, np.arange(8, 12) % 10)
    np.testing.assert_array_equal(test.pixels[:, 0, 0], np.arange(100, 105))
    np.testing.assert_array_equal(test.labels, (np.arange(5) + 3) % 10)
    assert list(data.splits) == list(SPLITS)
    for split in data.splits.values():
        assert split.pixels.dtype == np.uint8
        assert split.pixels.shape[1:] == (28, 28)
        assert split.labels.dtype == np.int64
    assert data.sizes() == {"train": 8, "valid": 4, "test": 5}
    assert data.source == f"idx:{folder.resolve()}"


@pytest.mark.parametrize(
    "counts",
    [
        {"n_train": 8, "n_valid": 5, "n_test": 5},
        {"n_train": 7, "n_valid": 4, "n_test": 5},
        {"n_train": 8, "n_valid": 4, "n_test": 6},
    ],
)
def test_load_idx_dir_count_mismatch(tmp_path: Path, counts: dict[str, int]) -> None:
    folder = make_idx_dir(tmp_path)
    with pytest.raises(DataError, match="expected shape"):
        idx.load_idx_dir(folder, **counts)


def test_load_idx_dir_default_counts_are_real_mnist(tmp_path: Path) -> None:
    folder = make_idx_dir(tmp_path)
    with pytest.raises(DataError, match=r"\(60000, 28, 28\)"):
        idx.load_idx_dir(folder)


@pytest.mark.parametrize("missing", list(idx.IDX_FILES.values()))
def test_load_idx_dir_missing_file(tmp_path: Path, missing: str) -> None:
    folder = make_idx_dir(tmp_path / "d", skip=missing)
    with pytest.raises(DataError) as info:
        idx.load_idx_dir(folder, **TINY)
    message = str(info.value)
    assert f"lacks {missing}." in message
    assert str(folder) in message
    for name in idx.IDX_FILES.values():
        assert name in message


def test_load_idx_dir_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        idx.load_idx_dir(tmp_path / "absent", **TINY)


def test_load_idx_dir_bad_labels(tmp_path: Path) -> None:
    folder = make_idx_dir(tmp_path)
    idx.write_idx(folder / "t10k-labels-idx1-ubyte", np.array([0, 1, 2, 3, 10], dtype=np.uint8))
    with pytest.raises(DataError, match=r"0\.\.9"):
        idx.load_idx_dir(folder, **TINY)


def test_load_idx_dir_bad_image_shape(tmp_path: Path) -> None:
    folder = make_idx_dir(tmp_path)
    idx.write_idx(folder / "t10k-images-idx3-ubyte", np.zeros((5, 27, 28), dtype=np.uint8))
    with pytest.raises(DataError, match="expected shape"):
        idx.load_idx_dir(folder, **TINY)


def test_split_rejects_unknown_name(tmp_path: Path) -> None:
    data = idx.load_idx_dir(make_idx_dir(tmp_path), **TINY)
    assert data.split("valid") is data.splits["valid"]
    with pytest.raises(DataError, match="train, valid, test"):
        data.split("validation")
