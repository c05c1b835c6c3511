"""What a p-SIREN sweep keeps between epochs and in its checkpoint: where it stands
(:class:`Progress`), its data, and the checkpoint file's schema and reader."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from aann_env.core.forward import Evaluation
from aann_env.errors import CheckpointError
from aann_env.tasks import Split
from aann_env.training.config import TrainConfig
from aann_env.training.epoch import TrainData
from aann_env.training.latent import LatentNetwork

CHECKPOINT_SCHEMA = 1


def load_torch_checkpoint(path: Path) -> dict[str, Any]:
    """Read a p-SIREN checkpoint; :class:`CheckpointError` on anything malformed."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds on truncated or foreign files
        raise CheckpointError(
            f"{path} is not a readable p-SIREN checkpoint ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(state, dict) or state.get("schema") != CHECKPOINT_SCHEMA:
        raise CheckpointError(
            f"{path} is not a p-SIREN checkpoint of schema {CHECKPOINT_SCHEMA}; start a new run"
        )
    return state


def cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


@dataclass
class Progress:
    """Where a sweep stands: the stage (0 dense, then one per level) and epoch within it."""

    stage: int = 0
    epoch: int = 0
    elapsed: float = 0.0
    teacher: LatentNetwork | None = None
    best: dict[str, Any] | None = None
    """The stage's best epoch so far: accuracies, the epoch, the model's state."""
    optimizer: dict[str, Any] | None = None
    scheduler: dict[str, Any] | None = None
    """Optimizer and scheduler states to restore (from a checkpoint taken within a stage)."""


@dataclass(frozen=True)
class SweepData:
    train: TrainData
    valid: Split
    test: Split


def level_provenance(
    cfg: TrainConfig, sparsity: float, epoch: int, valid: Evaluation, test: Evaluation
) -> dict[str, Any]:
    """How a level's network was made: the sweep, its epoch, its scores, the versions."""
    return {
        "init": "psiren",
        "task": cfg.task,
        "sparsity": sparsity,
        "seed": cfg.seed,
        "command": cfg.command,
        "config": cfg.training_key(),
        "epoch": epoch,
        "val_accuracy": valid.accuracy,
        "val_loss": valid.loss,
        "val_size": valid.n,
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
