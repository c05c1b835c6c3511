"""``aann plot RUN...``: plots of search runs and p-SIREN sweeps.

Search runs: accuracy against evaluations and time, and each run's climbing curve coloured by
layer. Sweeps (``aann train``): accuracy against sparsity.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agents.cli.args import fail


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``plot`` and its options to the ``aann`` sub-commands."""
    p = subparsers.add_parser(
        "plot",
        help="plot search runs and p-SIREN sweeps",
        description="Search runs: accuracy against evaluations and time, and each run's climb "
        "coloured by layer. p-SIREN sweeps (aann train): accuracy against sparsity (Fig. 2).",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories")
    p.add_argument("--out", default="plots", help="folder for the PNGs (default ./plots)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Plot one or more runs; a run with a ``sweep.csv`` is a p-SIREN sweep."""
    # matplotlib takes half a second to import: `aann --help` should not pay for it.
    from aann_env.viz import plot_climb, plot_runs, plot_sweep

    for run_dir in args.runs:
        if not Path(run_dir, "history.csv").is_file():
            return fail("plot", f"{run_dir} is not a run directory (no history.csv)")
    sweeps = [run_dir for run_dir in args.runs if Path(run_dir, "sweep.csv").is_file()]
    searches = [run_dir for run_dir in args.runs if run_dir not in sweeps]
    out = Path(args.out)
    paths = []
    if sweeps:
        paths.append(plot_sweep(sweeps, out / "sweep.png"))
    if searches:
        paths.append(plot_runs(searches, out / "accuracy.png"))
    for run_dir in searches:
        paths.append(plot_climb(run_dir, out / f"climb-{Path(run_dir).name}.png"))
    print("plots: " + ", ".join(str(p) for p in paths))
    return 0
