"""One training epoch of p-SIREN, and the evaluations between epochs.

An epoch draws its sample order and its augmentation shifts from a generator seeded by
``(seed, stage, epoch)``, so an epoch gives the same result whether the run was resumed before it
or not. In ternary mode the loss mixes the labels' cross-entropy with distillation from the dense
teacher's logits (Hinton et al.'s temperature-scaled KL), and the scales are projected back onto
exact powers of two after each step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from aann_env.tasks import Split
from aann_env.training.config import TrainConfig
from aann_env.training.latent import LatentNetwork


@dataclass(frozen=True)
class TrainData:
    """The training split on the training device: pixel codes (N, C, H, W) and labels (N,)."""

    pixels: torch.Tensor
    labels: torch.Tensor
    offset: float

    @classmethod
    def from_split(cls, split: Split, offset: float, device: torch.device) -> TrainData:
        pixels = torch.as_tensor(split.pixels, device=device)
        if pixels.dim() == 3:
            pixels = pixels.unsqueeze(1)  # (N, 1, H, W)
        labels = torch.as_tensor(split.labels, dtype=torch.int64, device=device)
        return cls(pixels, labels, offset)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def train_epoch(
    model: LatentNetwork,
    teacher: LatentNetwork | None,
    sparsity: float | None,
    data: TrainData,
    cfg: TrainConfig,
    seed: tuple[int, int, int],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    on_batch: Callable[[], None] | None = None,
) -> float:
    """Train ``model`` for one epoch; returns the mean training loss.

    Args:
        model: The latent network.
        teacher: The dense network to distil from (None: labels only).
        sparsity: None for dense training, else the level of the ternary forward pass.
        data: The training split.
        cfg: The sweep's configuration (batch size, shift, distillation).
        seed: ``(seed, stage, epoch)``: the epoch's sample order and shifts.
        optimizer: The stage's optimizer.
        scheduler: Its learning-rate schedule, stepped after every batch.
        on_batch: Called after every batch (a progress bar).
    """
    n = len(data)
    device = data.pixels.device
    rng = np.random.default_rng(list(seed))
    order = torch.as_tensor(rng.permutation(n), device=device)
    shifts = torch.as_tensor(rng.integers(-cfg.shift, cfg.shift + 1, size=(n, 2)), device=device)
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    for b in range(0, n, cfg.batch_size):
        idx = order[b : b + cfg.batch_size]
        x = data.pixels[idx]
        if cfg.shift:
            x = translate(x, shifts[b : b + cfg.batch_size], int(cfg.shift))
        x = x.to(torch.float32) / 256.0 - data.offset
        out = model(x, sparsity)
        loss = F.cross_entropy(out, data.labels[idx])
        if teacher is not None and cfg.distill > 0:
            t = cfg.temperature
            kd = _distillation(out, teacher, x, t)
            loss = (1.0 - cfg.distill) * loss + cfg.distill * kd * t * t
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if sparsity is not None:
            model.project_scales()
        loss_sum += loss.detach().to(torch.float64) * len(idx)
        if on_batch is not None:
            on_batch()
    return float(loss_sum) / n


def _distillation(
    out: torch.Tensor, teacher: LatentNetwork, x: torch.Tensor, t: float
) -> torch.Tensor:
    """KL divergence of the temperature-``t`` softmax of ``out`` from the teacher's."""
    with torch.no_grad():
        target = teacher(x, None)
    kd = F.kl_div(
        F.log_softmax(out / t, dim=1),
        F.log_softmax(target / t, dim=1),
        log_target=True,
        reduction="batchmean",
    )
    return kd


def dense_eval(
    model: LatentNetwork, split: Split, offset: float, device: torch.device
) -> tuple[float, float]:
    """Accuracy and textbook cross-entropy of the dense (real-valued) network on a split."""
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


def stage_optimizer(
    model: LatentNetwork, cfg: TrainConfig, dense: bool, epochs: int, n_train: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """Adam on the latent weights and the log2 scales, with a cosine decay over the stage."""
    lr = cfg.lr if dense else cfg.level_lr
    opt = torch.optim.Adam(
        [
            {"params": list(model.weights), "lr": lr},
            {"params": [model.log2_scales], "lr": cfg.scale_lr},
        ]
    )
    total = max(1, epochs * math.ceil(n_train / cfg.batch_size))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, total) / total))
    )
    return opt, sched
