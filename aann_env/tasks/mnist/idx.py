"""IDX files, the format of the original MNIST distribution: reading, writing, and a folder of four.

A folder holding the four standard files (``train-images-idx3-ubyte`` and friends, plain or
gzip-compressed) is the first source :func:`~aann_env.tasks.mnist.dataset.load_mnist` tries,
given as an argument or through ``$AANN_MNIST_DIR``.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from aann_env.errors import DataError
from aann_env.tasks.mnist.splits import (
    N_TEST,
    N_TRAIN,
    N_VALID,
    MnistData,
    check_images,
    check_labels,
)
from aann_env.tasks.split import Split

__all__ = ["ENV_DATA_DIR", "IDX_FILES", "load_idx_dir", "read_idx", "write_idx"]

ENV_DATA_DIR = "AANN_MNIST_DIR"
"""Environment variable naming a folder of MNIST IDX files."""

IDX_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
"""Canonical IDX file names, by role. Each may also carry a ``.gz`` suffix."""

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
    """Read an IDX file.

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


def load_idx_dir(
    data_dir: str | Path,
    *,
    n_train: int = N_TRAIN,
    n_valid: int = N_VALID,
    n_test: int = N_TEST,
) -> MnistData:
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
        The data set, with ``source`` set to ``"idx:<folder>"``.

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
    train_x = check_images(read_idx(files["train_images"]), n_full, str(files["train_images"]))
    train_y = check_labels(read_idx(files["train_labels"]), n_full, str(files["train_labels"]))
    test_x = check_images(read_idx(files["test_images"]), n_test, str(files["test_images"]))
    test_y = check_labels(read_idx(files["test_labels"]), n_test, str(files["test_labels"]))
    splits = {
        "train": Split(train_x[:n_train], train_y[:n_train]),
        "valid": Split(train_x[n_train:], train_y[n_train:]),
        "test": Split(test_x, test_y),
    }
    return MnistData(splits, source=f"idx:{folder.resolve()}")
