"""Search runs: a directory that records, checkpoints and resumes one search.

A run directory holds:

| file | content |
|---|---|
| ``config.json`` | the :class:`SearchConfig` (and the layer names), written once |
| ``history.csv`` | one row per agent step: step, evals, wall_time, layer, committed, val_accuracy, val_loss, test_accuracy (at checkpoints only), best_val_accuracy |
| ``best.npz``, ``current.npz`` | the best and the current network, in the core's network format |
| ``checkpoint.npz`` | everything needed to continue: both networks, the env's and the agent's generator states, counters and the number of history rows; ``checkpoint.prev.npz`` is the one before |
| ``summary.json`` | final figures, written when the run ends |

A run killed at any moment (even ``kill -9``) resumes from its last checkpoint: history rows
written after it are dropped and recomputed, and because every random draw comes from the saved
generators the search continues the very trajectory it would have taken.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import aann_env  # noqa: F401  (registers the env ids)
from aann_env.atomic import atomic_write
from aann_env.core.network import TernaryNetwork
from aann_env.envs.registration import TASK_ENV_IDS
from aann_env.errors import CheckpointError
from agents.annealing import SimulatedAnnealing
from agents.base import BaseCallback, Budget, SearchAgent, StepInfo
from agents.random_search import RandomSearch
from agents.sense import SENSE

AGENTS: dict[str, type[SearchAgent]] = {
    "sense": SENSE,
    "random": RandomSearch,
    "annealing": SimulatedAnnealing,
}
HISTORY_COLUMNS = (
    "step",
    "evals",
    "wall_time",
    "layer",
    "committed",
    "val_accuracy",
    "val_loss",
    "test_accuracy",
    "best_val_accuracy",
)
CHECKPOINT_SCHEMA = 1


@dataclass
class SearchConfig:
    """Everything that defines a search (and so its trajectory)."""

    task: str = "mnist"
    """Task name."""
    agent: str = "sense"
    """Agent name: sense, random or annealing."""
    sparsity: float = 0.8
    """Sparsity of a random start."""
    init: str = "random"
    """Start: "random", "psiren" (the shipped p-SIREN net at ``sparsity``) or a network file."""
    seed: int = 0
    """Seed of the env (start, neighbourhood draws) and, derived from it, of the agent."""
    budget_evals: int | None = None
    """Stop after this many neighbour evaluations."""
    budget_seconds: float | None = None
    """Stop after this much wall time (summed over resumes)."""
    eval_size: int = 10_000
    """Validation images the search is scored on."""
    device: str = "cpu"
    """Torch device of the evaluator."""
    data_dir: str | None = None
    """Raw data folder; default: $AANN_MNIST_DIR, then the cache."""
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the agent's constructor."""
    checkpoint_seconds: float = 60.0
    """Checkpoint (and measure test accuracy) at least this often."""
    checkpoint_steps: int | None = None
    """Also checkpoint every this many steps."""

    def __post_init__(self) -> None:
        if self.agent not in AGENTS:
            raise ValueError(f"unknown agent {self.agent!r}; agents: {sorted(AGENTS)}")
        if self.task not in TASK_ENV_IDS:
            raise ValueError(
                f"unknown task {self.task!r}; tasks with an env: {sorted(TASK_ENV_IDS)}"
            )
        Budget(self.budget_evals, self.budget_seconds)  # validates
        AGENTS[self.agent](**self.agent_kwargs)  # validates the agent's arguments

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def trajectory_key(self) -> str:
        """Hash of the fields the trajectory depends on (budgets and checkpointing excluded)."""
        d = asdict(self)
        for k in (
            "budget_evals",
            "budget_seconds",
            "checkpoint_seconds",
            "checkpoint_steps",
            "data_dir",
            "device",
        ):
            d.pop(k)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


def make_agent(cfg: SearchConfig) -> SearchAgent:
    agent = AGENTS[cfg.agent](**cfg.agent_kwargs)
    agent.rng = np.random.default_rng((cfg.seed, 1))  # a stream apart from the env's
    return agent


def make_env(cfg: SearchConfig) -> gym.Env:
    return gym.make(
        TASK_ENV_IDS[cfg.task],
        sparsity=cfg.sparsity,
        eval_size=cfg.eval_size,
        device=cfg.device,
        data_dir=cfg.data_dir,
        max_episode_steps=-1,  # a search is one open-ended episode
    )


# ----------------------------------------------------------------------------------- checkpoints
def _pack(prefix: str, net: TernaryNetwork) -> dict[str, np.ndarray]:
    out = {f"{prefix}:meta": np.array(json.dumps(net.metadata()))}
    for name in net.layer_names:
        out[f"{prefix}:weight/{name}"] = net.weights[name]
    return out


def _unpack(prefix: str, contents: Mapping[str, np.ndarray], where: str) -> TernaryNetwork:
    sub = {k[len(prefix) + 1 :]: v for k, v in contents.items() if k.startswith(prefix + ":")}
    return TernaryNetwork._from_contents(sub, f"{where} ({prefix} network)", None)


def save_checkpoint(
    path: Path, current: TernaryNetwork, best: TernaryNetwork, state: dict[str, Any]
) -> None:
    """Write a checkpoint atomically, keeping the previous one as ``*.prev.npz``."""
    arrays = {**_pack("current", current), **_pack("best", best)}
    meta = np.array(json.dumps({"schema": CHECKPOINT_SCHEMA, **state}))
    atomic_write(
        path,
        lambda fh: np.savez(fh, state=meta, **arrays),
        keep_previous=path.with_suffix(".prev.npz"),
    )


def load_checkpoint(path: Path) -> tuple[TernaryNetwork, TernaryNetwork, dict[str, Any]]:
    """Read a checkpoint; :class:`CheckpointError` on anything malformed."""
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {k: data[k] for k in data.files}
        state = json.loads(str(contents.pop("state")))
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc})"
        ) from exc
    except Exception as exc:  # zipfile.BadZipFile and friends
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc})"
        ) from exc
    if state.get("schema") != CHECKPOINT_SCHEMA:
        raise CheckpointError(
            f"{path} has checkpoint schema {state.get('schema')}; this aann reads {CHECKPOINT_SCHEMA}"
        )
    return _unpack("current", contents, str(path)), _unpack("best", contents, str(path)), state


# ----------------------------------------------------------------------------------------- runs
class RunRecorder(BaseCallback):
    """Writes history rows, checkpoints the run, and drives the progress bar."""

    def __init__(self, run: SearchRun, progress: bool) -> None:
        super().__init__()
        self.run = run
        self.progress = progress
        self._bar: Any = None
        self._last_checkpoint = time.perf_counter()

    def _on_run_start(self) -> None:
        if self.progress:
            from tqdm.auto import tqdm

            cfg = self.run.config
            total = cfg.budget_evals if cfg.budget_evals is not None else None
            assert self.agent is not None
            self._bar = tqdm(
                total=total,
                initial=self.agent.evals,
                unit="eval",
                desc=f"{cfg.agent}",
                dynamic_ncols=True,
            )

    def _on_step(self, info: StepInfo) -> bool:
        cfg = self.run.config
        due = time.perf_counter() - self._last_checkpoint >= cfg.checkpoint_seconds
        if cfg.checkpoint_steps is not None and info.step % cfg.checkpoint_steps == 0:
            due = True
        test = self.env.unwrapped.test_accuracy() if due else None  # type: ignore[union-attr]
        self.run.write_row(info, test)
        if due:
            self.run.checkpoint(self.agent, self.env)  # type: ignore[arg-type]
            self._last_checkpoint = time.perf_counter()
        if self._bar is not None:
            self._bar.update(info.evals - self._bar.n)
            rate = info.evals / max(info.wall_time, 1e-9)
            self._bar.set_postfix(
                val=f"{info.val_accuracy:.4f}",
                best=f"{info.best_val_accuracy:.4f}",
                evals_s=f"{rate:.0f}",
            )
        return True

    def _on_run_end(self) -> None:
        if self._bar is not None:
            self._bar.close()


class SearchRun:
    """One search, recorded in ``out_dir``.

    Args:
        out_dir: The run directory.
        config: The configuration of a new run; with ``resume`` it may be given to extend the
            budget, but must otherwise match the stored one.
        resume: Continue the run in ``out_dir`` from its last checkpoint.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        config: SearchConfig | None = None,
        resume: bool = False,
    ) -> None:
        self.dir = Path(out_dir)
        self.resume = resume
        cfg_path = self.dir / "config.json"
        if resume:
            if not cfg_path.is_file():
                raise CheckpointError(
                    f"nothing to resume in {self.dir}: no config.json (start a new run without --resume)"
                )
            try:
                stored = SearchConfig.from_dict(json.loads(cfg_path.read_text()))
            except (json.JSONDecodeError, TypeError, ValueError) as exc:
                raise CheckpointError(
                    f"{cfg_path} is not a valid run configuration: {exc}"
                ) from exc
            if config is not None:
                if config.trajectory_key() != stored.trajectory_key():
                    raise CheckpointError(
                        f"the options given differ from those of the run in {self.dir} (other than budgets); "
                        "resume without them or start a new run in another directory"
                    )
                stored.budget_evals, stored.budget_seconds = (
                    config.budget_evals,
                    config.budget_seconds,
                )
            self.config = stored
        else:
            if config is None:
                raise ValueError("a new run needs a config")
            if cfg_path.exists():
                raise CheckpointError(
                    f"{self.dir} already holds a run; pass --resume to continue it, or choose another --out"
                )
            self.config = config
        self._history: Any = None

    # -------------------------------------------------------------------------------- files
    @property
    def history_path(self) -> Path:
        return self.dir / "history.csv"

    @property
    def checkpoint_path(self) -> Path:
        return self.dir / "checkpoint.npz"

    def write_row(self, info: StepInfo, test_accuracy: float | None) -> None:
        self._writer.writerow(
            [
                info.step,
                info.evals,
                f"{info.wall_time:.3f}",
                info.layer,
                int(info.committed),
                repr(info.val_accuracy),
                repr(info.val_loss),
                "" if test_accuracy is None else repr(test_accuracy),
                repr(info.best_val_accuracy),
            ]
        )
        self._history.flush()
        self._rows += 1

    def checkpoint(self, agent: SearchAgent, env: gym.Env) -> None:
        u = env.unwrapped
        assert agent.best_network is not None
        state = {
            "agent": agent.state_dict(),
            "env_rng": u.np_random.bit_generator.state,
            "history_rows": self._rows,
            "trajectory_key": self.config.trajectory_key(),
        }
        save_checkpoint(self.checkpoint_path, u.network, agent.best_network, state)
        u.network.save(self.dir / "current.npz")
        agent.best_network.save(self.dir / "best.npz")

    def _restore(self) -> tuple[TernaryNetwork, TernaryNetwork, dict[str, Any]]:
        errors = []
        for path in (self.checkpoint_path, self.checkpoint_path.with_suffix(".prev.npz")):
            if not path.exists():
                errors.append(f"{path.name}: missing")
                continue
            try:
                current, best, state = load_checkpoint(path)
            except CheckpointError as exc:
                errors.append(str(exc))
                continue
            if state.get("trajectory_key") != self.config.trajectory_key():
                errors.append(f"{path.name}: belongs to another configuration")
                continue
            if path != self.checkpoint_path:
                print(
                    f"aann: warning: {self.checkpoint_path.name} is unusable; resuming from {path.name}"
                )
            return current, best, state
        raise CheckpointError(
            f"cannot resume {self.dir}: no usable checkpoint ({'; '.join(errors)}). Restore a checkpoint, "
            "or start the run again in a new directory"
        )

    # ---------------------------------------------------------------------------------- run
    def run(self, progress: bool = True) -> dict[str, Any]:
        """Run (or continue) the search to its budget; return the summary."""
        cfg = self.config
        env = make_env(cfg)
        agent = make_agent(cfg)
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.resume:
            current, best, state = self._restore()
            env.reset(seed=cfg.seed, options={"init": current})
            env.unwrapped.np_random.bit_generator.state = state["env_rng"]
            agent.load_state_dict(state["agent"], best)
            self._rows = int(state["history_rows"])
            self._truncate_history(self._rows)
            self._history = open(self.history_path, "a", newline="")  # noqa: SIM115
        else:
            init = cfg.init if cfg.init in ("random", "psiren") else str(Path(cfg.init))
            env.reset(seed=cfg.seed, options={"init": init})
            config = {**asdict(cfg), "layer_names": list(env.unwrapped.network.layer_names)}
            (self.dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
            self._history = open(self.history_path, "w", newline="")  # noqa: SIM115
            self._rows = 0
            self._writer = csv.writer(self._history)
            self._writer.writerow(HISTORY_COLUMNS)
            u = env.unwrapped
            start = StepInfo(0, 0, 0.0, "", False, u.accuracy, u.loss, u.accuracy)
            self.write_row(start, u.test_accuracy())
        self._writer = csv.writer(self._history)
        budget = Budget(cfg.budget_evals, cfg.budget_seconds)
        try:
            best = agent.run(env, budget, callback=RunRecorder(self, progress))
            self.checkpoint(agent, env)
        finally:
            self._history.close()
        u = env.unwrapped
        best_test = _test_accuracy(env, best)
        summary = {
            "agent": cfg.agent,
            "steps": agent.steps,
            "evals": agent.evals,
            "wall_time": agent.elapsed,
            "val_accuracy": u.accuracy,
            "test_accuracy": u.test_accuracy(),
            "best_val_accuracy": agent.best_accuracy,
            "best_test_accuracy": best_test,
            "best_path": str(self.dir / "best.npz"),
        }
        (self.dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary

    def _truncate_history(self, rows: int) -> None:
        """Keep the header and the first ``rows`` rows (those the checkpoint accounts for)."""
        lines = (
            self.history_path.read_text().splitlines(keepends=True)
            if self.history_path.exists()
            else []
        )
        if len(lines) < rows + 1:
            raise CheckpointError(
                f"{self.history_path} has fewer rows than its checkpoint records; it was edited or truncated"
            )
        self.history_path.write_text("".join(lines[: rows + 1]))


def _test_accuracy(env: gym.Env, net: TernaryNetwork) -> float:
    from aann_env.core.forward import evaluate

    u = env.unwrapped
    test = u.task.split("test", u.data_dir)
    return evaluate(net, test.pixels, test.labels, device=u.device).accuracy
