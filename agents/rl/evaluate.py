"""A schedule policy against SENSE's schedules at an equal evaluation-cost budget (``aann rl eval``).

Every contender is a search agent run the way ``aann search`` runs it (``protocol="search"``, the
default: the scoring of :data:`agents.presets.DEFAULT`, rotating batches of the training split,
the best network selected on validation images and its test accuracy reported; ``"paper"``:
scoring and selection on the validation images, the final network's figures, as before issue
26), on the same held-out random
start (the env is reset with the start seed, the agent's generator is seeded with ``(seed, 1)``),
until the same budget of evaluation cost is spent (:class:`agents.budget.Budget`, cost model in
:mod:`aann_env.envs.schedule`). The contenders are the trained policy
(:class:`agents.rl.agent.RLSchedule`) and the SENSE agent with each schedule it ships (``fc``,
``alternate``, ``random-block``, ``uniform``, ``adaptive``), its default neighbourhood sizes
(:data:`agents.sense.TASK_NEIGHBORHOODS`) and the loss criterion. So a row of the table is the run
``aann search --agent sense --schedule S --criterion loss --budget-cost B --seed SEED`` would make.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from aann_env.envs.cost_model import cost_model as get_cost_model
from aann_env.envs.registration import TASK_ENV_IDS
from agents.base import SearchAgent
from agents.budget import Budget
from agents.presets import DEFAULT
from agents.rl.agent import RLSchedule
from agents.rl.records import append_rows, columns
from agents.rl.rule import HandRule, parse_rule
from agents.rl.timeline import (
    LayerTimeline,
    cost_share,
    format_share,
    parse_share,
    read_segments,
)
from agents.sense import SCHEDULES, SENSE, TASK_NEIGHBORHOODS


@dataclass(frozen=True)
class Result:
    """One contender's search from one start."""

    name: str
    seed: int
    budget: float
    val_accuracy: float
    test_accuracy: float
    steps: int
    cost: float
    wall_time: float
    best_val_accuracy: float = float("nan")
    """The best network's validation accuracy (the selection metric)."""
    best_test_accuracy: float = float("nan")
    """The best network's test accuracy (``protocol="search"``'s figure)."""
    cost_share: str = ""
    """The fraction of the cost spent per layer (:func:`agents.rl.timeline.format_share`)."""


def contender(
    name: str,
    task: str,
    policy: str | os.PathLike[str] | None,
    sizes: dict[str, int] | None = None,
) -> SearchAgent:
    """``"policy"`` (the RL agent), a decision-level hand rule ``"rule:RATE"``
    (:mod:`agents.rl.rule`), or a SENSE schedule (``"handoff:RATE"`` sets the handoff rate) with
    neighbourhood ``sizes`` per layer (default: the task's)."""
    if name == "policy":
        if policy is None:
            raise ValueError("the 'policy' contender needs a policy file or 'shipped'")
        return RLSchedule(policy)
    if name.startswith("rule"):
        return RLSchedule(HandRule(parse_rule(name)))
    schedule, _, rate = name.partition(":")
    if schedule not in SCHEDULES or (bool(rate) and schedule != "handoff"):
        raise ValueError(
            f"unknown contender {name!r}; contenders: policy, rule:RATE, handoff:RATE, "
            + ", ".join(SCHEDULES)
        )
    kwargs: dict[str, Any] = {}
    if rate:
        try:
            kwargs["handoff_rate"] = float(rate)
        except ValueError:
            raise ValueError(f"{name!r}: the handoff rate must be a number") from None
    size = dict(TASK_NEIGHBORHOODS[task]) | dict(sizes or {})
    return SENSE(neighborhood_size=size, schedule=schedule, criterion="loss", **kwargs)  # type: ignore[arg-type]


def run_one(
    env: gym.Env,
    name: str,
    seed: int,
    budget: float,
    task: str = "mnist",
    policy: str | os.PathLike[str] | None = None,
    sizes: dict[str, int] | None = None,
    timeline: LayerTimeline | None = None,
    cost_model: str = "neighbours",
) -> Result:
    """One contender's search from the start of ``seed`` until ``budget`` of cost is spent
    (its layer choices recorded into ``timeline``, a new one if None)."""
    agent = contender(name, task, policy, sizes)
    agent.rng = np.random.default_rng((seed, 1))  # as aann search seeds it
    agent.cost_model = get_cost_model(cost_model)
    env.reset(seed=seed)
    timeline = timeline if timeline is not None else LayerTimeline(name, seed, budget)
    start = time.perf_counter()
    agent.run(env, Budget(cost=budget), timeline)
    wall = time.perf_counter() - start
    u = env.unwrapped
    best, test = agent.best_network, u.test_accuracy()
    best_test = (
        float("nan") if best is None else test if best == u.network else u.test_accuracy(best)
    )
    return Result(
        name,
        seed,
        budget,
        u.val_accuracy,
        test,
        agent.steps,
        agent.cost,
        wall,
        float(agent.best_accuracy),
        best_test,
        format_share(cost_share(timeline.segments)),
    )


PROTOCOLS = ("search", "paper")


def protocol_kwargs(
    protocol: str, eval_size: int | None = None, selection_size: int | None = None
) -> dict[str, Any]:
    """The env's scoring under ``protocol`` ("search": as ``aann search``; "paper": validation
    scoring), with the image counts overridden where given."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    keys = ("score_on", "eval_size", "rotate_every", "selection_size")
    kwargs = {k: DEFAULT[k] for k in keys} if protocol == "search" else {"score_on": "valid"}
    if eval_size is not None:
        kwargs["eval_size"] = eval_size
    if selection_size is not None and protocol == "search":
        kwargs["selection_size"] = selection_size
    return kwargs


def compare(
    policy: str | os.PathLike[str] | None,
    seeds: Sequence[int],
    budgets: Sequence[float],
    *,
    task: str = "mnist",
    eval_size: int | None = None,
    sparsity: float = 0.8,
    contenders: Sequence[str] | None = None,
    log: str | os.PathLike[str] | None = None,
    protocol: str = "search",
    selection_size: int | None = None,
    sizes: dict[str, int] | None = None,
    cost_model: str = "neighbours",
) -> list[Result]:
    """Every contender from every start at every budget.

    Args:
        policy: A policy file or ``"shipped"``; None leaves the policy out.
        seeds: Held-out start seeds.
        budgets: Evaluation-cost budgets.
        task: Task name.
        eval_size: Images scored at a time (default: the protocol's).
        sparsity: Sparsity of the random starts.
        contenders: Which to run (default: the policy, if given, and every SENSE schedule).
        log: Append each result to this CSV as it comes (a long comparison loses nothing); the
            searches it already holds (same contender, seed and budget) are read back, not run
            again, so an interrupted comparison resumes.
        protocol: ``"search"`` or ``"paper"`` (module docstring).
        selection_size: ``"search"``: validation images the best network is selected by.
        sizes: The SENSE contenders' neighbourhood sizes per layer (default: the task's).
        cost_model: What a step costs, so what the budgets count (:mod:`aann_env.envs.cost_model`).
    """
    scoring = protocol_kwargs(protocol, eval_size, selection_size)
    names = list(contenders or ((["policy"] if policy is not None else []) + list(SCHEDULES)))
    for name in names:  # unknown names fail before any search runs
        if name != "policy" or policy is None:
            contender(name, task, policy, sizes)
    done: dict[tuple[str, int, float], Result] = {}
    if log is not None:
        wanted = settings(task, sparsity, scoring, sizes, policy if "policy" in names else None)
        wanted["cost_model"] = get_cost_model(cost_model).to_dict()
        check_settings(Path(log), wanted)
        done = {(r.name, r.seed, r.budget): r for r in read_csv(Path(log))} if _exists(log) else {}
    env = gym.make(
        TASK_ENV_IDS[task],
        sparsity=sparsity,
        max_episode_steps=-1,
        cost_model=cost_model,
        **scoring,
    )
    results = []
    for budget in budgets:
        for seed in seeds:
            for name in names:
                if (name, seed, float(budget)) in done:
                    results.append(done[(name, seed, float(budget))])
                    continue
                timeline = LayerTimeline(name, seed, budget)
                result = run_one(env, name, seed, budget, task, policy, sizes, timeline, cost_model)
                results.append(result)
                if log is not None:
                    append_rows(timeline_path(log), timeline.segments)
                    append_csv(Path(log), [result])
    env.close()
    return results


def timeline_path(log: str | os.PathLike[str]) -> Path:
    """Where the layer timelines of a results CSV go: ``<stem>.timeline.csv`` beside it."""
    return Path(log).with_suffix(".timeline.csv")


def settings_path(log: str | os.PathLike[str]) -> Path:
    """Where the settings of a results CSV go: ``<stem>.settings.json`` beside it."""
    return Path(log).with_suffix(".settings.json")


def settings(
    task: str,
    sparsity: float,
    scoring: dict[str, Any],
    sizes: dict[str, int] | None,
    policy: str | os.PathLike[str] | None,
) -> dict[str, Any]:
    """What every row of one results CSV must share: the task, starts, scoring, SENSE sizes and
    the policy file's hash (contenders, seeds and budgets may grow on a resume)."""
    from agents.rl.policy import SHIPPED_SHA256, sha256

    digest = None
    if policy is not None:
        digest = SHIPPED_SHA256 if str(policy) == "shipped" else sha256(Path(policy))
    return {
        "task": task,
        "sparsity": float(sparsity),
        "scoring": dict(scoring),
        "sizes": dict(sorted((sizes or {}).items())),
        "policy_sha256": digest,
    }


def check_settings(log: Path, wanted: dict[str, Any]) -> None:
    """Refuse to add rows made under other settings to ``log``; record the settings of a new one.

    Raises:
        ValueError: ``log`` holds results of other settings (it names the differences).
    """
    path = settings_path(log)
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{path} is not valid JSON ({exc}); delete it or pick a new --out"
            ) from None
        # The policy's hash binds only runs that have the policy: a run without it is unbound.
        optional = {"policy_sha256"}
        differ = {
            k: (stored.get(k), v)
            for k, v in wanted.items()
            if stored.get(k) != v and not (k in optional and None in (stored.get(k), v))
        }
        if differ:
            said = "; ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in differ.items())
            raise ValueError(
                f"{log} holds results of other settings ({said}); rerun with the same options "
                "or pick a new --out"
            )
        if any(stored.get(k) is None and wanted.get(k) is not None for k in optional):
            path.write_text(
                json.dumps({**stored, **{k: wanted[k] for k in optional}}, indent=2) + "\n"
            )
        return
    # A CSV from before settings were recorded is taken to match (it cannot be checked).
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(wanted, indent=2) + "\n")


def merge(
    sources: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str] | None
) -> list[Result]:
    """The results of several results CSVs (``aann rl eval --results``); with ``out``, written
    there with their timelines and settings.

    Raises:
        ValueError: A file is not a results CSV, or the sources' recorded settings differ.
    """
    results = [r for path in sources for r in read_csv(Path(path))]
    recorded = [
        json.loads(settings_path(p).read_text()) for p in sources if settings_path(p).is_file()
    ]
    if any(s != recorded[0] for s in recorded[1:]):
        raise ValueError(
            f"the results were made under different settings (see {settings_path(sources[0]).name} "
            "beside each CSV); merge only results of one comparison"
        )
    if out is not None:
        out = Path(out)
        for path in (out, timeline_path(out), settings_path(out)):
            path.unlink(missing_ok=True)
        append_csv(out, results)
        for path in sources:
            if timeline_path(path).is_file():
                append_rows(timeline_path(out), read_segments(timeline_path(path)))
        if recorded:
            settings_path(out).write_text(json.dumps(recorded[0], indent=2) + "\n")
    return results


def _exists(log: str | os.PathLike[str] | None) -> bool:
    return log is not None and Path(log).is_file()


COLUMNS = columns(Result)


def append_csv(path: Path, results: Sequence[Result]) -> None:
    """Append results to a results CSV (with the header if new)."""
    append_rows(path, results)


def read_csv(path: Path) -> list[Result]:
    """Results written by :func:`append_csv`.

    Raises:
        ValueError: The file is not such a CSV.
    """
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    # Written before issue 26: no best-network columns; before its timelines: no cost share.
    known = (COLUMNS, COLUMNS[:-1], COLUMNS[:-3])
    if not rows or tuple(rows[0]) not in known:
        raise ValueError(f"{path} is not a results CSV of aann rl eval (columns {COLUMNS})")
    types = [f.type for f in fields(Result)][: len(rows[0])]
    convert = {"str": str, "int": int, "float": float}
    return [Result(*(convert[t](v) for t, v in zip(types, row, strict=True))) for row in rows[1:]]


def _mean_share(rows: Sequence[Result]) -> str:
    shares = [parse_share(r.cost_share) for r in rows if r.cost_share]
    if not shares:
        return ""
    layers = sorted({layer for s in shares for layer in s})
    means = {layer: np.mean([s.get(layer, 0.0) for s in shares]) for layer in layers}
    return " / ".join(f"{layer} {v:.0%}" for layer, v in means.items())


def table(results: Sequence[Result]) -> str:
    """A Markdown table per budget: mean +- std of the final accuracies, steps and wall time."""
    lines = [
        "| budget | contender | starts | validation | test | best: validation | best: test "
        "| steps | wall time | cost share per layer |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for budget in sorted({r.budget for r in results}):
        at = [r for r in results if r.budget == budget]
        for name in dict.fromkeys(r.name for r in at):
            rows = [r for r in at if r.name == name]
            val = np.array([r.val_accuracy for r in rows])
            test = np.array([r.test_accuracy for r in rows])
            best_val = np.array([r.best_val_accuracy for r in rows])
            best_test = np.array([r.best_test_accuracy for r in rows])
            steps = np.mean([r.steps for r in rows])
            wall = np.mean([r.wall_time for r in rows])
            lines.append(
                f"| {budget:,.0f} | {name} | {len(rows)} | {val.mean():.2%} +- {val.std():.2%} | "
                f"{test.mean():.2%} +- {test.std():.2%} | {best_val.mean():.2%} | "
                f"{best_test.mean():.2%} +- {best_test.std():.2%} | {steps:.0f} | {wall:.0f} s | "
                f"{_mean_share(rows)} |"
            )
    return "\n".join(lines)
