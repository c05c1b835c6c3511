"""p-SIREN: backprop-trained p-sparse ternary networks at every sparsity level of a sweep.

The paper's pipeline (section 4.1), as ``aann train`` runs it:

1. **Dense.** Train the task's real-valued network (same layers, HardTanh, pooling, no bias; see
   :class:`~aann_env.training.latent.LatentNetwork`) with Adam on the training split.
2. **Ternarize and sparsify, step by step.** For each sparsity level in increasing order, switch
   the forward pass to the ternary network at that level and fine-tune the latent weights and log2
   scales through it with the straight-through estimator. The dense network's logits on the
   training split serve as a distillation target (``distill`` weight) next to the labels.
3. **Select and save.** After every epoch the exact ternary network is evaluated with the core's
   forward pass (:func:`aann_env.core.forward.evaluate`) on the validation split; each level
   keeps its best epoch (accuracy, then loss), saves that network, and continues the next level
   from it. Test accuracy is measured once per level, for reporting only.

A run directory (:class:`aann_env.runs.directory.RunDirectory`) holds ``config.json``,
``history.csv`` (one row per epoch), ``sweep.csv`` (one row per finished level),
``nets/psiren-XX.npz`` (the network of level XX percent), ``checkpoint.pt`` (and
``checkpoint.prev.pt``, written after every epoch), ``run.lock`` while a process trains, and, at
the end, ``summary.json``. A killed run continues from its last checkpoint with ``aann train
--out DIR --resume``.

The networks that ship with aann (``aann_env/nets/<task>/psiren-XX.npz``) were made by this
module; :func:`aann_env.nets.load_psiren` reads them.
"""

from __future__ import annotations

import copy
import math
import os
import time
from pathlib import Path
from typing import Any

import torch

from aann_env.core.forward import evaluate
from aann_env.nets import level_name
from aann_env.progress import progress_bar
from aann_env.runs.directory import RunDirectory
from aann_env.runs.history import SWEEP_COLUMNS, TRAIN_COLUMNS, CsvLog, read_sweep
from aann_env.tasks import Split, get_task
from aann_env.training.config import TrainConfig, parse_levels
from aann_env.training.epoch import TrainData, dense_eval, stage_optimizer, train_epoch
from aann_env.training.latent import LatentNetwork
from aann_env.training.sweep_state import (
    CHECKPOINT_SCHEMA,
    Progress,
    SweepData,
    cpu_state,
    level_provenance,
    load_torch_checkpoint,
)

__all__ = ["PSIRENRun", "TrainConfig", "load_torch_checkpoint", "parse_levels"]


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
        self.directory = RunDirectory(self.out, ".pt")
        self.resume = resume
        self.config = self.directory.configure(
            config, resume, TrainConfig.from_dict, TrainConfig.training_key, ("device", "data_dir")
        )
        self._history: CsvLog | None = None
        self._sweep: CsvLog | None = None

    # ------------------------------------------------------------------------------ the steps
    def run(self, progress: bool = True, max_epochs: int | None = None) -> dict[str, Any]:
        """Train (or continue) the sweep; returns the summary.

        Args:
            progress: Show progress bars.
            max_epochs: Stop after this many epochs in this call (a checkpoint is written after
                each); the run can be resumed. None: run to the end.

        Raises:
            RunLockedError: Another process is writing this run directory.
        """
        with self.directory.lock:
            self._history = self.directory.log("history.csv", TRAIN_COLUMNS, fsync=True)
            self._sweep = self.directory.log("sweep.csv", SWEEP_COLUMNS, fsync=True)
            try:
                data = self._load_data()
                model = self._new_model()
                state = self._restore(model) if self.resume else self._start()
                return self._train(model, state, data, progress, max_epochs)
            finally:
                self._history.close()
                self._sweep.close()

    def _load_data(self) -> SweepData:
        cfg = self.config
        task = get_task(cfg.task)
        splits = task.splits(cfg.data_dir)
        train = TrainData.from_split(
            splits["train"].subset(cfg.train_size), task.offset, torch.device(cfg.device)
        )
        return SweepData(train, splits["valid"].subset(cfg.eval_size), splits["test"])

    def _new_model(self, generator: bool = True) -> LatentNetwork:
        task = get_task(self.config.task)
        gen = torch.Generator().manual_seed(self.config.seed) if generator else None
        return LatentNetwork(task.arch, task.offset, gen).to(torch.device(self.config.device))

    def _start(self) -> Progress:
        """A new sweep: write its config and the logs' headers."""
        (self.out / "nets").mkdir(parents=True, exist_ok=True)
        self.directory.write_config(self.config.to_dict())
        assert self._history is not None and self._sweep is not None
        self._history.create()
        self._sweep.create()
        return Progress()

    def _restore(self, model: LatentNetwork) -> Progress:
        """A resumed sweep: its last usable checkpoint, or the start if it has none yet."""
        assert self._history is not None and self._sweep is not None
        ckpt = self.load_checkpoint()
        if ckpt is None:  # nothing was checkpointed yet: start over in the same directory
            (self.out / "nets").mkdir(parents=True, exist_ok=True)
            self._history.resume(0)
            self._sweep.resume(0)
            return Progress()
        model.load_state_dict(ckpt["model"])
        teacher = None
        if ckpt.get("teacher") is not None:
            teacher = self._new_model(generator=False)
            teacher.load_state_dict(ckpt["teacher"])
        state = Progress(
            stage=int(ckpt["stage"]),
            epoch=int(ckpt["epoch"]),
            elapsed=float(ckpt["elapsed"]),
            teacher=teacher,
            best=ckpt.get("best"),
            optimizer=ckpt.get("optimizer"),
            scheduler=ckpt.get("scheduler"),
        )
        self._history.resume(int(ckpt["history_rows"]))
        self._sweep.resume(max(0, state.stage - 1))
        return state

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The newest readable checkpoint (falling back to the previous one), or None."""
        return self.directory.load_checkpoint(load_torch_checkpoint)

    def _train(
        self,
        model: LatentNetwork,
        state: Progress,
        data: SweepData,
        progress: bool,
        max_epochs: int | None,
    ) -> dict[str, Any]:
        """Every remaining epoch of every remaining stage, with a checkpoint after each."""
        cfg = self.config
        stages = cfg.stages
        start = time.perf_counter() - state.elapsed
        epochs_this_call = 0
        while state.stage < len(stages):
            sparsity = stages[state.stage]
            n_epochs = cfg.dense_epochs if sparsity is None else cfg.epochs_for(sparsity)
            if state.epoch == 0 and state.best is None and state.stage == 1:
                assert sparsity is not None
                model.fit_scales(sparsity)  # the first ternary level: scales from dense weights
            opt, sched = stage_optimizer(model, cfg, sparsity is None, n_epochs, len(data.train))
            if state.optimizer is not None:
                opt.load_state_dict(state.optimizer)
                sched.load_state_dict(state.scheduler)  # type: ignore[arg-type]
                state.optimizer = state.scheduler = None
            while state.epoch < n_epochs:
                if max_epochs is not None and epochs_this_call >= max_epochs:
                    return {"finished": False, "stage": state.stage, "epoch": state.epoch}
                self._epoch(model, state, data, (opt, sched), n_epochs, progress, start)
                epochs_this_call += 1
                finished = state.epoch >= n_epochs
                if finished:
                    self._finish_stage(model, state, data, start)
                self._checkpoint(model, state, None if finished else (opt, sched), start)
                if finished:
                    break
        return self._summary(time.perf_counter() - start)

    def _epoch(
        self,
        model: LatentNetwork,
        state: Progress,
        data: SweepData,
        opt_sched: tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler],
        n_epochs: int,
        progress: bool,
        start: float,
    ) -> None:
        """Train one epoch, validate it, keep it if it is the stage's best, log it."""
        cfg = self.config
        sparsity = self.config.stages[state.stage]
        what = "dense" if sparsity is None else f"{sparsity:.0%} sparse"
        steps = math.ceil(len(data.train) / cfg.batch_size)
        bar = None
        if progress:
            desc = f"p-SIREN {cfg.task} {what} epoch {state.epoch + 1}/{n_epochs}"
            bar = progress_bar(total=steps, desc=desc, leave=False)
        teacher = state.teacher if sparsity is not None else None
        seed = (cfg.seed, state.stage, state.epoch)
        on_batch = None if bar is None else lambda: bar.update(1)
        train_loss = train_epoch(
            model, teacher, sparsity, data.train, cfg, seed, *opt_sched, on_batch
        )
        if bar is not None:
            bar.close()
        model.eval()
        val_acc, val_loss, exps = self._validate(model, sparsity, data.valid)
        if sparsity is not None and (
            state.best is None
            or (val_acc, -val_loss) > (state.best["val_accuracy"], -state.best["val_loss"])
        ):
            state.best = {
                "val_accuracy": val_acc,
                "val_loss": val_loss,
                "epoch": state.epoch + 1,
                "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            }
        state.epoch += 1
        assert self._history is not None
        self._history.append(
            [
                state.stage,
                "" if sparsity is None else repr(sparsity),
                state.epoch,
                repr(train_loss),
                repr(val_acc),
                repr(val_loss),
                exps,
                f"{time.perf_counter() - start:.2f}",
            ]
        )
        if progress:
            print(
                f"p-SIREN {cfg.task} {what}: epoch {state.epoch}/{n_epochs} train loss "
                f"{train_loss:.4f}, validation accuracy {val_acc:.4f} (loss {val_loss:.4f})"
            )

    def _validate(
        self, model: LatentNetwork, sparsity: float | None, valid: Split
    ) -> tuple[float, float, str]:
        """Validation accuracy and loss (exact for ternary levels), and the scale exponents."""
        cfg = self.config
        if sparsity is None:
            acc, loss = dense_eval(
                model, valid, get_task(cfg.task).offset, torch.device(cfg.device)
            )
            return acc, loss, ""
        net = model.to_network(sparsity)
        ev = evaluate(net, valid.pixels, valid.labels, device=cfg.device)
        exps = " ".join(str(int(math.log2(net.scales[k]))) for k in net.layer_names)
        return ev.accuracy, ev.loss, exps

    def _finish_stage(
        self, model: LatentNetwork, state: Progress, data: SweepData, start: float
    ) -> None:
        """End a stage: the dense phase becomes the teacher; a level saves its best network."""
        sparsity = self.config.stages[state.stage]
        if sparsity is None:
            state.teacher = copy.deepcopy(model).eval() if self.config.distill > 0 else None
        else:
            assert state.best is not None
            model.load_state_dict(state.best["model"])
            self._finish_level(model, sparsity, state.best, data.valid, data.test, start)
        state.stage, state.epoch, state.best = state.stage + 1, 0, None

    def _checkpoint(
        self,
        model: LatentNetwork,
        state: Progress,
        opt_sched: tuple[torch.optim.Optimizer, Any] | None,
        start: float,
    ) -> None:
        assert self._history is not None
        payload = {
            "schema": CHECKPOINT_SCHEMA,
            "model": cpu_state(model),
            "stage": state.stage,
            "epoch": state.epoch,
            "elapsed": time.perf_counter() - start,
            "history_rows": self._history.rows,
            "teacher": None if state.teacher is None else cpu_state(state.teacher),
            "best": state.best,
            "optimizer": None if opt_sched is None else opt_sched[0].state_dict(),
            "scheduler": None if opt_sched is None else opt_sched[1].state_dict(),
        }
        self.directory.save_checkpoint(lambda fh: torch.save(payload, fh))

    def _finish_level(
        self,
        model: LatentNetwork,
        sparsity: float,
        best: dict[str, Any],
        valid: Split,
        test: Split,
        start: float,
    ) -> None:
        """Save a level's best network with its provenance, and its row of ``sweep.csv``."""
        cfg = self.config
        path = self.out / "nets" / f"{level_name(sparsity)}.npz"
        net = model.to_network(sparsity, cfg.seed)
        ev_val = evaluate(net, valid.pixels, valid.labels, device=cfg.device)
        if ev_val.accuracy != best["val_accuracy"]:  # the export must be the network evaluated
            raise RuntimeError("p-SIREN: the saved network differs from the one selected")
        ev_test = evaluate(net, test.pixels, test.labels, device=cfg.device)
        net.provenance = level_provenance(cfg, sparsity, int(best["epoch"]), ev_val, ev_test)
        net.save(path)
        assert self._sweep is not None
        self._sweep.append(
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
            ]
        )
        print(
            f"p-SIREN {cfg.task} {sparsity:.0%} sparse: validation {ev_val.accuracy:.4f}, "
            f"test {ev_test.accuracy:.4f} (epoch {best['epoch']}) -> {path}"
        )

    def _summary(self, wall: float) -> dict[str, Any]:
        summary = {
            "finished": True,
            "task": self.config.task,
            "wall_time": wall,
            "levels": read_sweep(self.out),
        }
        self.directory.write_summary(summary)
        return summary
