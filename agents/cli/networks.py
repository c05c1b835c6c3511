"""Naming networks on the command line: files, run directories, shipped nets, glob patterns.

A NET argument is one of:

- a network file written by aann (``best.npz``, ``psiren-90.npz``, ...);
- a run directory of ``aann search`` (its best network, ``best.npz``);
- ``psiren:LEVEL`` (the p-SIREN network that ships for ``--task`` at sparsity LEVEL, e.g.
  ``psiren:0.9``);
- a glob pattern of any of those (``'runs/family/seed-*'``; quote it, or let the shell expand it).
"""

from __future__ import annotations

import glob
from pathlib import Path

from aann_env.core.network import TernaryNetwork
from aann_env.errors import DataError
from aann_env.nets import level_name, load_psiren
from aann_env.tasks import TASKS

BEST_FILE = "best.npz"
"""The network a run directory stands for."""


def _one(spec: str, task: str) -> tuple[TernaryNetwork, str]:
    if spec.startswith("psiren:"):
        text = spec.split(":", 1)[1]
        try:
            level = float(text)
        except ValueError:
            raise DataError(f"{spec!r}: expected psiren:LEVEL such as psiren:0.9") from None
        return load_psiren(task, level), f"{task}-{level_name(level)}"
    path = Path(spec)
    if path.is_dir():
        best = path / BEST_FILE
        if not best.is_file():
            raise DataError(
                f"{spec} is a folder without {BEST_FILE}: name a network file or the run "
                "directory of an aann search that has saved its best network"
            )
        return TernaryNetwork.load(best), str(path)
    if not path.exists():
        raise DataError(
            f"no network at {spec!r}: give a network file, a run directory, psiren:LEVEL or a "
            "glob pattern that matches some"
        )
    return TernaryNetwork.load(path), str(path)


def load_networks(specs: list[str], task: str) -> tuple[list[TernaryNetwork], list[str]]:
    """The networks that ``specs`` name, with a label each, in the order given (globs sorted).

    Raises:
        DataError: A spec names nothing, or nothing loadable (the message says what to give).
        CheckpointError: A network file is damaged.
        ValueError: ``psiren:LEVEL`` at a level that does not ship.
    """
    nets, names = [], []
    for spec in specs:
        if any(c in spec for c in "*?[") and not Path(spec).exists():
            matches = sorted(glob.glob(spec))
            if not matches:
                raise DataError(f"the pattern {spec!r} matches no file or folder")
        else:
            matches = [spec]
        for match in matches:
            net, name = _one(match, task)
            nets.append(net)
            names.append(name)
    return nets, names


def task_of(net: TernaryNetwork, fallback: str) -> str:
    """The task whose architecture ``net`` has (the file names it), else ``fallback``."""
    return net.arch.name if net.arch.name in TASKS else fallback
