"""The ``aann`` command line.

``aann walk`` takes a random bit-swap walk from a random p-sparse network, printing accuracy per
step; ``aann eval PATH`` evaluates a saved network. Every error that aann raises on purpose is
printed as one line on stderr with exit status 2 (no traceback), so scripts can tell bad input
from bugs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from aann_env.errors import AANNError
from aann_env.forward import evaluate
from aann_env.network import TernaryNetwork, random_network
from aann_env.tasks import TASKS, get_task


def _sparsity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"sparsity must be a number in [0, 1), got {text!r}"
        ) from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"sparsity must be in [0, 1), got {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--task", choices=sorted(TASKS), default="mnist", help="the task (default: mnist)"
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help="folder with the task's raw data (MNIST: the four IDX files); default: $AANN_MNIST_DIR, "
        "then the cache that scripts/setup.sh builds",
    )


def cmd_walk(args: argparse.Namespace) -> int:
    """Random 80%-sparse net: validation and test accuracy, then a random bit-swap walk."""
    task = get_task(args.task)
    splits = task.splits(args.data_dir)
    valid, test = splits["valid"], splits["test"]
    net = random_network(task.arch, args.sparsity, args.seed, offset=task.offset)
    rng = np.random.default_rng([args.seed, 1])  # the walk's own stream
    print(
        f"task {task.name}: train {len(splits['train'])}, valid {len(valid)}, test {len(test)} samples"
    )
    print(f"random {args.sparsity:.0%}-sparse {task.arch.name} net (seed {args.seed}): {net}")
    ev_valid = evaluate(net, valid.pixels, valid.labels)
    ev_test = evaluate(net, test.pixels, test.labels)
    print(
        f"validation accuracy {ev_valid.accuracy:.4f} (loss {ev_valid.loss:.4f}), test accuracy {ev_test.accuracy:.4f}"
    )
    print(f"random walk of {args.steps} bit-swaps (each a uniformly random first neighbour):")
    for step in range(1, args.steps + 1):
        t0 = time.perf_counter()
        layer, src, dst = (int(v) for v in net.sample_swaps(1, rng)[0])
        net.apply_swap((layer, src, dst))
        ev = evaluate(net, valid.pixels, valid.labels)
        print(
            f"  step {step:3d}: swap layer {net.layer_names[layer]:>4} {src:6d} -> {dst:6d}  "
            f"validation accuracy {ev.accuracy:.4f}  loss {ev.loss:.4f}  ({time.perf_counter() - t0:.2f} s)"
        )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a saved network on the validation and test splits."""
    net = TernaryNetwork.load(args.path)
    task = get_task(net.arch.name if net.arch.name in TASKS else args.task)
    print(f"{args.path}: {net}")
    for name in args.splits:
        split = task.split(name, args.data_dir)
        ev = evaluate(net, split.pixels, split.labels)
        print(f"  {name:5s}: accuracy {ev.accuracy:.4f}  loss {ev.loss:.4f}  ({ev.n} samples)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aann",
        description="Search for sparse ternary networks (Architecture Agnostic Neural Networks).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("walk", help="random bit-swap walk from a random p-sparse network")
    _add_data_args(p)
    p.add_argument(
        "--sparsity", type=_sparsity, default=0.8, help="fraction of zero weights (default 0.8)"
    )
    p.add_argument("--steps", type=_positive_int, default=10, help="number of swaps (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=cmd_walk)

    p = sub.add_parser("eval", help="evaluate a saved network")
    p.add_argument("path", help="a network file (.npz) written by aann")
    _add_data_args(p)
    p.add_argument(
        "--splits", nargs="+", choices=["train", "valid", "test"], default=["valid", "test"]
    )
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except AANNError as exc:
        print(f"aann: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aann: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
