"""The ``aann`` command line.

- ``aann search``: run (or ``--resume``) a search agent; the run directory gets the history, the
  best and current networks, checkpoints and plots.
- ``aann eval PATH``: evaluate a saved network on the validation and test splits.
- ``aann plot RUN...``: accuracy against evaluations and time for several runs, and each run's
  climbing curve coloured by layer.
- ``aann walk``: a random bit-swap walk from a random p-sparse network.
- ``aann drive NET``: a saved car network drives ``CarRacing-v3`` on held-out tracks.
- ``aann train``: the p-SIREN sweep: a dense net trained with backprop, then ternarized and
  sparsified level by level (``--resume`` continues a killed sweep).

Every error that aann raises on purpose is printed as one line on stderr with exit status 2 (no
traceback), so scripts can tell bad input from bugs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aann_env.core.forward import evaluate
from aann_env.core.network import TernaryNetwork, random_network
from aann_env.errors import AANNError
from aann_env.tasks import TASKS, get_task
from agents.sense import SCHEDULES


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


def _positive(kind: type, what: str) -> Callable[[str], Any]:
    """An argparse type: a positive ``kind`` (int or float)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value

    return parse


_positive_int = _positive(int, "a positive integer")
_positive_float = _positive(float, "a positive number")


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


def _neighborhood(text: str) -> int | dict[str, int]:
    """``64`` or ``fc=256,2.0=32,1.0=8``."""
    try:
        if "=" not in text:
            return _positive_int(text)
        out = {}
        for part in text.split(","):
            name, value = part.split("=")
            out[name.strip()] = _positive_int(value)
        return out
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or LAYER=SIZE pairs such as fc=256,2.0=32,1.0=8, got {text!r}"
        ) from None


def _weights(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as 0,1,3, got {text!r}"
        ) from None
    if any(v < 0 for v in values) or sum(values) <= 0:
        raise argparse.ArgumentTypeError(
            f"layer weights must be non-negative and not all zero, got {text!r}"
        )
    return values


DEFAULT_NEIGHBORHOOD = {"mnist": "fc=256,2.0=32,1.0=8", "car": "fc2=64,fc1=256,2.0=32,1.0=8"}
"""SENSE's default swaps per neighbourhood and layer, per task."""
AGENT_OPTIONS = {
    "sense": ("neighborhood_size", "schedule", "block", "layer_weights", "criterion", "accept"),
    "random": ("batch", "layer_weights"),
    "annealing": ("t_start", "t_end", "energy", "batch", "layer_weights"),
}


def cmd_search(args: argparse.Namespace) -> int:
    """Run or resume a search; report where the best network and the plots went."""
    from aann_env.viz.plots import plot_all
    from agents.runner import SearchConfig, SearchRun

    if args.resume:
        run = SearchRun(args.out, None, resume=True)  # everything as stored in the run ...
        if args.budget_evals is not None:  # ... except a budget given now
            run.config.budget_evals = args.budget_evals
        if args.budget_seconds is not None:
            run.config.budget_seconds = args.budget_seconds
    else:
        agent_kwargs = {
            k: getattr(args, k) for k in AGENT_OPTIONS[args.agent] if getattr(args, k) is not None
        }
        if args.agent == "sense":
            agent_kwargs.setdefault(
                "neighborhood_size", _neighborhood(DEFAULT_NEIGHBORHOOD[args.task])
            )
        try:
            config = SearchConfig(
                task=args.task,
                agent=args.agent,
                sparsity=args.sparsity,
                init=args.init,
                seed=args.seed,
                budget_evals=args.budget_evals,
                budget_seconds=args.budget_seconds,
                eval_size=args.eval_size,
                device=args.device,
                data_dir=args.data_dir,
                agent_kwargs=agent_kwargs,
                checkpoint_seconds=args.checkpoint_seconds,
                checkpoint_steps=args.checkpoint_steps,
            )
        except ValueError as exc:
            print(f"aann search: error: {exc}", file=sys.stderr)
            return 2
        if args.init == "psiren":
            from aann_env.nets import load_psiren

            try:
                load_psiren(args.task, args.sparsity)
            except ValueError as exc:
                print(f"aann search: error: {exc}", file=sys.stderr)
                return 2
        elif args.init != "random" and not Path(args.init).is_file():
            print(
                f"aann search: error: --init {args.init!r} is neither 'random', 'psiren' nor a "
                "network file",
                file=sys.stderr,
            )
            return 2
        run = SearchRun(args.out, config)
    summary = run.run(progress=not args.no_progress)
    print(
        f"{summary['agent']}: {summary['steps']} steps, {summary['evals']} evaluations in "
        f"{summary['wall_time']:.0f} s; validation accuracy {summary['val_accuracy']:.4f}, "
        f"test accuracy {summary['test_accuracy']:.4f}; best network (validation "
        f"{summary['best_val_accuracy']:.4f}, test {summary['best_test_accuracy']:.4f}) in {summary['best_path']}"
    )
    if not args.no_plot:
        paths = plot_all(args.out)
        print("plots: " + ", ".join(str(p) for p in paths))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """Plot one or more runs."""
    from aann_env.viz.plots import plot_climb, plot_runs, plot_sweep

    for run in args.runs:
        if not Path(run, "history.csv").is_file():
            print(
                f"aann plot: error: {run} is not a run directory (no history.csv)", file=sys.stderr
            )
            return 2
    sweeps = [run for run in args.runs if Path(run, "sweep.csv").is_file()]
    searches = [run for run in args.runs if run not in sweeps]
    out = Path(args.out)
    paths = []
    if sweeps:
        paths.append(plot_sweep(sweeps, out / "sweep.png"))
    if searches:
        paths.append(plot_runs(searches, out / "accuracy.png"))
    for run in searches:
        paths.append(plot_climb(run, out / f"climb-{Path(run).name}.png"))
    print("plots: " + ", ".join(str(p) for p in paths))
    return 0


def _levels(text: str) -> tuple[float, ...]:
    from aann_env.training.psiren import parse_levels

    try:
        return parse_levels(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


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


def cmd_train(args: argparse.Namespace) -> int:
    """Run or resume a p-SIREN sweep; report each level's figures and where the nets went."""
    from aann_env.training.psiren import PSIRENRun, TrainConfig
    from aann_env.viz.plots import plot_sweep

    if args.threads is not None:
        import torch

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
        print(f"aann train: error: {exc}", file=sys.stderr)
        return 2
    if args.resume:
        run = PSIRENRun(args.out, config if given else None, resume=True)
        run.config.device = args.device  # where to compute may change between calls
        if args.data_dir is not None:
            run.config.data_dir = args.data_dir
    else:
        run = PSIRENRun(args.out, config)
    summary = run.run(progress=not args.no_progress, max_epochs=args.max_epochs)
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
        print(f"plot: {plot_sweep([args.out], Path(args.out) / 'sweep.png')}")
    return 0


def cmd_drive(args: argparse.Namespace) -> int:
    """Drive held-out CarRacing tracks with a saved car network; report the returns."""
    from aann_env.tasks.car.dataset import CarDataConfig
    from aann_env.tasks.car.drive import drive
    from aann_env.tasks.car.policy import NetworkPolicy

    net = TernaryNetwork.load(args.path)
    try:
        policy = NetworkPolicy(net, args.device)
    except ValueError as exc:
        print(f"aann drive: error: {exc}", file=sys.stderr)
        return 2
    if args.seed is None:
        args.seed = CarDataConfig().seeds()["test"][0]
    seeds = list(range(args.seed, args.seed + args.tracks))
    print(f"{args.path}: {net}")
    print(f"driving CarRacing-v3 tracks {seeds[0]}..{seeds[-1]} (max {args.max_steps} steps each)")
    t0 = time.perf_counter()
    returns = drive(
        policy, seeds, max_steps=args.max_steps, video=args.video, progress=not args.no_progress
    )
    for seed, ret in zip(seeds, returns, strict=True):
        print(f"  track {seed}: return {ret:.1f}")
    share = policy.counts / max(1, policy.counts.sum())
    print(
        f"mean return {np.mean(returns):.1f} over {len(returns)} tracks (min {np.min(returns):.1f}) "
        f"in {time.perf_counter() - t0:.0f} s; classes left/right/gas "
        f"{share[0]:.0%}/{share[1]:.0%}/{share[2]:.0%}"
    )
    if args.video:
        print(f"video of track {seeds[0]}: {args.video}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aann",
        description="Search for sparse ternary networks (Architecture Agnostic Neural Networks).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "search",
        help="run or resume a search agent",
        description="Search a family of sparse ternary networks. Budgets count neighbour "
        "evaluations and wall time; the run directory (--out) gets the history, the best and "
        "current networks, checkpoints and plots, and --resume continues a killed run exactly.",
    )
    _add_data_args(p)
    p.add_argument(
        "--agent",
        choices=sorted(AGENT_OPTIONS),
        default="sense",
        help="search agent (default: sense)",
    )
    p.add_argument(
        "--sparsity", type=_sparsity, default=0.8, help="sparsity of a random start (default 0.8)"
    )
    p.add_argument(
        "--init",
        default="random",
        help="'random' (default), 'psiren' (the shipped p-SIREN net at --sparsity) or a saved "
        "network to start from",
    )
    p.add_argument(
        "--budget-evals",
        type=_positive_int,
        default=None,
        metavar="N",
        help="stop after N evaluations",
    )
    p.add_argument(
        "--budget-seconds",
        type=_positive_float,
        default=None,
        metavar="S",
        help="stop after S seconds",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", required=True, help="the run directory")
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    p.add_argument(
        "--eval-size",
        type=_positive_int,
        default=10_000,
        help="validation images to score on (default 10000)",
    )
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    g = p.add_argument_group("SENSE")
    g.add_argument(
        "--neighborhood-size",
        type=_neighborhood,
        default=None,
        metavar="K",
        help=f"swaps per neighbourhood: a number or LAYER=K pairs (default: MNIST {DEFAULT_NEIGHBORHOOD['mnist']}; car {DEFAULT_NEIGHBORHOOD['car']})",
    )
    g.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=None,
        help="layer schedule (default alternate): alternate = Fig. 6, fc = Fig. 7, "
        "random-block = Fig. 8, uniform, adaptive (most accuracy gained per unit of cost)",
    )
    g.add_argument(
        "--block",
        type=_positive_int,
        default=None,
        help="neighbourhoods per layer visit (default 3)",
    )
    g.add_argument(
        "--criterion",
        choices=["accuracy", "loss"],
        default=None,
        help="rank neighbours by (default accuracy)",
    )
    g.add_argument(
        "--accept",
        choices=["no_worse", "better", "always"],
        default=None,
        help="commit rule (default no_worse)",
    )
    g = p.add_argument_group("random search and simulated annealing")
    g.add_argument(
        "--batch",
        type=_positive_int,
        default=None,
        help="random swaps scored per step (default 16)",
    )
    g.add_argument(
        "--t-start",
        type=_positive_float,
        default=None,
        help="annealing: initial temperature (default 2e-3)",
    )
    g.add_argument(
        "--t-end",
        type=_positive_float,
        default=None,
        help="annealing: final temperature (default 1e-5)",
    )
    g.add_argument(
        "--energy", choices=["loss", "error"], default=None, help="annealing: energy (default loss)"
    )
    p.add_argument(
        "--layer-weights",
        type=_weights,
        default=None,
        metavar="W",
        help="odds of each layer, e.g. 0,1,3 (SENSE uniform schedule, random search, annealing)",
    )
    p.add_argument(
        "--checkpoint-seconds",
        type=_positive_float,
        default=60.0,
        help="checkpoint at least this often (default 60)",
    )
    p.add_argument(
        "--checkpoint-steps",
        type=_positive_int,
        default=None,
        help="also checkpoint every this many steps",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plot", action="store_true", help="do not write plots at the end")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "train",
        help="p-SIREN: backprop-trained sparse ternary networks at every sparsity level",
        description="Train the task's dense net with backprop, then ternarize and sparsify it "
        "level by level, fine-tuning each level with a straight-through estimator. Each level's "
        "best network (exact validation accuracy) is saved as OUT/nets/psiren-XX.npz; OUT also "
        "gets the history, the sweep table (sweep.csv), a checkpoint after every epoch, and the "
        "plot of test accuracy against sparsity.",
    )
    _add_data_args(p)
    p.add_argument("--out", required=True, help="the run directory")
    p.add_argument(
        "--resume", action="store_true", help="continue the sweep in --out from its checkpoint"
    )
    p.add_argument(
        "--levels",
        type=_levels,
        default=None,
        help="sparsity levels in percent, increasing, e.g. 0,50,90 (default: the paper's 15 "
        "MNIST or 19 car levels, plus 90)",
    )
    p.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    p.add_argument("--dense-epochs", type=_non_negative_int, default=None, help="default 15")
    p.add_argument(
        "--level-epochs", type=_positive_int, default=None, help="epochs per level (default 3)"
    )
    p.add_argument(
        "--long-epochs",
        type=_positive_int,
        default=None,
        help="epochs per level from --long-from on (default 10)",
    )
    p.add_argument(
        "--long-from", type=_sparsity, default=None, help="see --long-epochs (default 0.85)"
    )
    p.add_argument("--batch-size", type=_positive_int, default=None, help="default 128")
    p.add_argument("--lr", type=_positive_float, default=None, help="dense Adam lr (2e-3)")
    p.add_argument(
        "--level-lr", type=_positive_float, default=None, help="per-level Adam lr (5e-3)"
    )
    p.add_argument(
        "--scale-lr",
        type=float,
        default=None,
        help="straight-through Adam lr of the log2 scales (default 1e-3; 0 freezes them)",
    )
    p.add_argument(
        "--distill", type=float, default=None, help="distillation weight in [0, 1] (0.7)"
    )
    p.add_argument("--temperature", type=_positive_float, default=None, help="default 2")
    p.add_argument(
        "--shift",
        type=_non_negative_int,
        default=None,
        help="augmentation: random shifts of up to this many pixels (default: MNIST 2, car 0)",
    )
    p.add_argument(
        "--train-size", type=_positive_int, default=None, help="training images (default all)"
    )
    p.add_argument(
        "--eval-size",
        type=_positive_int,
        default=None,
        help="validation images for model selection (default all)",
    )
    p.add_argument("--device", default="cpu", help="torch device for training (default cpu)")
    p.add_argument("--threads", type=_positive_int, default=None, help="torch CPU threads")
    p.add_argument(
        "--max-epochs",
        type=_positive_int,
        default=None,
        help="stop after this many epochs (resume later with --resume)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--no-plot", action="store_true", help="do not write the sweep plot")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "drive",
        help="drive CarRacing-v3 with a saved car network",
        description="Let a saved car network drive CarRacing-v3 (each frame preprocessed to the "
        "96x96 grey input; classes left, right, gas) and report each track's return. By default "
        "the tracks are the car data set's test tracks, which no network trained on.",
    )
    p.add_argument("path", help="a car network file (.npz) written by aann")
    p.add_argument("--tracks", type=_positive_int, default=5, help="tracks to drive (default 5)")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the first track; the others follow (default: the first test track)",
    )
    p.add_argument(
        "--max-steps", type=_positive_int, default=1000, help="steps per track (default 1000)"
    )
    p.add_argument("--video", default=None, help="write the first track's drive to a .gif or .mp4")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_drive)

    p = sub.add_parser(
        "plot",
        help="plot search runs and p-SIREN sweeps",
        description="Search runs: accuracy against evaluations and time, and each run's climb "
        "coloured by layer. p-SIREN sweeps (aann train): accuracy against sparsity (Fig. 2).",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories")
    p.add_argument("--out", default="plots", help="folder for the PNGs (default ./plots)")
    p.set_defaults(func=cmd_plot)

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
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv[1:]  # the subcommand's own arguments (recorded by aann train)
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
