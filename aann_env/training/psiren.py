"""p-SIREN: backprop-trained p-sparse ternary networks at every sparsity level of a sweep.

The paper's pipeline (section 4.1), as ``aann train`` runs it:

1. **Dense.** Train the task's real-valued network (same layers, HardTanh, pooling, no bias; see
   :class:`~aann_env.training.latent.LatentNetwork`) with Adam on the training split.
2. **Ternarize and sparsify, step by step.** For each sparsity level in increasing order, switch the
   forward pass to the ternary network at that level and fine-tune the latent weights and log2
   scales through it with the straight-through estimator. The dense network's logits on the
   training split serve as a distillation target (``distill`` weight) next to the labels.
3. **Select and save.** After every epoch the exact ternary network is evaluated with the core's
   forward pass (:func:`aann_env.core.forward.evaluate`) on the validation split; each level keeps its
   best epoch (accuracy, then loss), saves that network, and continues the next level from it.
   Test accuracy is measured once per level, for reporting only.

A run directory holds ``config.json``, ``history.csv`` (one row per epoch), ``sweep.csv`` (one row
per finished level), ``nets/psiren-XX.npz`` (the network of level XX percent), ``checkpoint.pt``
(and ``checkpoint.prev.pt``, written after every epoch) and, at the end, ``summary.json``. A killed
run continues from its last checkpoint with ``aann train --out DIR --resume``.

The networks that ship with aann (``aann_env/nets/<task>/psiren-XX.npz``) were made by this
module; :func:`load_psiren` reads them and ``env.reset(options={"init": "psiren"})`` starts from
the one at the env's sparsity.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import platform
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from aann_env.atomic import atomic_write
from aann_env.core.forward import evaluate
from aann_env.errors import CheckpointError
from aann_env.nets import level_name
from aann_env.tasks import TASKS, Split, get_task
from aann_env.training.latent import LatentNetwork

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

CHECKPOINT_SCHEMA = 1
HISTORY_COLUMNS = (
    "stage",
    "sparsity",
    "epoch",
    "train_loss",
    "val_accuracy",
    "val_loss",
    "exponents",
    "wall_time",
)
SWEEP_COLUMNS = (
    "sparsity",
    "epochs",
    "best_epoch",
    "val_accuracy",
    "val_loss",
    "test_accuracy",
    "test_loss",
    "wall_time",
    "path",
)


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


# ------------------------------------------------------------------------------------ the run
def _load_torch_checkpoint(path: Path) -> dict[str, Any]:
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


class PSIRENRun:
    """One p-SIREN sweep in a run directory (see the module docstring).

    Args:
        out: The run directory.
        config: The sweep's configuration (None with ``resume=True``: read it from the directory).
        resume: Continue the run in ``out`` from its last checkpoint.
    """

    def __init__(
        self, out: str | os.PathLike[str], config: TrainConfig | None, resume: bool = False
    ) -> None:
        self.out = Path(out)
        config_path = self.out / "config.json"
        if resume:
            if not config_path.is_file():
                raise CheckpointError(
                    f"{self.out} holds no p-SIREN run (no config.json); start one without --resume"
                )
            try:
                stored = TrainConfig.from_dict(json.loads(config_path.read_text()))
            except (ValueError, TypeError, json.JSONDecodeError) as exc:
                raise CheckpointError(f"{config_path} is not a valid run config ({exc})") from exc
            if config is not None and config.training_key() != stored.training_key():
                raise CheckpointError(
                    f"{self.out} was started with another configuration; resume it without "
                    "changing the training options, or use a new --out"
                )
            if config is not None:  # keep the stored training options, take the new device etc.
                stored.device, stored.data_dir = config.device, config.data_dir
            self.config = stored
        else:
            if config is None:
                raise ValueError("a new run needs a config")
            if config_path.exists():
                raise CheckpointError(
                    f"{self.out} already holds a run; continue it with --resume or choose a new --out"
                )
            self.config = config
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "nets").mkdir(exist_ok=True)
            config_path.write_text(json.dumps(self.config.to_dict(), indent=2) + "\n")
            _write_csv_header(self.out / "history.csv", HISTORY_COLUMNS)
            _write_csv_header(self.out / "sweep.csv", SWEEP_COLUMNS)
        self.resume = resume

    # -------------------------------------------------------------------------------- helpers
    def _data(self) -> tuple[Split, Split, Split]:
        task = get_task(self.config.task)
        splits = task.splits(self.config.data_dir)
        return (
            splits["train"].subset(self.config.train_size),
            splits["valid"].subset(self.config.eval_size),
            splits["test"],
        )

    def _optimizer(
        self, model: LatentNetwork, dense: bool, epochs: int, steps_per_epoch: int
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
        cfg = self.config
        lr = cfg.lr if dense else cfg.level_lr
        opt = torch.optim.Adam(
            [
                {"params": list(model.weights), "lr": lr},
                {"params": [model.log2_scales], "lr": cfg.scale_lr},
            ]
        )
        total = max(1, epochs * steps_per_epoch)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, total) / total))
        )
        return opt, sched

    def _checkpoint(self, state: dict[str, Any]) -> None:
        atomic_write(
            self.out / "checkpoint.pt",
            lambda fh: torch.save({"schema": CHECKPOINT_SCHEMA, **state}, fh),
            keep_previous=self.out / "checkpoint.prev.pt",
        )

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The newest readable checkpoint (falling back to the previous one), or None."""
        path = self.out / "checkpoint.pt"
        prev = self.out / "checkpoint.prev.pt"
        if not path.exists() and not prev.exists():
            return None
        try:
            return _load_torch_checkpoint(path)
        except CheckpointError as exc:
            if not prev.exists():
                raise
            print(f"aann train: {exc}; falling back to {prev.name}")
            return _load_torch_checkpoint(prev)

    # ------------------------------------------------------------------------------------ run
    def run(self, progress: bool = True, max_epochs: int | None = None) -> dict[str, Any]:
        """Train (or continue) the sweep; returns the summary.

        Args:
            progress: Show progress bars.
            max_epochs: Stop after this many epochs in this call (a checkpoint is written after
                each); the run can be resumed. None: run to the end.
        """
        cfg = self.config
        device = torch.device(cfg.device)
        train, valid, test = self._data()
        pixels = torch.as_tensor(train.pixels, device=device)
        if pixels.dim() == 3:
            pixels = pixels.unsqueeze(1)
        labels = torch.as_tensor(train.labels, dtype=torch.int64, device=device)
        n = len(train)
        steps_per_epoch = math.ceil(n / cfg.batch_size)
        task = get_task(cfg.task)

        gen = torch.Generator().manual_seed(cfg.seed)
        model = LatentNetwork(task.arch, task.offset, gen).to(device)
        stage, epoch, elapsed, rows = 0, 0, 0.0, 0
        teacher: LatentNetwork | None = None
        best: dict[str, Any] | None = None
        opt_state: dict[str, Any] | None = None
        sched_state: dict[str, Any] | None = None
        ckpt = self.load_checkpoint() if self.resume else None
        if ckpt is not None:
            model.load_state_dict(ckpt["model"])
            stage, epoch = int(ckpt["stage"]), int(ckpt["epoch"])
            elapsed, rows = float(ckpt["elapsed"]), int(ckpt["history_rows"])
            if ckpt.get("teacher") is not None:
                teacher = LatentNetwork(task.arch, task.offset).to(device)
                teacher.load_state_dict(ckpt["teacher"])
            best = ckpt.get("best")
            opt_state, sched_state = ckpt.get("optimizer"), ckpt.get("scheduler")
            _truncate_csv(self.out / "history.csv", rows)
            _truncate_csv(self.out / "sweep.csv", max(0, stage - 1))
        elif self.resume:
            # Nothing was checkpointed yet: start over in the same directory.
            _truncate_csv(self.out / "history.csv", 0)
            _truncate_csv(self.out / "sweep.csv", 0)

        stages = cfg.stages
        epochs_this_call = 0
        start = time.perf_counter() - elapsed
        bar_cls: Any = None
        if progress:
            from tqdm.auto import tqdm

            bar_cls = tqdm
        while stage < len(stages):
            sparsity = stages[stage]
            dense = sparsity is None
            n_epochs = cfg.dense_epochs if dense else cfg.epochs_for(sparsity)  # type: ignore[arg-type]
            if epoch == 0 and best is None and stage == 1 and sparsity is not None:
                model.fit_scales(sparsity)  # the first ternary level: scales from dense weights
            opt, sched = self._optimizer(model, dense, n_epochs, steps_per_epoch)
            if opt_state is not None:
                opt.load_state_dict(opt_state)
                sched.load_state_dict(sched_state)  # type: ignore[arg-type]
                opt_state = sched_state = None
            while epoch < n_epochs:
                if max_epochs is not None and epochs_this_call >= max_epochs:
                    return {"finished": False, "stage": stage, "epoch": epoch}
                what = "dense" if dense else f"{sparsity:.0%} sparse"
                rng = np.random.default_rng([cfg.seed, stage, epoch])
                order_t = torch.as_tensor(rng.permutation(n), device=device)
                shifts = torch.as_tensor(
                    rng.integers(-cfg.shift, cfg.shift + 1, size=(n, 2)), device=device
                )
                bar = (
                    bar_cls(
                        total=steps_per_epoch,
                        desc=f"p-SIREN {cfg.task} {what} epoch {epoch + 1}/{n_epochs}",
                        leave=False,
                    )
                    if bar_cls
                    else None
                )
                model.train()
                loss_sum = torch.zeros((), dtype=torch.float64, device=device)
                for b in range(0, n, cfg.batch_size):
                    idx = order_t[b : b + cfg.batch_size]
                    x = pixels[idx]
                    if cfg.shift:
                        x = translate(x, shifts[b : b + cfg.batch_size], cfg.shift)
                    x = x.to(torch.float32) / 256.0 - task.offset
                    out = model(x, sparsity)
                    loss = F.cross_entropy(out, labels[idx])
                    if teacher is not None and cfg.distill > 0:
                        t = cfg.temperature
                        with torch.no_grad():
                            target = teacher(x, None)
                        kd = F.kl_div(
                            F.log_softmax(out / t, dim=1),
                            F.log_softmax(target / t, dim=1),
                            log_target=True,
                            reduction="batchmean",
                        )
                        loss = (1.0 - cfg.distill) * loss + cfg.distill * kd * t * t
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    if not dense:
                        model.project_scales()
                    loss_sum += loss.detach().to(torch.float64) * len(idx)
                    if bar is not None:
                        bar.update(1)
                if bar is not None:
                    bar.close()
                train_loss = float(loss_sum) / n
                model.eval()
                if dense:
                    val_acc, val_loss = _dense_eval(model, valid, task.offset, device)
                    exps = ""
                else:
                    net = model.to_network(sparsity)  # type: ignore[arg-type]
                    ev = evaluate(net, valid.pixels, valid.labels, device=device)
                    val_acc, val_loss = ev.accuracy, ev.loss
                    exps = " ".join(str(int(math.log2(net.scales[k]))) for k in net.layer_names)
                    if best is None or (val_acc, -val_loss) > (
                        best["val_accuracy"],
                        -best["val_loss"],
                    ):
                        best = {
                            "val_accuracy": val_acc,
                            "val_loss": val_loss,
                            "epoch": epoch + 1,
                            "model": {
                                k: v.detach().cpu().clone() for k, v in model.state_dict().items()
                            },
                        }
                epoch += 1
                epochs_this_call += 1
                rows += 1
                _append_csv(
                    self.out / "history.csv",
                    [
                        stage,
                        "" if dense else repr(sparsity),
                        epoch,
                        repr(train_loss),
                        repr(val_acc),
                        repr(val_loss),
                        exps,
                        f"{time.perf_counter() - start:.2f}",
                    ],
                )
                if progress:
                    print(
                        f"p-SIREN {cfg.task} {what}: epoch {epoch}/{n_epochs} train loss "
                        f"{train_loss:.4f}, validation accuracy {val_acc:.4f} (loss {val_loss:.4f})"
                    )
                finished_stage = epoch >= n_epochs
                if finished_stage:
                    if dense:
                        teacher = copy.deepcopy(model).eval() if cfg.distill > 0 else None
                    else:
                        assert best is not None and sparsity is not None
                        model.load_state_dict(best["model"])
                        self._finish_level(model, sparsity, best, valid, test, start)
                    stage, epoch, best = stage + 1, 0, None
                self._checkpoint(
                    {
                        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                        "stage": stage,
                        "epoch": epoch,
                        "elapsed": time.perf_counter() - start,
                        "history_rows": rows,
                        "teacher": None
                        if teacher is None
                        else {k: v.detach().cpu() for k, v in teacher.state_dict().items()},
                        "best": best,
                        "optimizer": None if finished_stage else opt.state_dict(),
                        "scheduler": None if finished_stage else sched.state_dict(),
                    }
                )
                if finished_stage:
                    break
        return self._summary(time.perf_counter() - start)

    def _finish_level(
        self,
        model: LatentNetwork,
        sparsity: float,
        best: dict[str, Any],
        valid: Split,
        test: Split,
        start: float,
    ) -> None:
        cfg = self.config
        path = self.out / "nets" / f"{level_name(sparsity)}.npz"
        net = model.to_network(sparsity, cfg.seed)
        ev_val = evaluate(net, valid.pixels, valid.labels, device=cfg.device)
        if ev_val.accuracy != best["val_accuracy"]:  # the export must be the network evaluated
            raise RuntimeError("p-SIREN: the saved network differs from the one selected")
        ev_test = evaluate(net, test.pixels, test.labels, device=cfg.device)
        net.provenance = {
            "init": "psiren",
            "task": cfg.task,
            "sparsity": sparsity,
            "seed": cfg.seed,
            "command": cfg.command,
            "config": cfg.training_key(),
            "epoch": best["epoch"],
            "val_accuracy": ev_val.accuracy,
            "val_loss": ev_val.loss,
            "val_size": ev_val.n,
            "test_accuracy": ev_test.accuracy,
            "test_loss": ev_test.loss,
            "torch": torch.__version__,
            "python": platform.python_version(),
        }
        net.save(path)
        _append_csv(
            self.out / "sweep.csv",
            [
                repr(sparsity),
                cfg.epochs_for(sparsity),
                best["epoch"],
                repr(ev_val.accuracy),
                repr(ev_val.loss),
                repr(ev_test.accuracy),
                repr(ev_test.loss),
                f"{time.perf_counter() - start:.2f}",
                str(path.relative_to(self.out)),
            ],
        )
        print(
            f"p-SIREN {cfg.task} {sparsity:.0%} sparse: validation {ev_val.accuracy:.4f}, "
            f"test {ev_test.accuracy:.4f} (epoch {best['epoch']}) -> {path}"
        )

    def _summary(self, wall: float) -> dict[str, Any]:
        rows = read_sweep(self.out)
        summary = {
            "finished": True,
            "task": self.config.task,
            "wall_time": wall,
            "levels": rows,
        }
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary


def read_sweep(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of a run's ``sweep.csv`` with numbers parsed."""
    path = Path(run_dir) / "sweep.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a p-SIREN run (no sweep.csv)")
    out = []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            parsed: dict[str, Any] = dict(row)
            for k in (
                "sparsity",
                "val_accuracy",
                "val_loss",
                "test_accuracy",
                "test_loss",
                "wall_time",
            ):
                parsed[k] = float(row[k])
            for k in ("epochs", "best_epoch"):
                parsed[k] = int(row[k])
            out.append(parsed)
    return out


# ------------------------------------------------------------------------------------ helpers
def _dense_eval(
    model: LatentNetwork, split: Split, offset: float, device: torch.device
) -> tuple[float, float]:
    correct, loss = 0, 0.0
    with torch.no_grad():
        for b in range(0, len(split), 1000):
            x = torch.as_tensor(split.pixels[b : b + 1000], device=device)
            x = (x.unsqueeze(1) if x.dim() == 3 else x).to(torch.float32) / 256.0 - offset
            y = torch.as_tensor(split.labels[b : b + 1000], dtype=torch.int64, device=device)
            out = model(x, None)
            correct += int((out.argmax(1) == y).sum())
            loss += float(F.cross_entropy(out, y, reduction="sum"))
    return correct / len(split), loss / len(split)


def translate(images: torch.Tensor, offsets: torch.Tensor, shift: int) -> torch.Tensor:
    """Move each image (N, C, H, W) by its (dy, dx) in ``offsets`` (N, 2), filling with 0.

    Pixel codes stay integers, so the network input stays dyadic.
    """
    n, _, h, w = images.shape
    padded = F.pad(images, (shift, shift, shift, shift))
    rows = (shift - offsets[:, 0, None]) + torch.arange(h, device=images.device)  # (N, H)
    cols = (shift - offsets[:, 1, None]) + torch.arange(w, device=images.device)  # (N, W)
    batch = torch.arange(n, device=images.device)[:, None, None]
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2)


def _write_csv_header(path: Path, columns: Sequence[str]) -> None:
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerow(columns)


def _append_csv(path: Path, row: Sequence[Any]) -> None:
    with open(path, "a", newline="") as fh:
        csv.writer(fh).writerow(row)
        fh.flush()
        os.fsync(fh.fileno())


def _truncate_csv(path: Path, rows: int) -> None:
    """Keep the header and the first ``rows`` data rows (drops rows after the checkpoint)."""
    with open(path, newline="") as fh:
        lines = list(csv.reader(fh))
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(lines[: rows + 1])
