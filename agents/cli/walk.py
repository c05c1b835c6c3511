"""``aann walk``: a random bit-swap walk from a random p-sparse network."""

from __future__ import annotations

import argparse
import time

import numpy as np

from aann_env.core.forward import evaluate
from aann_env.core.network import random_network
from aann_env.tasks import get_task
from agents.cli.args import add_data_args, positive_int, sparsity


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``walk`` and its options to the ``aann`` sub-commands."""
    p = subparsers.add_parser("walk", help="random bit-swap walk from a random p-sparse network")
    add_data_args(p)
    p.add_argument(
        "--sparsity", type=sparsity, default=0.8, help="fraction of zero weights (default 0.8)"
    )
    p.add_argument("--steps", type=positive_int, default=10, help="number of swaps (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Random p-sparse net: validation and test accuracy, then a random bit-swap walk."""
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
