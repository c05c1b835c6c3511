"""``aann train``: the p-SIREN sweep.

A dense net is trained with backprop, then ternarized and sparsified level by level
(:class:`aann_env.training.psiren.PSIRENRun`); ``--resume`` continues a killed sweep.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from aann_env.training.psiren import PSIRENRun, TrainConfig, parse_levels
from agents.cli.args import (
    add_data_args,
    fail,
    non_negative_int,
    positive_float,
    positive_int,
    sparsity,
)

TRAIN_OPTIONS = (
    "levels",
    "seed",
    "dense_epochs",
    "level_epochs",
    "long_epochs",
    "long_from",
    "batch_size",
    "lr",
    "level_lr",
    "scale_lr",
    "distill",
    "temperature",
    "shift",
    "train_size",
    "eval_size",
)
"""The flags that are :class:`TrainConfig` fields (default None: the config's default)."""


def levels(text: str) -> tuple[float, ...]:
    """An argparse type: sparsity levels in percent, increasing, e.g. ``0,50,90``."""
    try:
        return parse_levels(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``train`` and its options to the ``aann`` sub-commands."""
    p = subparsers.add_parser(
        "train",
        help="p-SIREN: backprop-trained sparse ternary networks at every sparsity level",
        description="Train the task's dense net with backprop, then ternarize and sparsify it "
        "level by level, fine-tuning each level with a straight-through estimator. Each level's "
        "best network (exact validation accuracy) is saved as OUT/nets/psiren-XX.npz; OUT also "
        "gets the history, the sweep table (sweep.csv), a checkpoint after every epoch, and the "
        "plot of test accuracy against sparsity.",
    )
    add_data_args(p)
    p.add_argument("--out", required=True, help="the run directory")
    p.add_argument(
        "--resume", action="store_true", help="continue the sweep in --out from its checkpoint"
    )
    _add_config_options(p)
    p.add_argument("--device", default="cpu", help="torch device for training (default cpu)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    p.add_argument(
        "--max-epochs",
        type=positive_int,
        default=None,
        help="stop after this many epochs (resume later with --resume)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--no-plot", action="store_true", help="do not write the sweep plot")
    p.set_defaults(func=run)
    return p


def _add_config_options(p: argparse.ArgumentParser) -> None:
    """The :data:`TRAIN_OPTIONS` flags."""
    p.add_argument(
        "--levels",
        type=levels,
        default=None,
        help="sparsity levels in percent, increasing, e.g. 0,50,90 (default: the paper's 15 "
        "MNIST or 19 car levels, plus 90)",
    )
    p.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    p.add_argument("--dense-epochs", type=non_negative_int, default=None, help="default 15")
    p.add_argument(
        "--level-epochs", type=positive_int, default=None, help="epochs per level (default 3)"
    )
    p.add_argument(
        "--long-epochs",
        type=positive_int,
        default=None,
        help="epochs per level from --long-from on (default 10)",
    )
    p.add_argument(
        "--long-from", type=sparsity, default=None, help="see --long-epochs (default 0.85)"
    )
    p.add_argument("--batch-size", type=positive_int, default=None, help="default 128")
    p.add_argument("--lr", type=positive_float, default=None, help="dense Adam lr (2e-3)")
    p.add_argument("--level-lr", type=positive_float, default=None, help="per-level Adam lr (5e-3)")
    p.add_argument(
        "--scale-lr",
        type=float,
        default=None,
        help="straight-through Adam lr of the log2 scales (default 1e-3; 0 freezes them)",
    )
    p.add_argument(
        "--distill", type=float, default=None, help="distillation weight in [0, 1] (0.7)"
    )
    p.add_argument("--temperature", type=positive_float, default=None, help="default 2")
    p.add_argument(
        "--shift",
        type=non_negative_int,
        default=None,
        help="augmentation: random shifts of up to this many pixels (default: MNIST 2, car 0)",
    )
    p.add_argument(
        "--train-size", type=positive_int, default=None, help="training images (default all)"
    )
    p.add_argument(
        "--eval-size",
        type=positive_int,
        default=None,
        help="validation images for model selection (default all)",
    )


def run(args: argparse.Namespace) -> int:
    """Run or resume a p-SIREN sweep; report each level's figures and where the nets went."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    given = {k: getattr(args, k) for k in TRAIN_OPTIONS if getattr(args, k) is not None}
    command = "aann train " + " ".join(args.argv)
    try:
        config = TrainConfig(
            task=args.task,
            data_dir=args.data_dir,
            device=args.device,
            command=command,
            **given,
        )
    except ValueError as exc:
        return fail("train", str(exc))
    if args.resume:
        sweep = PSIRENRun(args.out, config if given else None, resume=True)
        sweep.config.device = args.device  # where to compute may change between calls
        if args.data_dir is not None:
            sweep.config.data_dir = args.data_dir
    else:
        sweep = PSIRENRun(args.out, config)
    summary = sweep.run(progress=not args.no_progress, max_epochs=args.max_epochs)
    if not summary["finished"]:
        print(
            f"aann train: stopped after --max-epochs {args.max_epochs}; continue with "
            f"aann train --out {args.out} --resume"
        )
        return 0
    print(f"p-SIREN sweep of {len(summary['levels'])} levels done in {summary['wall_time']:.0f} s:")
    for row in summary["levels"]:
        print(
            f"  {row['sparsity']:5.0%} sparse: validation {row['val_accuracy']:.4f}, test "
            f"{row['test_accuracy']:.4f}  {Path(args.out, row['path'])}"
        )
    if not args.no_plot:
        # matplotlib takes half a second to import: only a sweep that plots pays for it.
        from aann_env.viz import plot_sweep

        print(f"plot: {plot_sweep([args.out], Path(args.out) / 'sweep.png')}")
    return 0
