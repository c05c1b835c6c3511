"""``aann eval PATH``: evaluate a saved network on the validation and test splits."""

from __future__ import annotations

import argparse

from aann_env.core.forward import evaluate
from aann_env.core.network import TernaryNetwork
from aann_env.tasks import TASKS, get_task
from agents.cli.args import add_data_args


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``eval`` and its options to the ``aann`` sub-commands."""
    p = subparsers.add_parser("eval", help="evaluate a saved network")
    p.add_argument("path", help="a network file (.npz) written by aann")
    add_data_args(p)
    p.add_argument(
        "--splits", nargs="+", choices=["train", "valid", "test"], default=["valid", "test"]
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Evaluate a saved network on the chosen splits (the file's architecture names its task)."""
    net = TernaryNetwork.load(args.path)
    task = get_task(net.arch.name if net.arch.name in TASKS else args.task)
    print(f"{args.path}: {net}")
    for name in args.splits:
        split = task.split(name, args.data_dir)
        ev = evaluate(net, split.pixels, split.labels)
        print(f"  {name:5s}: accuracy {ev.accuracy:.4f}  loss {ev.loss:.4f}  ({ev.n} samples)")
    return 0
