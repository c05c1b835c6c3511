"""The ``aann`` command line, one module per sub-command.

- ``aann search`` (:mod:`agents.cli.search`): run (or ``--resume``) a search agent; the run
  directory gets the history, the best and current networks, checkpoints and plots. With
  ``--workers N`` Ray actors score the neighbourhoods; ``--population N`` runs N chains.
- ``aann train`` (:mod:`agents.cli.train`): the p-SIREN sweep: a dense net trained with backprop,
  then ternarized and sparsified level by level (``--resume`` continues a killed sweep).
- ``aann rl train`` (:mod:`agents.cli.rl`): train an RL search policy with Stable-Baselines3.
- ``aann analyze neighbours|tsne|family`` (:mod:`agents.cli.analyze`): the paper's analyses of
  saved networks: first and k-th neighbours per layer, t-SNE maps, families.
- ``aann ensemble NETS...`` (:mod:`agents.cli.ensemble`): ensembles of networks against size.
- ``aann drive NET`` (:mod:`agents.cli.drive`): a saved car network drives ``CarRacing-v3`` on
  held-out tracks.
- ``aann plot RUN...`` (:mod:`agents.cli.plot`): accuracy against evaluations and time for several
  runs, and each run's climbing curve coloured by layer.
- ``aann walk`` (:mod:`agents.cli.walk`): a random bit-swap walk from a random p-sparse network.
- ``aann eval PATH`` (:mod:`agents.cli.eval`): evaluate a saved network on the validation and test
  splits.

Each sub-command module has ``add_parser(subparsers)``, which builds its parser and sets
``func``, and ``run(args) -> int``. Every error that aann raises on purpose is printed as one line
on stderr with exit status 2 (no traceback), so scripts can tell bad input from bugs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from aann_env.errors import AANNError
from aann_env.memory import reuse_freed_memory
from agents.cli import analyze, drive, ensemble, plot, rl, search, train, walk
from agents.cli import eval as eval_net  # not the builtin

SUBCOMMANDS = (search, train, rl, analyze, ensemble, drive, plot, walk, eval_net)
"""The sub-command modules, in the order ``aann --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The ``aann`` parser: every sub-command's own parser under one ``COMMAND`` argument."""
    parser = argparse.ArgumentParser(
        prog="aann",
        description="Search for sparse ternary networks (Architecture Agnostic Neural Networks).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``aann`` with ``argv`` (default: the process's arguments); return the exit status.

    Bad flags exit through argparse (``SystemExit(2)``); an :class:`aann_env.errors.AANNError`
    becomes one line on stderr and status 2, Ctrl-C status 130.
    """
    reuse_freed_memory()  # speed only: big tensors stop page-faulting afresh (aann_env.memory)
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv[1:]  # the sub-command's own arguments (recorded by aann train)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except AANNError as exc:
        print(f"aann: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aann: interrupted", file=sys.stderr)
        return 130


__all__ = ["build_parser", "main"]
