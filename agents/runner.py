"""Search runs: a run directory that records, checkpoints and resumes one search.

A search's run directory (:class:`aann_env.runs.directory.RunDirectory`) holds:

| file | content |
|---|---|
| ``config.json`` | the :class:`SearchConfig` (and the layer names), written once |
| ``history.csv`` | one row per agent step (:data:`aann_env.runs.history.SEARCH_COLUMNS`); test accuracy at checkpoints only |
| ``best.npz``, ``current.npz`` | the best and the current network, in the core's network format |
| ``checkpoint.npz`` | everything needed to continue: both networks, the env's and the agent's generator states, counters and the number of history rows; ``checkpoint.prev.npz`` is the one before |
| ``summary.json`` | final figures, written when the run ends |
| ``run.lock`` | held by the process writing the run: a second writer fails at once |

A run killed at any moment (even ``kill -9``) resumes from its last checkpoint: history rows
written after it are dropped and recomputed, and because every random draw comes from the saved
generators the search continues the very trajectory it would have taken.
"""

from __future__ import annotations

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
from aann_env.core.network import TernaryNetwork
from aann_env.envs.registration import TASK_ENV_IDS
from aann_env.envs.scoring import check_scoring
from aann_env.errors import CheckpointError
from aann_env.runs.directory import RunDirectory
from aann_env.runs.history import SCORE_COLUMNS, SEARCH_COLUMNS, CsvLog
from agents.annealing import SimulatedAnnealing
from agents.base import SearchAgent, score_fields
from agents.budget import Budget, StepInfo
from agents.callbacks import BaseCallback, CallbackList, ProgressBarCallback
from agents.random_search import RandomSearch
from agents.rl.agent import RLSchedule
from agents.sense import SENSE

AGENTS: dict[str, type[SearchAgent]] = {
    "sense": SENSE,
    "random": RandomSearch,
    "annealing": SimulatedAnnealing,
    "rl": RLSchedule,
}
CHECKPOINT_SCHEMA = 1
RESUMABLE_FIELDS = (
    "agent_defaults",
    "budget_evals",
    "budget_seconds",
    "budget_cost",
    "checkpoint_seconds",
    "checkpoint_steps",
    "data_dir",
    "device",
)
"""Fields of a :class:`SearchConfig` that may change when a run resumes."""


@dataclass
class SearchConfig:
    """Everything that defines a search (and so its trajectory)."""

    task: str = "mnist"
    """Task name."""
    agent: str = "sense"
    """Agent name: sense, random, annealing or rl."""
    sparsity: float = 0.8
    """Sparsity of a random start."""
    init: str = "random"
    """Start: "random", "balanced" (random, one family for all seeds), "psiren" (the shipped p-SIREN
    net at ``sparsity``) or a network file."""
    seed: int = 0
    """Seed of the env (start, neighbourhood draws) and, derived from it, of the agent."""
    budget_evals: int | None = None
    """Stop after this many neighbour evaluations."""
    budget_seconds: float | None = None
    """Stop after this much wall time (summed over resumes)."""
    budget_cost: float | None = None
    """Stop after this much evaluation cost (:class:`agents.budget.Budget`)."""
    score_on: str = "train"
    """Split the search scores neighbours on: "train" (validation stays for selecting the best
    network) or "valid" (the paper's protocol: one split for both). A stored config without it
    predates the choice and scored on "valid"."""
    eval_size: int | None = 10_000
    """Images scored at a time: a subset (or, with ``rotate_every``, batches) of ``score_on``;
    None: the whole split."""
    rotate_every: int | None = None
    """Move the scoring images to the next batch of the split every this many scoring rounds."""
    selection_size: int | None = 10_000
    """Validation images the best network is selected by, when scoring on the training split."""
    device: str = "cpu"
    """Torch device of the evaluator."""
    data_dir: str | None = None
    """Raw data folder; default: $AANN_MNIST_DIR, then the cache."""
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the agent's constructor."""
    agent_defaults: dict[str, Any] = field(default_factory=dict)
    """Defaults of the agent's arguments that differ from today's: set when a config stored
    before a default changed is read back, so the run continues as it began."""
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
        Budget(self.budget_evals, self.budget_seconds, self.budget_cost)  # validates
        check_scoring(self.score_on, self.rotate_every)
        if self.agent == "rl" and self.budget_cost is None:
            raise ValueError(
                "the rl agent needs a cost budget (--budget-cost): its policy observes the "
                "fraction of the budget spent"
            )
        AGENTS[self.agent](**{**self.agent_defaults, **self.agent_kwargs})  # validates them

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "score_on" not in values:  # stored before issue 14: its scoring and SENSE defaults
            values["score_on"] = "valid"
            if values.get("agent", "sense") == "sense":
                values["agent_defaults"] = dict(LEGACY_SENSE_DEFAULTS)
        return cls(**values)

    def trajectory_fields(self) -> dict[str, Any]:
        """The fields the trajectory depends on (all but :data:`RESUMABLE_FIELDS`); the scoring
        fields are left out at the values that mean what a config without them meant, so
        checkpoints written before they existed still match."""
        d = asdict(self)
        for k in RESUMABLE_FIELDS:
            d.pop(k)
        if d["score_on"] == "valid":
            for k in ("score_on", "selection_size"):
                d.pop(k)
        if d["rotate_every"] is None:
            d.pop("rotate_every")
        return d

    def trajectory_key(self) -> str:
        """Hash of :meth:`trajectory_fields`; every checkpoint records it."""
        return hashlib.sha256(
            json.dumps(self.trajectory_fields(), sort_keys=True).encode()
        ).hexdigest()


LEGACY_SENSE_DEFAULTS: dict[str, Any] = {
    "neighborhood_size": 64,
    "schedule": "alternate",
    "criterion": "accuracy",
    "explore": "uniform",
}
"""SENSE's defaults before issue 14, for runs stored then."""


def make_agent(cfg: SearchConfig) -> SearchAgent:
    agent = AGENTS[cfg.agent](**{**cfg.agent_defaults, **cfg.agent_kwargs})
    agent.rng = np.random.default_rng((cfg.seed, 1))  # a stream apart from the env's
    return agent


def make_env(cfg: SearchConfig) -> gym.Env:
    return gym.make(
        TASK_ENV_IDS[cfg.task],
        sparsity=cfg.sparsity,
        eval_size=cfg.eval_size,
        score_on=cfg.score_on,
        rotate_every=cfg.rotate_every,
        selection_size=cfg.selection_size,
        device=cfg.device,
        data_dir=cfg.data_dir,
        max_episode_steps=-1,  # a search is one open-ended episode
    )


# ----------------------------------------------------------------------------------- checkpoints
def save_checkpoint(
    run: RunDirectory, current: TernaryNetwork, best: TernaryNetwork, state: dict[str, Any]
) -> None:
    """Write a checkpoint atomically, keeping the previous one as ``checkpoint.prev.npz``."""
    arrays = {**current.to_arrays("current"), **best.to_arrays("best")}
    meta = np.array(json.dumps({"schema": CHECKPOINT_SCHEMA, **state}))
    run.save_checkpoint(lambda fh: np.savez(fh, state=meta, **arrays))


def load_checkpoint(path: Path) -> tuple[TernaryNetwork, TernaryNetwork, dict[str, Any]]:
    """Read a checkpoint; :class:`CheckpointError` on anything malformed."""
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {k: data[k] for k in data.files}
        state = json.loads(str(contents.pop("state")))
    except Exception as exc:  # OSError, ValueError, zipfile.BadZipFile and friends
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(state, dict) or state.get("schema") != CHECKPOINT_SCHEMA:
        schema = state.get("schema") if isinstance(state, dict) else None
        raise CheckpointError(
            f"{path} has checkpoint schema {schema}; this aann reads {CHECKPOINT_SCHEMA}"
        )
    current = TernaryNetwork.from_arrays(contents, str(path), prefix="current")
    best = TernaryNetwork.from_arrays(contents, str(path), prefix="best")
    return current, best, state


# ------------------------------------------------------------------------------------- callbacks
class CheckpointSchedule:
    """When a step is a checkpoint: every ``seconds`` of wall time, and every ``steps`` steps.

    The decision is made once per step, so the history row and the checkpoint of that step agree.
    """

    def __init__(self, seconds: float, steps: int | None) -> None:
        self.seconds = seconds
        self.steps = steps
        self._last = time.perf_counter()
        self._decided: tuple[int, bool] = (-1, False)

    def due(self, step: int) -> bool:
        if self._decided[0] != step:
            due = time.perf_counter() - self._last >= self.seconds
            due = due or (self.steps is not None and step % self.steps == 0)
            self._decided = (step, due)
        return self._decided[1]

    def done(self) -> None:
        self._last = time.perf_counter()


class HistoryCallback(BaseCallback):
    """Writes one ``history.csv`` row per step, with the test accuracy at checkpoint steps."""

    def __init__(self, log: CsvLog, schedule: CheckpointSchedule) -> None:
        super().__init__()
        self.log = log
        self.schedule = schedule

    def _on_step(self, info: StepInfo) -> bool:
        assert self.env is not None
        due = self.schedule.due(info.step)
        test = self.env.unwrapped.test_accuracy() if due else None  # type: ignore[attr-defined]
        self.log.append(history_row(info, test, len(self.log.columns) > len(SEARCH_COLUMNS)))
        return True


class CheckpointCallback(BaseCallback):
    """Checkpoints the run at the schedule's steps (after that step's history row)."""

    def __init__(self, run: SearchRun, schedule: CheckpointSchedule) -> None:
        super().__init__()
        self.run = run
        self.schedule = schedule

    def _on_step(self, info: StepInfo) -> bool:
        if self.schedule.due(info.step):
            assert self.agent is not None and self.env is not None
            self.run.checkpoint(self.agent, self.env)
            self.schedule.done()
        return True


def history_row(info: StepInfo, test_accuracy: float | None, scores: bool = False) -> list[Any]:
    """One ``history.csv`` row (:data:`SEARCH_COLUMNS`, then :data:`SCORE_COLUMNS` if
    ``scores``); floats keep every digit."""
    extra = [repr(info.score_accuracy), repr(info.score_loss)] if scores else []
    return [
        info.step,
        info.evals,
        f"{info.wall_time:.3f}",
        info.layer,
        int(info.committed),
        repr(info.val_accuracy),
        repr(info.val_loss),
        "" if test_accuracy is None else repr(test_accuracy),
        repr(info.best_val_accuracy),
        *extra,
    ]


# ----------------------------------------------------------------------------------------- runs
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
        self.directory = RunDirectory(self.dir, ".npz")
        self.resume = resume
        self.config = self.directory.configure(
            config,
            resume,
            SearchConfig.from_dict,
            SearchConfig.trajectory_fields,
            ("budget_evals", "budget_seconds", "budget_cost"),
        )
        self._log: CsvLog | None = None

    @property
    def history_path(self) -> Path:
        return self.dir / "history.csv"

    @property
    def checkpoint_path(self) -> Path:
        return self.directory.checkpoint_path

    def checkpoint(self, agent: SearchAgent, env: gym.Env) -> None:
        """Save the checkpoint and the current and best networks."""
        u = env.unwrapped
        assert agent.best_network is not None and self._log is not None
        state = {
            "agent": agent.state_dict(),
            "env_rng": u.np_random.bit_generator.state,
            "scoring": u.scoring_state(),
            "history_rows": self._log.rows,
            "trajectory_key": self.config.trajectory_key(),
        }
        save_checkpoint(self.directory, u.network, agent.best_network, state)
        u.network.save(self.dir / "current.npz")
        agent.best_network.save(self.dir / "best.npz")

    def _accept(
        self, checkpoint: tuple[TernaryNetwork, TernaryNetwork, dict[str, Any]]
    ) -> str | None:
        if checkpoint[2].get("trajectory_key") != self.config.trajectory_key():
            return "belongs to another configuration"
        return None

    def _start(self, env: gym.Env, agent: SearchAgent, log: CsvLog) -> None:
        """Reset the env to the run's start (new run) or to its last checkpoint (resume)."""
        cfg = self.config
        if self.resume:
            restored = self.directory.load_checkpoint(load_checkpoint, self._accept)
            if restored is None:
                raise CheckpointError(
                    f"cannot resume {self.dir}: no usable checkpoint (checkpoint.npz: missing). "
                    "Start the run again in a new directory"
                )
            current, best, state = restored
            env.reset(seed=cfg.seed, options={"init": current})
            env.unwrapped.np_random.bit_generator.state = state["env_rng"]
            env.unwrapped.restore_scoring_state(state.get("scoring", {"rounds": 0}))
            agent.load_state_dict(state["agent"], best)
            log.resume(int(state["history_rows"]))
            return
        init = cfg.init if cfg.init in ("random", "balanced", "psiren") else str(Path(cfg.init))
        env.reset(seed=cfg.seed, options={"init": init})
        u = env.unwrapped
        self.directory.write_config({**asdict(cfg), "layer_names": list(u.network.layer_names)})
        log.create()
        start = StepInfo(
            0, 0, 0.0, "", False, u.val_accuracy, u.val_loss, u.val_accuracy, **score_fields(u)
        )
        log.append(history_row(start, u.test_accuracy(), len(log.columns) > len(SEARCH_COLUMNS)))

    def run(self, progress: bool = True) -> dict[str, Any]:
        """Run (or continue) the search to its budget; return the summary.

        Raises:
            RunLockedError: Another process is writing this run directory.
        """
        cfg = self.config
        with self.directory.lock:
            env = make_env(cfg)
            agent = make_agent(cfg)
            columns = SEARCH_COLUMNS + (SCORE_COLUMNS if cfg.score_on != "valid" else ())
            self._log = log = self.directory.log("history.csv", columns)
            try:
                self._start(env, agent, log)
                schedule = CheckpointSchedule(cfg.checkpoint_seconds, cfg.checkpoint_steps)
                callbacks: list[BaseCallback] = [
                    HistoryCallback(log, schedule),
                    CheckpointCallback(self, schedule),
                ]
                if progress:
                    callbacks.append(ProgressBarCallback(cfg.budget_evals, cfg.agent))
                budget = Budget(cfg.budget_evals, cfg.budget_seconds, cfg.budget_cost)
                best = agent.run(env, budget, callback=CallbackList(callbacks))
                self.checkpoint(agent, env)
            finally:
                log.close()
            summary = self._summary(env, agent, best)
            self.directory.write_summary(summary)
        return summary

    def _summary(self, env: gym.Env, agent: SearchAgent, best: TernaryNetwork) -> dict[str, Any]:
        u = env.unwrapped
        return {
            "agent": self.config.agent,
            "steps": agent.steps,
            "evals": agent.evals,
            "wall_time": agent.elapsed,
            "score_on": self.config.score_on,
            "score_accuracy": u.accuracy,
            "val_accuracy": u.val_accuracy,
            "test_accuracy": u.test_accuracy(),
            "best_val_accuracy": agent.best_accuracy,
            "best_test_accuracy": u.test_accuracy(best),
            "best_path": str(self.dir / "best.npz"),
        }
