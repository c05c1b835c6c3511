"""``aann drive NET``: a saved car network drives ``CarRacing-v3`` on held-out tracks."""

from __future__ import annotations

import argparse
import time

import numpy as np

from aann_env.core.network import TernaryNetwork
from aann_env.tasks.car.dataset import CarDataConfig
from aann_env.tasks.car.drive import drive
from aann_env.tasks.car.policy import NetworkPolicy
from agents.cli.args import fail, positive_int


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``drive`` and its options to the ``aann`` sub-commands."""
    p = subparsers.add_parser(
        "drive",
        help="drive CarRacing-v3 with a saved car network",
        description="Let a saved car network drive CarRacing-v3 (each frame preprocessed to the "
        "96x96 grey input; classes left, right, gas) and report each track's return. By default "
        "the tracks are the car data set's test tracks, which no network trained on.",
    )
    p.add_argument("path", help="a car network file (.npz) written by aann")
    p.add_argument("--tracks", type=positive_int, default=5, help="tracks to drive (default 5)")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the first track; the others follow (default: the first test track)",
    )
    p.add_argument(
        "--max-steps", type=positive_int, default=1000, help="steps per track (default 1000)"
    )
    p.add_argument("--video", default=None, help="write the first track's drive to a .gif or .mp4")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Drive held-out CarRacing tracks with a saved car network; report the returns."""
    net = TernaryNetwork.load(args.path)
    try:
        policy = NetworkPolicy(net, args.device)
    except ValueError as exc:
        return fail("drive", str(exc))
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
