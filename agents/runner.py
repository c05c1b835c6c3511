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

With ``workers`` the neighbourhoods are scored on Ray actors
(:class:`agents.distributed.pool.NeighbourPool`) with the very scores of one process, so the
trajectory does not depend on it and a resume may change it. When an actor is lost the run
checkpoints the last step it completed, then fails with a
:class:`agents.distributed.cluster.WorkerError` that says how to resume.
"""

from __future__ import annotations

import copy
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
from agents.distributed.cluster import WorkerError
from agents.distributed.pool import NeighbourPool
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
    "workers",
    "ray_address",
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
    workers: int | None = None
    """Ray actors that score each neighbourhood (None: this process); the trajectory is the
    same either way."""
    ray_address: str | None = None
    """The Ray cluster of the workers (None: a local Ray instance)."""

    def __post_init__(self) -> None:
        if self.agent not in AGENTS:
            raise ValueError(f"unknown agent {self.agent!r}; agents: {sorted(AGENTS)}")
        if self.task not in TASK_ENV_IDS:
            raise ValueError(
                f"unknown task {self.task!r}; tasks with an env: {sorted(TASK_ENV_IDS)}"
            )
        Budget(self.budget_evals, self.budget_seconds, self.budget_cost)  # validates
        if self.workers is not None and int(self.workers) < 1:
            raise ValueError(f"workers must be at least 1 Ray actor, got {self.workers}")
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


def records_scores(cfg: SearchConfig) -> bool:
    """Whether the search's history has the score columns: it scores on another split than it
    selects by."""
    return cfg.score_on != "valid"


def history_columns(cfg: SearchConfig) -> tuple[str, ...]:
    """The columns of the search's ``history.csv`` (:func:`records_scores`)."""
    return SEARCH_COLUMNS + (SCORE_COLUMNS if records_scores(cfg) else ())


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


def search_state(agent: SearchAgent, env: gym.Env) -> dict[str, Any]:
    """What a checkpoint holds besides the networks: the agent's state, the env's generator and
    where the scoring rotation stands (JSON-able)."""
    u = env.unwrapped
    return {
        "agent": agent.state_dict(),
        "env_rng": u.np_random.bit_generator.state,
        "scoring": u.scoring_state(),
    }


def restore_search(
    env: gym.Env,
    agent: SearchAgent,
    seed: int,
    current: TernaryNetwork,
    best: TernaryNetwork,
    state: dict[str, Any],
) -> None:
    """Put a search back where :func:`search_state` (and its two networks) found it."""
    env.reset(seed=seed, options={"init": current})
    env.unwrapped.np_random.bit_generator.state = state["env_rng"]
    env.unwrapped.restore_scoring_state(state.get("scoring", {"rounds": 0}))
    agent.load_state_dict(state["agent"], best)


def start_row(env: gym.Env, scores: bool) -> list[Any]:
    """Row 0 of a new search's history: the start, with its test accuracy."""
    u = env.unwrapped
    start = StepInfo(
        0, 0, 0.0, "", False, u.val_accuracy, u.val_loss, u.val_accuracy, **score_fields(u)
    )
    return history_row(start, u.test_accuracy(), scores)


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


class SafePoint(BaseCallback):
    """Keeps the state after the latest completed step (a few small dicts), so that a search
    whose Ray actor is lost in the middle of a step can checkpoint where it last stood.

    A lost actor is noticed when the driver waits on the actors (a round's scores, or a commit
    broadcast, which goes out before the driver's own commit), so the networks are still those of
    the last completed step; only the generators and counters moved on, and the kept state puts
    them back.
    """

    def __init__(self, run: SearchRun) -> None:
        super().__init__()
        self.run = run
        self.state: dict[str, Any] | None = None
        self.best: TernaryNetwork | None = None
        self.step = 0

    def _on_run_start(self) -> None:
        self._keep()

    def _on_step(self, info: StepInfo) -> bool:
        self._keep()
        return True

    def _keep(self) -> None:
        assert self.agent is not None and self.env is not None
        self.state = copy.deepcopy(self.run.state(self.agent, self.env))
        self.best = self.agent.best_network  # replaced, never changed in place
        self.step = self.agent.steps


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
            ("budget_evals", "budget_seconds", "budget_cost", "workers", "ray_address"),
        )
        self._log: CsvLog | None = None
        self.pool: NeighbourPool | None = None
        """The Ray actors scoring the neighbourhoods while the run runs with ``workers``."""

    @property
    def history_path(self) -> Path:
        return self.dir / "history.csv"

    @property
    def checkpoint_path(self) -> Path:
        return self.directory.checkpoint_path

    def state(self, agent: SearchAgent, env: gym.Env) -> dict[str, Any]:
        """The checkpoint state of the run as it stands (besides the networks)."""
        assert self._log is not None
        return {
            **search_state(agent, env),
            "history_rows": self._log.rows,
            "trajectory_key": self.config.trajectory_key(),
        }

    def checkpoint(self, agent: SearchAgent, env: gym.Env) -> None:
        """Save the checkpoint and the current and best networks."""
        assert agent.best_network is not None
        self._save(env.unwrapped.network, agent.best_network, self.state(agent, env))

    def _save(self, current: TernaryNetwork, best: TernaryNetwork, state: dict[str, Any]) -> None:
        save_checkpoint(self.directory, current, best, state)
        current.save(self.dir / "current.npz")
        best.save(self.dir / "best.npz")

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
            restore_search(env, agent, cfg.seed, current, best, state)
            log.resume(int(state["history_rows"]))
            return
        init = cfg.init if cfg.init in ("random", "balanced", "psiren") else str(Path(cfg.init))
        env.reset(seed=cfg.seed, options={"init": init})
        u = env.unwrapped
        self.directory.write_config({**asdict(cfg), "layer_names": list(u.network.layer_names)})
        log.create()
        log.append(start_row(env, records_scores(cfg)))

    def run(self, progress: bool = True, callback: BaseCallback | None = None) -> dict[str, Any]:
        """Run (or continue) the search to its budget; return the summary.

        Args:
            progress: Show a progress bar.
            callback: Also called after every step, after the run's own history and checkpoint
                callbacks; returning False stops the search (which can be resumed).

        Raises:
            RunLockedError: Another process is writing this run directory.
            RayUnavailableError: ``workers`` is set, and Ray is not installed or its cluster
                cannot be reached.
            WorkerError: A Ray actor was lost; the run checkpointed its last completed step.
        """
        cfg = self.config
        with self.directory.lock:
            env = make_env(cfg)
            agent = make_agent(cfg)
            self.pool = self._start_pool(env)
            self._log = log = self.directory.log("history.csv", history_columns(cfg))
            try:
                self._start(env, agent, log)
                if self.pool is not None:
                    self.pool.attach(env)
                best = self._search(env, agent, log, progress, callback)
            finally:
                log.close()
                if self.pool is not None:
                    self.pool.close()
            summary = self._summary(env, agent, best)
            self.directory.write_summary(summary)
        return summary

    def _start_pool(self, env: gym.Env) -> NeighbourPool | None:
        """The Ray actors that score the neighbourhoods, when the config asks for them."""
        cfg, u = self.config, env.unwrapped
        if cfg.workers is None:
            return None
        # The actors score on their CPUs whatever the driver's device: the scores are the same.
        return NeighbourPool.start(
            u.scoring_set, int(cfg.workers), address=cfg.ray_address, layer_costs=u.layer_costs
        )

    def _search(
        self,
        env: gym.Env,
        agent: SearchAgent,
        log: CsvLog,
        progress: bool,
        callback: BaseCallback | None,
    ) -> TernaryNetwork:
        """Run the agent with the run's callbacks; checkpoint at the end, or when a worker is lost."""
        cfg = self.config
        schedule = CheckpointSchedule(cfg.checkpoint_seconds, cfg.checkpoint_steps)
        safepoint = SafePoint(self)  # only a run with workers can lose one
        callbacks: list[BaseCallback] = [
            HistoryCallback(log, schedule),
            CheckpointCallback(self, schedule),
            *([safepoint] if self.pool is not None else []),
        ]
        if progress:
            callbacks.append(ProgressBarCallback(cfg.budget_evals, cfg.agent))
        if callback is not None:
            callbacks.append(callback)
        budget = Budget(cfg.budget_evals, cfg.budget_seconds, cfg.budget_cost)
        try:
            best = agent.run(env, budget, callback=CallbackList(callbacks))
        except WorkerError as exc:
            raise self._lost(exc, env, safepoint) from exc
        self.checkpoint(agent, env)
        return best

    def _lost(self, exc: WorkerError, env: gym.Env, safepoint: SafePoint) -> WorkerError:
        """Checkpoint the last completed step after a lost worker; the error to raise."""
        if safepoint.state is None or safepoint.best is None:
            return WorkerError(f"{exc}; the search had not started, nothing was checkpointed")
        self._save(env.unwrapped.network, safepoint.best, safepoint.state)
        return WorkerError(
            f"{exc}. {self.dir} holds a checkpoint of step {safepoint.step}: resume with "
            f"`aann search --out {self.dir} --resume` (--workers N to change the actors)"
        )

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
