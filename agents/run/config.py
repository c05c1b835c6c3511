"""What defines a search: :class:`SearchConfig`, its start (:class:`Start`) and what a resume may
change (:data:`RESUMABLE_FIELDS`).

A config is parsed and settled before anything is built: the CLI (or a caller) makes one, and the
run, its session and its agent only read it. :meth:`SearchConfig.from_dict` reads every
``config.json`` written so far, those from before a default changed included, so old run
directories resume onto their own trajectory (:meth:`SearchConfig.trajectory_key`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from aann_env.envs.cost_model import cost_model
from aann_env.envs.registration import TASK_ENV_IDS
from aann_env.envs.scoring import check_scoring
from aann_env.runs.history import SCORE_COLUMNS, SEARCH_COLUMNS
from agents.budget import Budget
from agents.registry import agent_class, check_agent

RESUMABLE_FIELDS: tuple[str, ...] = (
    "budget_evals",
    "budget_seconds",
    "budget_cost",
    "workers",
    "ray_address",
)
"""Fields of a :class:`SearchConfig` that a resume may change: the budgets (to extend a run) and
the Ray actors that score its neighbourhoods (the trajectory does not depend on them). The one
list that :class:`agents.run.search_run.SearchRun`, a population and ``aann search --resume``
use."""
UNKEYED_FIELDS: tuple[str, ...] = (
    *RESUMABLE_FIELDS,
    "agent_defaults",
    "checkpoint_seconds",
    "checkpoint_steps",
    "data_dir",
    "device",
)
"""Fields the trajectory does not depend on, left out of :meth:`SearchConfig.trajectory_key`:
the resumable ones, the legacy defaults (derived from the stored config itself), when to
checkpoint, and where the data and the evaluator live."""
LEGACY_SENSE_DEFAULTS: dict[str, Any] = {
    "neighborhood_size": 64,
    "schedule": "alternate",
    "criterion": "accuracy",
    "explore": "uniform",
}
"""SENSE's defaults before issue 14, for runs stored then."""

StartKind = Literal["random", "balanced", "psiren", "file"]


@dataclass(frozen=True)
class Start:
    """Where a search starts, parsed once from its text form (``SearchConfig.init``).

    | text | kind | start |
    |---|---|---|
    | ``random`` | ``random`` | a random network at the config's sparsity |
    | ``balanced`` | ``balanced`` | random, each layer's nonzeros half -1, half +1 (one family for all seeds) |
    | ``psiren`` | ``psiren`` | the shipped p-SIREN net of the task at the config's sparsity |
    | anything else | ``file`` | the saved network at that path |
    """

    kind: StartKind
    path: Path | None = None

    NAMED = ("random", "balanced", "psiren")
    """The starts that have a name (anything else is a file)."""

    @classmethod
    def parse(cls, text: str | os.PathLike[str]) -> Start:
        text = os.fspath(text)
        if text in cls.NAMED:
            return cls(text)  # type: ignore[arg-type]
        return cls("file", Path(text))

    def reset_option(self) -> str:
        """What the env's ``reset(options={"init": ...})`` takes for this start."""
        return str(self.path) if self.path is not None else self.kind

    def check(self, task: str, sparsity: float) -> None:
        """Fail early on a start that a new run could not load.

        Raises:
            ValueError: No p-SIREN net of ``task`` ships at ``sparsity``, or the file is missing.
        """
        if self.kind == "psiren":
            from aann_env.nets import load_psiren  # reads the shipped file: only when asked

            load_psiren(task, sparsity)
        elif self.path is not None and not self.path.is_file():
            raise ValueError(
                f"--init {str(self.path)!r} is neither 'random', 'balanced', 'psiren' nor a "
                "network file"
            )


@dataclass
class SearchConfig:
    """Everything that defines a search (and so its trajectory)."""

    task: str = "mnist"
    """Task name."""
    agent: str = "sense"
    """Agent name: sense, random, annealing or rl (:data:`agents.registry.AGENTS`)."""
    sparsity: float = 0.8
    """Sparsity of a random start."""
    init: str = "random"
    """Start: "random", "balanced" (random, one family for all seeds), "psiren" (the shipped p-SIREN
    net at ``sparsity``) or a network file (:class:`Start`, :attr:`start`)."""
    seed: int = 0
    """Seed of the env (start, neighbourhood draws) and, derived from it, of the agent."""
    budget_evals: int | None = None
    """Stop after this many neighbour evaluations."""
    budget_seconds: float | None = None
    """Stop after this much wall time (summed over resumes)."""
    budget_cost: float | None = None
    """Stop after this much evaluation cost (:class:`agents.budget.Budget`)."""
    cost_model: str = "neighbours"
    """What a step costs (:mod:`aann_env.envs.cost_model`): "neighbours" scored, or
    "calibrated" (measured seconds, per-step and commit costs included)."""
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
        check_agent(self.agent)
        if self.task not in TASK_ENV_IDS:
            raise ValueError(
                f"unknown task {self.task!r}; tasks with an env: {sorted(TASK_ENV_IDS)}"
            )
        self.budget()  # validates
        cost_model(self.cost_model)  # validates (and finds the calibration file)
        if self.workers is not None and int(self.workers) < 1:
            raise ValueError(f"workers must be at least 1 Ray actor, got {self.workers}")
        check_scoring(self.score_on, self.rotate_every)
        if self.agent == "rl" and self.budget_cost is None and self.budget_seconds is None:
            raise ValueError(
                "the rl agent needs a cost or wall-time budget (--budget-cost or "
                "--budget-seconds): its policy observes the fraction of the budget spent"
            )
        agent_class(self.agent)(**self.agent_arguments())  # validates them

    # ------------------------------------------------------------------------- derived values
    @property
    def start(self) -> Start:
        """The start, parsed (:class:`Start`)."""
        return Start.parse(self.init)

    def budget(self) -> Budget:
        """What the search may spend."""
        return Budget(self.budget_evals, self.budget_seconds, self.budget_cost)

    def agent_arguments(self) -> dict[str, Any]:
        """The agent's keyword arguments: the legacy defaults, overridden by those given."""
        return {**self.agent_defaults, **self.agent_kwargs}

    @property
    def records_scores(self) -> bool:
        """Whether the history has the score columns: the search scores on another split than it
        selects by."""
        return self.score_on != "valid"

    def history_columns(self) -> tuple[str, ...]:
        """The columns of the search's ``history.csv``."""
        return SEARCH_COLUMNS + (SCORE_COLUMNS if self.records_scores else ())

    # ------------------------------------------------------------------------------- resume
    def resumed(self, **changes: Any) -> SearchConfig:
        """This search with some of :data:`RESUMABLE_FIELDS` changed (None values are ignored:
        not given).

        Raises:
            ValueError: A field that a resume may not change.
        """
        bad = sorted(set(changes) - set(RESUMABLE_FIELDS))
        if bad:
            raise ValueError(f"a resume may change only {', '.join(RESUMABLE_FIELDS)}, not {bad}")
        given = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **given) if given else self

    # ----------------------------------------------------------------------------- storage
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchConfig:
        """A config from its ``config.json`` (unknown keys, such as ``layer_names``, ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "score_on" not in values:  # stored before issue 14: its scoring and SENSE defaults
            values["score_on"] = "valid"
            if values.get("agent", "sense") == "sense":
                values["agent_defaults"] = dict(LEGACY_SENSE_DEFAULTS)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def trajectory_fields(self) -> dict[str, Any]:
        """The fields the trajectory depends on (all but :data:`UNKEYED_FIELDS`); the scoring
        fields are left out at the values that mean what a config without them meant, so
        checkpoints written before they existed still match."""
        d = asdict(self)
        for k in UNKEYED_FIELDS:
            d.pop(k)
        if d["score_on"] == "valid":
            for k in ("score_on", "selection_size"):
                d.pop(k)
        if d["rotate_every"] is None:
            d.pop("rotate_every")
        if d["cost_model"] == "neighbours":  # what every config before the models meant
            d.pop("cost_model")
        return d

    def trajectory_key(self) -> str:
        """Hash of :meth:`trajectory_fields`; every checkpoint records it."""
        return hashlib.sha256(
            json.dumps(self.trajectory_fields(), sort_keys=True).encode()
        ).hexdigest()


__all__ = [
    "LEGACY_SENSE_DEFAULTS",
    "RESUMABLE_FIELDS",
    "UNKEYED_FIELDS",
    "SearchConfig",
    "Start",
]
