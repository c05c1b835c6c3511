"""What several ``aann`` sub-commands share: argparse types, the data options, error lines.

The argparse types turn a bad value into ``argparse.ArgumentTypeError``, which argparse prints as
``aann COMMAND: error: ...`` with exit status 2; :func:`fail` does the same for errors found later.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TypeVar

from aann_env.tasks import TASKS

Number = TypeVar("Number", int, float)


def sparsity(text: str) -> float:
    """An argparse type: a sparsity in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"sparsity must be a number in [0, 1), got {text!r}"
        ) from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"sparsity must be in [0, 1), got {value}")
    return value


def positive(kind: Callable[[str], Number], what: str) -> Callable[[str], Number]:
    """An argparse type: a positive ``kind`` (int or float), ``what`` naming it in errors."""

    def parse(text: str) -> Number:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value

    return parse


positive_int = positive(int, "a positive integer")
"""An argparse type: an integer > 0."""
positive_float = positive(float, "a positive number")
"""An argparse type: a number > 0."""


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def layer_counts(text: str) -> int | dict[str, int]:
    """An argparse type: one count for every layer (``64``) or ``LAYER=COUNT`` pairs (``fc=256,2.0=32``)."""
    try:
        if "=" not in text:
            return positive_int(text)
        out = {}
        for part in text.split(","):
            name, value = part.split("=")
            out[name.strip()] = positive_int(value)
        return out
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or LAYER=COUNT pairs such as fc=256,2.0=32,1.0=8, got {text!r}"
        ) from None


def add_data_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--task`` and ``--data-dir``: which task, and where its raw data lies."""
    parser.add_argument(
        "--task", choices=sorted(TASKS), default="mnist", help="the task (default: mnist)"
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with the task's raw data (MNIST: the four IDX files); default: $AANN_MNIST_DIR, "
        "then the cache that scripts/setup.sh builds",
    )


def fail(command: str, message: str) -> int:
    """Print ``aann COMMAND: error: MESSAGE`` on stderr and return exit status 2."""
    print(f"aann {command}: error: {message}", file=sys.stderr)
    return 2
