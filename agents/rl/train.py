"""Training RL search policies with Stable-Baselines3 in a run directory (``aann rl train``).

The run directory (:class:`aann_env.runs.directory.RunDirectory`) holds ``config.json`` (the
:class:`~agents.rl.config.RLConfig`), ``checkpoint.zip`` (the SB3 model: policy, optimiser and
step count; ``checkpoint.prev.zip`` is the one before), ``eval.csv`` (the held-out evaluations),
``logs/<session>/progress.csv`` (SB3's own log, TensorBoard files too when ``tensorboard`` is
installed), ``policy.zip`` and ``summary.json`` at the end, and ``run.lock`` while a process
trains. ``--resume`` continues from the last checkpoint: the policy, the optimiser state and the
step count are restored; the envs start afresh, so the trajectory is not the one an unbroken run
would take (the issue does not ask for that).

A policy file is a zip that SB3 unpickles when it loads it: treat one from elsewhere as code, like
any script you run.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import stable_baselines3 as sb3
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from aann_env.errors import CheckpointError
from aann_env.progress import progress_bar
from aann_env.runs.directory import RunDirectory
from aann_env.runs.history import CsvLog
from agents.rl.config import RLConfig, env_factory, make_env

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C, "dqn": DQN}
EVAL_COLUMNS = ("timesteps", "seed", "final_accuracy", "final_loss", "steps", "spent")


def read_model_path(path: Path) -> Path:
    """Check that ``path`` is a readable SB3 zip (for the checkpoint fallback)."""
    try:
        with zipfile.ZipFile(path) as zf:
            if "data" not in zf.namelist():
                raise CheckpointError(f"{path} is not a Stable-Baselines3 model (no 'data' entry)")
    except (OSError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path} is not a readable model file ({exc})") from exc
    return path


class _Checkpoint(BaseCallback):
    """Saves the model into the run directory every ``every`` timesteps."""

    def __init__(self, run: RunDirectory, every: int) -> None:
        super().__init__()
        self.run = run
        self.every = every
        self._next = 0

    def _on_training_start(self) -> None:
        self._next = self.num_timesteps + self.every

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self.run.save_checkpoint(lambda fh: self.model.save(fh))
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
        self._env = make_env(self.cfg, 0)
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
            path = self.directory.load_checkpoint(read_model_path)
            if path is not None:
                return algo.load(path, env=venv, device=cfg.device)
        kwargs: dict[str, Any] = {"learning_rate": cfg.learning_rate}
        if cfg.algo in ("ppo", "a2c"):
            kwargs["n_steps"] = cfg.n_steps
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
            try:
                model = self._model(venv)
                if self.resume and (self.out / "eval.csv").exists():
                    log.resume(len((self.out / "eval.csv").read_text().splitlines()) - 1)
                else:
                    log.create()
                model.set_logger(configure(str(self._log_folder()), self._log_formats()))
                callbacks: list[BaseCallback] = [
                    _Checkpoint(self.directory, cfg.checkpoint_steps),
                    _HeldOutEval(cfg, log),
                ]
                if progress:
                    callbacks.append(_Progress(cfg.timesteps))
                remaining = max(0, cfg.timesteps - model.num_timesteps)
                model.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=False)
                self.directory.save_checkpoint(lambda fh: model.save(fh))
                model.save(self.out / "policy.zip")
            finally:
                log.close()
                venv.close()
            summary = {
                "formulation": cfg.formulation,
                "algo": cfg.algo,
                "timesteps": int(model.num_timesteps),
                "wall_time_this_session": time.perf_counter() - start,
                "policy": str(self.out / "policy.zip"),
                "command": cfg.command,
                "seed": cfg.seed,
                "stable_baselines3": sb3.__version__,
                "python": platform.python_version(),
            }
            self.directory.write_summary(summary)
        return summary

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
