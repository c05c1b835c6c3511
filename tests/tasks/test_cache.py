"""Tests of aann_env.tasks.cache: the cache folder and the one verified cache file format."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aann_env.errors import DataError
from aann_env.tasks import cache

KEYS = ("images", "labels")
HINT = "rebuild it with `make-it --again`"


def _arrays() -> dict[str, np.ndarray]:
    return {
        "images": np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        "labels": np.array([7, -1], dtype=np.int64),
    }


def _write(folder: Path, version: int = 3) -> Path:
    config = cache.canonical_json({"what": "test", "n": 2})
    return cache.write_cache(folder / "data.npz", version, config, _arrays())


def _resave(path: Path, **changes: Any) -> None:
    """Rewrite a cache file with some entries changed (None: removed), keeping the stored hash."""
    with np.load(path) as npz:
        entries = {key: npz[key] for key in npz.files}
    entries.update(changes)
    np.savez_compressed(path, **{k: v for k, v in entries.items() if v is not None})


# --------------------------------------------------------------------------------------------
# Where caches live


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(cache.ENV_CACHE_DIR, str(tmp_path / "override"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.default_cache_dir() == tmp_path / "override"
    monkeypatch.delenv(cache.ENV_CACHE_DIR)
    assert cache.default_cache_dir() == tmp_path / "xdg" / "aann"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.default_cache_dir() == Path.home() / ".cache" / "aann"


def test_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(cache.ENV_CACHE_DIR, str(tmp_path / "base"))
    assert cache.cache_folder(None) == tmp_path / "base"
    assert cache.cache_folder(None, "car") == tmp_path / "base" / "car"
    assert cache.cache_folder(tmp_path / "mine", "car") == tmp_path / "mine"
    assert cache.cache_folder("~/x") == Path.home() / "x"


# --------------------------------------------------------------------------------------------
# The format


def test_canonical_json_is_order_free() -> None:
    assert cache.canonical_json({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    assert cache.canonical_json({"a": [1, 2], "b": 1}) == cache.canonical_json(
        {"b": 1, "a": [1, 2]}
    )


def test_arrays_sha256_spells_out_names_dtypes_shapes_and_bytes() -> None:
    arrays = {"a": np.arange(6, dtype=np.uint8).reshape(2, 3), "b": np.array([1, -2], np.int64)}
    by_hand = hashlib.sha256(
        b"a:|u1:(2, 3);" + arrays["a"].tobytes() + b"b:<i8:(2,);" + arrays["b"].tobytes()
    ).hexdigest()
    # The value the car cache's own hash gave before the format was shared: old car files load.
    golden = "5fe3071827898c9aed624534090db75ff6eeb297e2943f6dedbcc0275b1f783c"
    assert cache.arrays_sha256(arrays, ["a", "b"]) == by_hand == golden
    assert cache.arrays_sha256(arrays, ["b", "a"]) != golden  # the order is part of it
    reshaped = {"a": arrays["a"].reshape(3, 2), "b": arrays["b"]}
    assert cache.arrays_sha256(reshaped, ["a", "b"]) != golden  # same bytes, other shape
    retyped = {"a": arrays["a"].view(np.int8), "b": arrays["b"]}
    assert cache.arrays_sha256(retyped, ["a", "b"]) != golden  # same bytes, other dtype


def test_write_then_read(tmp_path: Path) -> None:
    path = _write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npz"]  # no temporary file
    with np.load(path) as npz:
        assert npz.files == ["version", "config", "sha256", *KEYS]
        assert npz["version"].dtype == np.int64
        assert str(npz["sha256"]) == cache.arrays_sha256(_arrays(), KEYS)
    cached = cache.read_cache(path, 3, KEYS, HINT)
    assert cached.path == path
    assert cached.version == 3
    assert cached.config == {"what": "test", "n": 2}
    assert cached.config_json == '{"n":2,"what":"test"}'
    assert list(cached.arrays) == list(KEYS)
    for key, want in _arrays().items():
        assert cached.arrays[key].dtype == want.dtype
        np.testing.assert_array_equal(cached.arrays[key], want)


def test_write_refuses_reserved_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sha256"):
        cache.write_cache(tmp_path / "x.npz", 1, "{}", {"sha256": np.zeros(1)})
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# Verification


def test_corrupted_array_byte_fails_the_sha256(tmp_path: Path) -> None:
    path = _write(tmp_path)
    images = _arrays()["images"]
    images.reshape(-1)[5] ^= 0x01  # one bit of one array byte; the stored hash is kept
    _resave(path, images=images)
    with pytest.raises(DataError, match="fails its SHA-256 check") as info:
        cache.read_cache(path, 3, KEYS, HINT, what="test cache")
    message = str(info.value)
    assert message.startswith(f"test cache {path} ")
    assert message.endswith(HINT)


def test_flipped_file_byte_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError) as info:
        cache.read_cache(path, 3, KEYS, HINT)
    assert str(path) in str(info.value)
    assert str(info.value).endswith(HINT)


@pytest.mark.parametrize("keep", [0, 50, -30])
def test_truncated_file_names_the_file(tmp_path: Path, keep: int) -> None:
    path = _write(tmp_path)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(DataError, match="unreadable or corrupted") as info:
        cache.read_cache(path, 3, KEYS, HINT)
    assert str(path) in str(info.value)
    assert str(info.value).endswith(HINT)


def test_wrong_version(tmp_path: Path) -> None:
    path = _write(tmp_path, version=2)
    with pytest.raises(DataError, match="has version 2, expected 3") as info:
        cache.read_cache(path, 3, KEYS, HINT)
    assert str(path) in str(info.value)
    assert str(info.value).endswith(HINT)


@pytest.mark.parametrize("key", ["version", "config", "sha256", "labels"])
def test_missing_key(tmp_path: Path, key: str) -> None:
    path = _write(tmp_path)
    _resave(path, **{key: None})
    with pytest.raises(DataError, match=f"lacks {key}") as info:
        cache.read_cache(path, 3, KEYS, HINT)
    assert str(path) in str(info.value)
    assert str(info.value).endswith(HINT)


def test_asking_for_an_array_the_file_lacks(tmp_path: Path) -> None:
    path = _write(tmp_path)
    with pytest.raises(DataError, match="lacks seeds"):
        cache.read_cache(path, 3, (*KEYS, "seeds"), HINT)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.npz"
    with pytest.raises(DataError, match="does not exist") as info:
        cache.read_cache(path, 3, KEYS, HINT)
    assert str(path) in str(info.value)
    assert str(info.value).endswith(HINT)


@pytest.mark.parametrize(("config", "match"), [("{nope", "not JSON"), ("[1]", "JSON object")])
def test_bad_config(tmp_path: Path, config: str, match: str) -> None:
    path = _write(tmp_path)
    _resave(path, config=np.array(config))
    with pytest.raises(DataError, match=match) as info:
        cache.read_cache(path, 3, KEYS, HINT)
    assert str(path) in str(info.value)


def test_extra_entries_are_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path)
    _resave(path, notes=np.array("written by hand"))
    assert list(cache.read_cache(path, 3, KEYS, HINT).arrays) == list(KEYS)


# --------------------------------------------------------------------------------------------
# Atomic writes


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError])
def test_failed_write_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type[BaseException]
) -> None:
    def killed(fh: Any, **entries: Any) -> None:
        fh.write(b"PK half a zip")
        raise error

    monkeypatch.setattr(np, "savez_compressed", killed)
    with pytest.raises(error):
        cache.write_cache(tmp_path / "sub" / "data.npz", 1, "{}", _arrays())
    assert list((tmp_path / "sub").iterdir()) == []  # neither the file nor a temporary one


def test_failed_rewrite_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path)
    before = path.read_bytes()

    def killed(fh: Any, **entries: Any) -> None:
        fh.write(b"PK half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", killed)
    with pytest.raises(KeyboardInterrupt):
        cache.write_cache(path, 4, "{}", _arrays())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npz"]
    assert path.read_bytes() == before
    monkeypatch.undo()
    assert cache.read_cache(path, 3, KEYS, HINT).config == {"what": "test", "n": 2}


def test_config_round_trips_as_stored(tmp_path: Path) -> None:
    config = json.dumps({"z": 1, "a": "é"})  # not canonical: stored and returned unchanged
    path = cache.write_cache(tmp_path / "c.npz", 1, config, _arrays())
    cached = cache.read_cache(path, 1, KEYS, HINT)
    assert cached.config_json == config
    assert cached.config == {"z": 1, "a": "é"}
