"""Training RL search policies with Stable-Baselines3 in a run directory (``aann rl train``).

The run directory (:class:`aann_env.runs.directory.RunDirectory`) holds ``config.json`` (the
:class:`~agents.rl.config.RLConfig`), ``checkpoint.zip`` (the SB3 model: policy, optimiser and
step count; ``checkpoint.prev.zip`` is the one before; ``train_time.json`` the training wall time up to it), ``eval.csv`` (the held-out evaluations),
``logs/<session>/progress.csv`` (SB3's own log, TensorBoard files too when ``tensorboard`` is
installed), ``policy.zip`` with its provenance ``policy.json`` (:mod:`agents.rl.policy`) and
``summary.json`` at the end, and ``run.lock`` while a process
trains. ``--resume`` continues from the last checkpoint: the policy, the optimiser state and the
step count are restored; the envs start afresh, so the trajectory is not the one an unbroken run
would take (the issue does not ask for that).

A policy file is a zip that SB3 unpickles when it loads it: treat one from elsewhere as code, like
any script you run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import stable_baselines3 as sb3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from aann_env.atomic import atomic_write
from aann_env.progress import progress_bar
from aann_env.runs.directory import RunDirectory
from aann_env.runs.history import CsvLog
from agents.rl.config import RLConfig, env_factory, make_env
from agents.rl.policy import ALGORITHMS, check_model_file, write_provenance

EVAL_COLUMNS = ("timesteps", "seed", "final_accuracy", "final_loss", "steps", "spent")


class _Clock:
    """Training wall time summed over sessions, saved with each checkpoint (``train_time.json``),
    so that a run killed and resumed reports the time of every session up to its checkpoint."""

    def __init__(self, path: Path, resume: bool) -> None:
        self.path = path
        self.before = 0.0
        if resume:
            try:
                self.before = float(json.loads(path.read_text())["wall_time"])
            except (OSError, ValueError, KeyError, TypeError):
                self.before = _logged_time(path.parent / "logs")  # a run from before the clock
        self.start = time.perf_counter()

    def total(self) -> float:
        return self.before + time.perf_counter() - self.start

    def save(self) -> None:
        text = json.dumps({"wall_time": self.total()}).encode()
        atomic_write(self.path, lambda fh: fh.write(text))


class _Checkpoint(BaseCallback):
    """Saves the model into the run directory every ``every`` timesteps."""

    def __init__(self, run: RunDirectory, every: int, clock: _Clock) -> None:
        super().__init__()
        self.run = run
        self.every = every
        self.clock = clock
        self._next = 0

    def _on_training_start(self) -> None:
        self._next = self.num_timesteps + self.every

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self.run.save_checkpoint(lambda fh: self.model.save(fh))
            self.clock.save()
            self._next = self.num_timesteps + self.every
        return True


class _HeldOutEval(BaseCallback):
    """Every ``every`` timesteps, one deterministic episode per held-out start seed."""

    def __init__(self, cfg: RLConfig, log: CsvLog) -> None:
        super().__init__()
        self.cfg = cfg
        self.log = log
        self._env: Any = None
        self._next = 0

    def _on_training_start(self) -> None:
        self._env = make_env(self.cfg, 0, starts=False)
        self._next = self.num_timesteps + self.cfg.eval_every

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            finals = [self.episode(seed) for seed in self.cfg.eval_seeds]
            self.logger.record("eval/final_accuracy", float(np.mean([f[0] for f in finals])))
            self.logger.record("eval/final_loss", float(np.mean([f[1] for f in finals])))
            self._next = self.num_timesteps + self.cfg.eval_every
        return True

    def episode(self, seed: int) -> tuple[float, float]:
        obs, _ = self._env.reset(seed=seed)
        done, steps = False, 0
        while not done:
            action, _ = self.model.predict(obs, deterministic=True)
            obs, _, terminated, truncated, info = self._env.step(int(action))
            done, steps = terminated or truncated, steps + 1
        u = self._env.unwrapped
        self.log.append([self.num_timesteps, seed, u.accuracy, u.loss, steps, u.spent])
        return u.accuracy, u.loss

    def _on_training_end(self) -> None:
        if self._env is not None:
            self._env.close()


class _Progress(BaseCallback):
    """A progress bar over timesteps (quiet in logs, see :mod:`aann_env.progress`)."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total
        self._bar: Any = None

    def _on_training_start(self) -> None:
        self._bar = progress_bar(
            total=self.total, initial=self.num_timesteps, unit="step", desc="rl"
        )

    def _on_step(self) -> bool:
        self._bar.update(self.num_timesteps - self._bar.n)
        return True

    def _on_training_end(self) -> None:
        self._bar.close()


class RLTraining:
    """One RL training run in ``out`` (see the module docstring).

    Args:
        out: The run directory.
        config: The run's configuration (None with ``resume=True``: the stored one).
        resume: Continue the run in ``out`` from its last checkpoint.
    """

    def __init__(
        self, out: str | os.PathLike[str], config: RLConfig | None, resume: bool = False
    ) -> None:
        self.out = Path(out)
        self.directory = RunDirectory(self.out, ".zip")
        self.resume = resume
        self.config = self.directory.configure(
            config, resume, RLConfig.from_dict, RLConfig.training_key, ("timesteps", "device")
        )

    def _vec_env(self) -> VecEnv:
        cfg = self.config
        factories = [env_factory(cfg, rank) for rank in range(cfg.n_envs)]
        venv: VecEnv
        if cfg.n_envs == 1:
            venv = DummyVecEnv([lambda: make_env(cfg, 0)])
        else:
            venv = SubprocVecEnv(factories, start_method="spawn")
        venv.seed(cfg.seed)
        return venv

    def _model(self, venv: VecEnv) -> BaseAlgorithm:
        cfg = self.config
        algo = ALGORITHMS[cfg.algo]
        if self.resume:
            path = self.directory.load_checkpoint(check_model_file)
            if path is not None:
                return algo.load(path, env=venv, device=cfg.device)
        kwargs: dict[str, Any] = {"learning_rate": cfg.learning_rate, "gamma": cfg.gamma}
        if cfg.algo in ("ppo", "a2c"):
            kwargs |= {"n_steps": cfg.n_steps, "ent_coef": cfg.ent_coef}
        if cfg.algo == "ppo":
            kwargs["batch_size"] = min(cfg.batch_size, cfg.n_steps * cfg.n_envs)
        if cfg.algo == "dqn":
            kwargs |= {
                "batch_size": cfg.batch_size,
                "learning_starts": cfg.n_steps,
                "buffer_size": 50_000,
            }
        return algo("MlpPolicy", venv, seed=cfg.seed, device=cfg.device, verbose=0, **kwargs)

    def run(self, progress: bool = True) -> dict[str, Any]:
        """Train to ``config.timesteps`` (or continue); returns the summary.

        Raises:
            RunLockedError: Another process is writing this run directory.
        """
        cfg = self.config
        with self.directory.lock:
            venv = self._vec_env()  # before anything is written: bad env arguments fail here
            if not self.resume:
                self.directory.write_config(cfg.to_dict())
            log = self.directory.log("eval.csv", EVAL_COLUMNS)
            start = time.perf_counter()
            clock = _Clock(self.out / "train_time.json", self.resume)
            try:
                model = self._model(venv)
                if cfg.teacher is not None and model.num_timesteps == 0 and not self._cloned():
                    self._clone(model, venv)
                if self.resume and (self.out / "eval.csv").exists():
                    log.resume(len((self.out / "eval.csv").read_text().splitlines()) - 1)
                else:
                    log.create()
                model.set_logger(configure(str(self._log_folder()), self._log_formats()))
                callbacks: list[BaseCallback] = [
                    _Checkpoint(self.directory, cfg.checkpoint_steps, clock),
                    _HeldOutEval(cfg, log),
                ]
                if progress:
                    callbacks.append(_Progress(cfg.timesteps))
                remaining = max(0, cfg.timesteps - model.num_timesteps)
                model.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=False)
                self.directory.save_checkpoint(lambda fh: model.save(fh))
                model.save(self.out / "policy.zip")
                clock.save()
            finally:
                log.close()
                venv.close()
            wall = time.perf_counter() - start
            summary = {
                "formulation": cfg.formulation,
                "algo": cfg.algo,
                "timesteps": int(model.num_timesteps),
                "wall_time_this_session": wall,
                "wall_time": clock.total(),  # every session, up to its last checkpoint
                "policy": str(self.out / "policy.zip"),
                "command": cfg.command,
                "seed": cfg.seed,
                "clone": self._clone_record(),
                "stable_baselines3": sb3.__version__,
                "python": platform.python_version(),
            }
            self.directory.write_summary(summary)
            keys = ("command", "seed", "timesteps", "wall_time", "clone", "stable_baselines3")
            keys += ("python",)
            write_provenance(
                self.out / "policy.zip",
                cfg,
                {k: summary[k] for k in keys} | {"torch": _torch_version()},
            )
        return summary

    def _cloned(self) -> bool:
        return (self.out / "clone.json").is_file() and (self.out / "checkpoint.zip").is_file()

    def _clone(self, model: BaseAlgorithm, venv: VecEnv) -> None:
        """Behaviour-clone the new model from the teacher (:mod:`agents.rl.clone`), resuming
        the demonstrations saved in ``clone.npz``; then save it as the first checkpoint."""
        from agents.rl.clone import Demonstrations, collect, fit
        from agents.rl.rule import HandRule, parse_rule

        cfg = self.config
        assert cfg.teacher is not None
        path = self.out / "clone.npz"
        demos = Demonstrations.load(path) if path.is_file() else None
        start = time.perf_counter()
        demos = collect(
            venv, HandRule(parse_rule(cfg.teacher)), cfg.clone_episodes, cfg.gamma, demos, path
        )
        collected = time.perf_counter() - start
        record = fit(model, demos, cfg.clone_epochs, seed=cfg.seed)
        record |= {"teacher": cfg.teacher, "episodes": demos.n_episodes}
        record |= {"collect_seconds_this_session": collected}
        self.directory.save_checkpoint(lambda fh: model.save(fh))
        text = json.dumps(record, indent=2).encode()
        atomic_write(self.out / "clone.json", lambda fh: fh.write(text))

    def _clone_record(self) -> dict[str, Any] | None:
        path = self.out / "clone.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def _log_folder(self) -> Path:
        logs = self.out / "logs"
        session = len(list(logs.glob("*"))) if logs.is_dir() else 0
        return logs / f"{session:03d}"

    @staticmethod
    def _log_formats() -> list[str]:
        formats = ["csv"]
        if importlib.util.find_spec("tensorboard") is not None:
            formats.append("tensorboard")
        return formats


def _torch_version() -> str:
    import torch

    return str(torch.__version__)


def _logged_time(logs: Path) -> float:
    """Training time from SB3's own logs (``time/time_elapsed`` of each session's last row)."""
    total = 0.0
    for progress in sorted(logs.glob("*/progress.csv")):
        rows = progress.read_text().splitlines()
        if len(rows) < 2:
            continue
        header, last = rows[0].split(","), rows[-1].split(",")
        if "time/time_elapsed" in header and len(last) == len(header):
            total += float(last[header.index("time/time_elapsed")])
    return total
