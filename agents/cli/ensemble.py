"""``aann ensemble NETS...``: accuracy of ensembles of networks against ensemble size.

Members vote, or their logits are summed (:mod:`aann_env.analysis.ensemble`). For each size the
command scores every subset of members (or ``--max-subsets`` random ones), and the ensemble of the
members best by accuracy on ``--rank-split``; it writes ``ensemble.csv``, ``ensemble.json`` and
``ensemble.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aann_env.analysis import ensemble_curve, member_logits
from aann_env.tasks import get_task
from agents.cli.args import add_data_args, fail, positive_int
from agents.cli.networks import load_networks, task_of


def _sizes(text: str) -> list[int]:
    """An argparse type: comma-separated positive ensemble sizes, e.g. ``1,2,4,8``."""
    try:
        values = [positive_int(v) for v in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive sizes such as 1,2,4,8, got {text!r}"
        ) from None
    return sorted(set(values))


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``ensemble`` and its options to the ``aann`` sub-commands."""
    p = subparsers.add_parser("ensemble", help="accuracy of ensembles of networks against size")
    p.add_argument("nets", nargs="+", help="networks (files, run directories, psiren:LEVEL, globs)")
    add_data_args(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--sizes",
        type=_sizes,
        default=None,
        help="ensemble sizes (default 1, 2, 4, ... up to the number of networks, and that number)",
    )
    p.add_argument("--split", choices=["valid", "test"], default="test", help="scored (test)")
    p.add_argument(
        "--rank-split",
        choices=["train", "valid"],
        default="valid",
        help="split the 'ranked' ensembles pick their members by (default valid)",
    )
    p.add_argument("--max-subsets", type=positive_int, default=50, help="per size (default 50)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random subsets (default 0)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Score ensembles of every size; write data and a figure into ``--out``."""
    from aann_env.viz.analysis import plot_ensemble

    try:
        nets, names = load_networks(args.nets, args.task)
        if len({n.arch.name for n in nets}) > 1:
            raise ValueError("an ensemble needs networks of one architecture (one task)")
        m = len(nets)
        task = get_task(task_of(nets[0], args.task))
        scored = task.split(args.split, args.data_dir)
        rank = task.split(args.rank_split, args.data_dir)
        rank_acc = (
            (member_logits(nets, rank.pixels, rank.labels, args.device).argmax(-1).numpy() == rank.labels)
            .mean(-1)
        )  # fmt: skip
        logits = member_logits(nets, scored.pixels, scored.labels, args.device)
        curve = ensemble_curve(
            logits, scored.labels, names, sizes=args.sizes,
            ranking=list(np.argsort(-rank_acc, kind="stable")), max_subsets=args.max_subsets,
            seed=args.seed,
        )  # fmt: skip
    except ValueError as exc:
        return fail("ensemble", str(exc))
    curve.meta = {"task": task.name, "split": args.split, "rank_split": args.rank_split,
                  f"{args.rank_split}_accuracy": rank_acc.tolist()}  # fmt: skip
    paths = curve.save(args.out)
    paths.append(plot_ensemble(curve, Path(args.out) / "ensemble.png", args.split))
    print(
        f"{m} members, {args.split} accuracy {curve.member_accuracy.min():.4f} .. {curve.member_accuracy.max():.4f}"
    )
    print("size  rule    subsets  mean    min     max     best-by-" + args.rank_split)
    for r in curve.rows:
        print(
            f"{r['size']:4d}  {r['rule']:6s}  {r['subsets']:7d}  {r['mean']:.4f}  {r['min']:.4f}  "
            f"{r['max']:.4f}  {r['ranked']:.4f}"
        )
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
