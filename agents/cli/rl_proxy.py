"""``aann rl proxy``: the training proxy's phase check (:mod:`agents.rl.proxy`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from agents.cli.args import fail, positive_float, positive_int


def add_proxy_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "proxy",
        help="held-out accuracy against cost of hand schedules on the training proxy",
        description="Run hand schedules (SENSE fc, adaptive, handoff:RATE; fc 64 swaps) from "
        "the same random starts on the training proxy (2,000 training images scored at a time, "
        "moved every 200 steps; held-out accuracy on 5,000 validation images) and print the "
        "held-out accuracy at each cost mark. The proxy is right for training a schedule when "
        "adaptive overtakes fc within the training budgets. Results are appended to OUT.csv "
        "as each search ends; running the command again resumes.",
    )
    p.add_argument("--seeds", default="101,102", help="start seeds (default 101,102)")
    p.add_argument(
        "--schedules", default="fc,adaptive", help="hand schedules (default fc,adaptive)"
    )
    p.add_argument("--step", type=positive_float, default=62_500.0, help="cost between marks")
    p.add_argument("--marks", type=positive_int, default=20, help="number of marks (default 20)")
    p.add_argument("--out", required=True, help="results CSV (and OUT.md, the table)")
    p.add_argument(
        "--snapshots",
        default=None,
        metavar="DIR",
        help="save a snapshot at every mark here: starts of late-phase training episodes",
    )
    p.set_defaults(func=run_proxy)


def run_proxy(args: argparse.Namespace) -> int:
    from agents.rl import proxy

    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        return fail("rl proxy", f"--seeds takes comma-separated integers, got {args.seeds!r}")
    schedules = [s.strip() for s in args.schedules.split(",") if s.strip()]
    marks = [args.step * i for i in range(1, args.marks + 1)]
    out = Path(args.out).with_suffix(".csv")
    try:
        points = proxy.curves(seeds, marks, schedules, log=out, snapshots=args.snapshots)
    except ValueError as exc:
        return fail("rl proxy", str(exc))
    text = proxy.table(points)
    print(text)
    out.with_suffix(".md").write_text(text + "\n")
    return 0
