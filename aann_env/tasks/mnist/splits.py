"""The MNIST split: its sizes, the data set of its three splits, and their checks.

The split is the one of the classic ``mnist.pkl.gz``: *train* is the first 50,000 MNIST training
images, *valid* the remaining 10,000 training images and *test* the 10,000 test images. Pixels
are ``uint8`` codes ``k`` in ``0..255`` (the network later feeds ``k / 256``); labels are
``int64`` in ``0..9``. Every source (IDX files, the wheel's pickle, the cache) yields a
:class:`MnistData` whose splits passed :func:`check_images` and :func:`check_labels`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aann_env.errors import DataError
from aann_env.tasks.split import SPLITS, Split

__all__ = [
    "IMAGE_SHAPE",
    "N_CLASSES",
    "N_TEST",
    "N_TRAIN",
    "N_VALID",
    "MnistData",
    "check_images",
    "check_labels",
]

N_TRAIN = 50_000
N_VALID = 10_000
N_TEST = 10_000
IMAGE_SHAPE = (28, 28)
N_CLASSES = 10


@dataclass(frozen=True, eq=False)
class MnistData:
    """The MNIST data set: its three splits and where they came from.

    Attributes:
        splits: ``"train"`` / ``"valid"`` / ``"test"`` splits: ``uint8`` pixel codes
            ``(N, 28, 28)`` and ``int64`` labels ``(N,)`` in ``0..9``, with N = 50,000, 10,000
            and 10,000 for real MNIST.
        source: Where the data came from, e.g. ``"idx:/data/mnist"`` or
            ``"cache:/home/me/.cache/aann/mnist-v2.npz"``.
    """

    splits: dict[str, Split]
    source: str

    def split(self, name: str) -> Split:
        """Return one split.

        Args:
            name: ``"train"``, ``"valid"`` or ``"test"``.

        Returns:
            That split's pixel codes and labels.

        Raises:
            DataError: If ``name`` is not one of the three split names.
        """
        try:
            return self.splits[name]
        except KeyError:
            raise DataError(
                f"unknown MNIST split {name!r}; expected one of {', '.join(SPLITS)}"
            ) from None

    def sizes(self) -> dict[str, int]:
        """Return the number of images in each split, keyed by split name."""
        return {name: len(self.split(name)) for name in SPLITS}


def check_images(images: np.ndarray, n: int, what: str) -> np.ndarray:
    """Check that ``images`` are ``n`` ``uint8`` images of 28x28 pixels.

    Args:
        images: The array to check.
        n: The number of images expected.
        what: What the array is, for messages.

    Returns:
        ``images`` unchanged.

    Raises:
        DataError: If the dtype or shape is wrong.
    """
    if images.dtype != np.uint8:
        raise DataError(f"{what}: pixels must be uint8, found {images.dtype}")
    if images.shape != (n, *IMAGE_SHAPE):
        raise DataError(f"{what}: expected shape {(n, *IMAGE_SHAPE)}, found {images.shape}")
    return images


def check_labels(labels: np.ndarray, n: int, what: str) -> np.ndarray:
    """Check that ``labels`` are ``n`` integer class labels in ``0..9``.

    Args:
        labels: The array to check.
        n: The number of labels expected.
        what: What the array is, for messages.

    Returns:
        The labels as ``int64`` (no copy if they already are).

    Raises:
        DataError: If the dtype is not an integer type, the shape is wrong, or a label lies
            outside ``0..9``.
    """
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
