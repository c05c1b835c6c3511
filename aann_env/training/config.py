"""What defines a p-SIREN sweep: its sparsity levels and its :class:`TrainConfig`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from aann_env.tasks import TASKS

PAPER_MNIST_LEVELS: tuple[float, ...] = (
    *(i / 10 for i in range(9)),
    0.85,
    0.87,
    0.89,
    0.91,
    0.93,
    0.95,
)
"""The paper's 15 MNIST sparsity levels (Fig. 2a): 0, 10, ..., 80, 85, 87, ..., 95 percent."""

PAPER_CAR_LEVELS: tuple[float, ...] = (*PAPER_MNIST_LEVELS, 0.96, 0.97, 0.98, 0.99)
"""The paper's 19 car-racing levels (Fig. 2b): the MNIST levels and 96, 97, 98, 99 percent."""

MNIST_LEVELS: tuple[float, ...] = tuple(sorted((*PAPER_MNIST_LEVELS, 0.9)))
"""The default MNIST sweep: the paper's 15 levels and 90%, where the paper's SENSE climb (Fig. 5)
starts and the 90% targets are set (16 levels)."""

CAR_LEVELS: tuple[float, ...] = tuple(sorted((*PAPER_CAR_LEVELS, 0.9)))
"""The default car sweep: the paper's 19 levels and 90% (20 levels)."""

DEFAULT_LEVELS: dict[str, tuple[float, ...]] = {"mnist": MNIST_LEVELS, "car": CAR_LEVELS}
DEFAULT_SHIFT: dict[str, int] = {"mnist": 2, "car": 0}


# ---------------------------------------------------------------------------------------- levels
def check_levels(levels: Iterable[float]) -> tuple[float, ...]:
    """Validate a level list: fractions in [0, 1), whole percents, strictly increasing, not empty."""
    out = tuple(float(v) for v in levels)
    if not out:
        raise ValueError("the level list is empty; give at least one sparsity level")
    for v in out:
        if not 0.0 <= v < 1.0 or not math.isfinite(v):
            raise ValueError(f"sparsity level {v} is outside [0, 1) (use fractions: 0.9 for 90%)")
        if abs(v * 100 - round(v * 100)) > 1e-9:
            raise ValueError(f"sparsity level {v} is not a whole percent (0.9 or 0.91 are fine)")
    for a, b in zip(out, out[1:], strict=False):
        if not b > a:
            raise ValueError(
                f"sparsity levels must increase strictly (p-SIREN only sparsifies), got {a} then {b}"
            )
    return tuple(round(v, 2) for v in out)


def parse_levels(text: str) -> tuple[float, ...]:
    """Parse ``"0,10,20,90"`` (percents) into fractions, with a clear error on anything else."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        percents = [float(p.rstrip("%")) for p in parts]
    except ValueError:
        raise ValueError(
            f"levels must be comma-separated percents such as 0,50,80,90, got {text!r}"
        ) from None
    return check_levels(p / 100 for p in percents)


# ---------------------------------------------------------------------------------------- config
@dataclass
class TrainConfig:
    """Everything that defines a p-SIREN sweep."""

    task: str = "mnist"
    """Task name (``mnist`` or ``car``)."""
    levels: tuple[float, ...] = ()
    """Sparsity levels in increasing order; empty means the task's paper levels."""
    seed: int = 0
    """Seed of the initialisation and of the data order."""
    dense_epochs: int = 15
    """Epochs of dense training."""
    level_epochs: int = 3
    """Fine-tuning epochs per level below ``long_from``."""
    long_epochs: int = 10
    """Fine-tuning epochs per level at or above ``long_from``."""
    long_from: float = 0.85
    """Levels from this sparsity on get ``long_epochs``."""
    batch_size: int = 128
    """Minibatch size."""
    lr: float = 2e-3
    """Adam learning rate of the dense phase (cosine decay over the phase)."""
    level_lr: float = 5e-3
    """Adam learning rate of the latent weights per level (cosine decay over the level)."""
    scale_lr: float = 1e-3
    """Adam learning rate of the log2 scales (straight-through through the rounding; 0 freezes
    them at the values fitted at the first ternary level)."""
    distill: float = 0.7
    """Weight of the distillation loss against the dense network's logits (0: labels only)."""
    shift: int | None = None
    """Training augmentation: each image moves by up to this many pixels in x and y (0: none).
    None: the task's default (MNIST 2; car 0, because where the track lies relative to the car,
    which sits at a fixed place in the frame, is what decides the expert's action)."""
    temperature: float = 2.0
    """Distillation temperature."""
    train_size: int | None = None
    """Training images to use (a fixed subset); None: all."""
    eval_size: int | None = None
    """Validation images for model selection (a fixed subset); None: all."""
    data_dir: str | None = None
    """Raw data folder (see the task's loader)."""
    device: str = "cpu"
    """Torch device for training (evaluation of saved networks is exact on any device)."""
    command: str = ""
    """The command line that started the run (recorded in every saved network)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form notes recorded with the run."""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; tasks: {sorted(TASKS)}")
        self.levels = check_levels(self.levels or DEFAULT_LEVELS[self.task])
        for name in ("dense_epochs", "level_epochs", "long_epochs"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.level_epochs < 1 or self.long_epochs < 1:
            raise ValueError("every level needs at least one fine-tuning epoch")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        if self.shift is None:
            self.shift = DEFAULT_SHIFT[self.task]
        if not 0 <= int(self.shift) <= 8:
            raise ValueError(f"shift must be in 0..8 pixels, got {self.shift}")
        if not 0.0 <= self.distill <= 1.0:
            raise ValueError(f"distill must be in [0, 1], got {self.distill}")
        for name in ("lr", "level_lr", "temperature"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not self.scale_lr >= 0:
            raise ValueError(f"scale_lr must be >= 0, got {self.scale_lr}")

    def epochs_for(self, sparsity: float) -> int:
        return self.long_epochs if sparsity >= self.long_from - 1e-9 else self.level_epochs

    @property
    def stages(self) -> list[float | None]:
        """None for the dense phase, then each level."""
        return [None, *self.levels]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["levels"] = list(self.levels)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["levels"] = tuple(kwargs.get("levels", ()))
        return cls(**kwargs)

    def training_key(self) -> dict[str, Any]:
        """The fields the trained networks depend on (not the command, device or data folder)."""
        d = self.to_dict()
        for k in ("command", "device", "data_dir", "extra"):
            d.pop(k)
        return d
