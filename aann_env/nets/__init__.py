"""The p-SIREN networks that ship with aann, one file per task and sparsity level.

``aann_env/nets/<task>/psiren-XX.npz`` holds the network of level XX percent, written by ``aann
train`` (:mod:`aann_env.training.psiren`) with its command, seed and accuracies in its provenance.
This module only finds and loads them, so the env and the plots need no training code for that.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aann_env.core.network import TernaryNetwork
from aann_env.errors import CheckpointError
from aann_env.tasks.registry import get_task

__all__ = ["level_name", "load_psiren", "shipped_dir", "shipped_levels"]


def level_name(sparsity: float) -> str:
    """File stem of a level's network: ``psiren-90`` for 0.9 (whole percents only)."""
    percent = round(sparsity * 100)
    return f"psiren-{percent:02d}"


def shipped_dir(task: str) -> Path:
    """Folder of the p-SIREN networks that ship with aann for ``task``."""
    return Path(str(resources.files("aann_env.nets"))) / task


def shipped_levels(task: str) -> tuple[float, ...]:
    """Sparsity levels with a shipped p-SIREN network for ``task`` (possibly none)."""
    folder = shipped_dir(task)
    if not folder.is_dir():
        return ()
    levels = []
    for path in folder.glob("psiren-*.npz"):
        try:
            levels.append(int(path.stem.split("-", 1)[1]) / 100)
        except ValueError:
            continue
    return tuple(sorted(levels))


def load_psiren(task: str, sparsity: float) -> TernaryNetwork:
    """The shipped p-SIREN network of ``task`` at ``sparsity``.

    Raises:
        ValueError: No network ships for that task and sparsity (the message lists those that do).
        CheckpointError: The shipped file is damaged (reinstall aann).
    """
    get_task(task)
    path = shipped_dir(task) / f"{level_name(sparsity)}.npz"
    if abs(sparsity * 100 - round(sparsity * 100)) > 1e-9 or not path.is_file():
        have = ", ".join(f"{v:g}" for v in shipped_levels(task)) or "none"
        raise ValueError(
            f"no p-SIREN network ships for task {task!r} at sparsity {sparsity:g}; shipped "
            f"sparsities: {have}. Train one with `aann train --task {task}` and start from its "
            "file, or use a shipped sparsity"
        )
    net = TernaryNetwork.load(path, arch=get_task(task).arch)
    if abs(net.sparsity - sparsity) > 1e-9:
        raise CheckpointError(f"{path} holds a {net.sparsity}-sparse network, not {sparsity}")
    return net
