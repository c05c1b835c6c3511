"""What a SENSE step costs in seconds, per layer: the constants of the calibrated cost model.

Usage::

    .venv/bin/python benchmarks/step_cost.py           # MNIST, aann search's scoring protocol
    .venv/bin/python benchmarks/step_cost.py --write   # and write aann_env/envs/calibration.json
    .venv/bin/python benchmarks/step_cost.py --quick   # a smoke run on 500 images

Everything runs in one process (with :func:`aann_env.memory.reuse_freed_memory`, as the ``aann``
command runs), one measurement after the other, on the scoring protocol of
``aann search`` (:data:`agents.presets.DEFAULT`: 10,000 training images a batch, moved every 200
steps, the best network selected on 10,000 validation images), from the same random 80%-sparse
start (seed 0):

1. **Steps.** For each layer and neighbourhood size K, the SENSE agent searches that layer alone
   for a few seconds; every step's wall time is recorded (the whole agent loop: drawing the swaps,
   scoring, selecting, committing, the callbacks). The first step of each run is left out (it
   compiles), so are the steps where the scoring batch moved.
2. **Commits.** Committing a swap of each layer on both evaluators (scoring and selection),
   timed directly: a swap and the swap back, many times.
3. **Batch moves.** Loading the next scoring batch (a full forward pass over it), timed
   directly; every step pays ``1 / rotate_every`` of it.

Per layer, a least-squares line through the steps' times less their commits' gives the cost of
one neighbour (slope) and the fixed cost of a step (intercept, plus the share of the batch move).
In units of one output-layer neighbour's time these are the calibrated model's constants
(:mod:`aann_env.envs.cost_model`).

4. **Check.** The constant-fc policy's action (fc, 64 neighbours) and the default ``adaptive``
   schedule each search for a while; the table gives the cost units each spent per second under
   both models. Under a model that tells the truth the two rates agree.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import date

import gymnasium as gym
import numpy as np

import aann_env  # noqa: F401  (registers the env ids)
from aann_env.envs.cost_model import CALIBRATION_FILE, NEIGHBOURS, CostModel
from aann_env.memory import reuse_freed_memory
from agents.base import BaseCallback
from agents.budget import Budget, StepInfo
from agents.presets import DEFAULT
from agents.sense import SENSE, TASK_NEIGHBORHOODS


@dataclass(frozen=True)
class Config:
    eval_size: int = 10_000
    """Scoring images a batch (and validation images the best network is selected by)."""
    sizes: tuple[tuple[str, tuple[int, ...]], ...] = (
        ("fc", (16, 64, 256, 1024)),
        ("2.0", (8, 32, 128)),
        ("1.0", (2, 8, 32)),
    )
    """Neighbourhood sizes timed per layer."""
    seconds: float = 15.0
    """Search time per (layer, size) (at least ``min_steps`` steps)."""
    min_steps: int = 4
    """Steps timed per (layer, size) at least."""
    commits: int = 20
    """Commits timed per layer (half of them swaps back)."""
    check_seconds: float = 60.0
    """Search time of each schedule in the check."""
    seed: int = 0
    """Seed of the start and the searches."""


def _env(cfg: Config) -> gym.Env:
    return gym.make(
        "AANN-MNIST-v0",
        score_on=DEFAULT["score_on"],
        eval_size=cfg.eval_size,
        rotate_every=DEFAULT["rotate_every"],
        selection_size=cfg.eval_size,
        max_episode_steps=-1,
    )


class StepTimes(BaseCallback):
    """Each step's wall time, whether it committed and whether the scoring batch moved."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[float, bool, bool]] = []
        self._last = 0.0
        self._batch = 0

    def _on_step(self, info: StepInfo) -> bool:
        assert self.env is not None
        batch = self.env.unwrapped.search.scorer.batch
        self.rows.append((info.wall_time - self._last, info.committed, batch != self._batch))
        self._last, self._batch = info.wall_time, batch
        return True


class CostCount(BaseCallback):
    """The cost a search spent under several models."""

    def __init__(self, models: dict[str, CostModel]) -> None:
        super().__init__()
        self.models = models
        self.spent = dict.fromkeys(models, 0.0)
        self._evals = 0

    def _on_step(self, info: StepInfo) -> bool:
        evals, self._evals = info.evals - self._evals, info.evals
        for name, model in self.models.items():
            self.spent[name] += model.step_cost(info.layer, evals, info.committed)
        return True


def time_steps(env: gym.Env, layer: str, k: int, cfg: Config) -> list[tuple[float, bool]]:
    """(seconds, committed) of the steps of a SENSE search of ``layer`` alone with ``k``."""
    names = env.unwrapped.task.arch.layer_names
    weights = [1.0 if n == layer else 0.0 for n in names]
    agent = SENSE(
        seed=cfg.seed,
        neighborhood_size={n: k for n in names},
        schedule="uniform",
        layer_weights=weights,
        criterion="loss",
    )
    env.reset(seed=cfg.seed)
    times = StepTimes()
    start = time.perf_counter()
    while True:  # budgets of more seconds until enough steps are timed
        agent.run(env, Budget(seconds=cfg.seconds), times)
        if len(times.rows) > cfg.min_steps or time.perf_counter() - start > 4 * cfg.seconds:
            break
    return [(dt, committed) for dt, committed, moved in times.rows[1:] if not moved]


def time_commits(env: gym.Env, layer: str, cfg: Config) -> float:
    """Mean seconds of committing one swap of ``layer`` on both evaluators."""
    env.reset(seed=cfg.seed)
    search = env.unwrapped.search
    times = []
    for _ in range(cfg.commits // 2):
        swap = search.sample(1, layer=layer)[0]
        back = np.array([swap[0], swap[2], swap[1]])  # the weight moves back
        for s in (swap, back):
            start = time.perf_counter()
            search.commit(s)
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def time_batch_move(env: gym.Env, cfg: Config) -> float:
    """Seconds of moving the scoring batch (loading the next batch's caches)."""
    env.reset(seed=cfg.seed)
    scorer = env.unwrapped.search.scorer
    times = []
    for batch in (1, 2, 3):
        start = time.perf_counter()
        scorer._load(scorer.evaluator.network, batch)  # what start_round does when it is due
        times.append(time.perf_counter() - start)
    return float(np.median(times))


@dataclass(frozen=True)
class LayerFit:
    layer: str
    per_neighbour: float
    """Seconds per neighbour scored."""
    per_step: float
    """Fixed seconds per step (without the batch move's share)."""
    commit: float
    """Seconds per commit."""
    steps: int
    """Steps the line was fitted to."""
    residual: float
    """Root-mean-square residual of the fit, relative to the mean step time."""


def fit_layer(layer: str, rows: list[tuple[int, float, bool]], commit: float) -> LayerFit:
    """The least-squares line ``seconds - commit * committed = a * K + b`` of (K, seconds,
    committed) rows."""
    k = np.array([r[0] for r in rows], dtype=float)
    t = np.array([r[1] - commit * r[2] for r in rows])
    design = np.stack([k, np.ones_like(k)], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, t, rcond=None)
    # The time of a step cannot fall below the time of drawing and selecting: keep b >= 0.
    if b < 0:
        a, b = float(np.sum(k * t) / np.sum(k * k)), 0.0
    rms = float(np.sqrt(np.mean((design @ np.array([a, b]) - t) ** 2)) / np.mean(t))
    return LayerFit(layer, float(a), float(b), commit, len(rows), rms)


def calibration(fits: list[LayerFit], batch_move: float, rotate_every: int, note: str) -> dict:
    """The calibrated model's record: constants in units of one output-layer neighbour."""
    from aann_env.envs.schedule import LAYER_COSTS

    unit = next(f.per_neighbour for f in fits if f.layer == "fc")
    share = batch_move / rotate_every
    neighbour = dict(LAYER_COSTS) | {f.layer: round(f.per_neighbour / unit, 3) for f in fits}
    neighbour["fc"] = 1.0
    return {
        "name": "calibrated",
        "neighbour": neighbour,
        "step": {f.layer: round((f.per_step + share) / unit, 1) for f in fits},
        "commit": {f.layer: round(f.commit / unit, 1) for f in fits},
        "unit_seconds": unit,
        "source": note,
    }


def check(env: gym.Env, model_record: dict, cfg: Config) -> list[tuple[str, float, float, float]]:
    """(search, seconds, neighbour-cost units/s, calibrated units/s) of two searches."""
    models = {"neighbours": NEIGHBOURS, "calibrated": CostModel.from_dict(model_record)}
    sizes = dict(TASK_NEIGHBORHOODS["mnist"])
    rows = []
    for name, kwargs in (
        ("fc, 64 neighbours", {"schedule": "fc", "neighborhood_size": sizes | {"fc": 64}}),
        ("adaptive (aann search)", {"schedule": "adaptive", "neighborhood_size": sizes}),
    ):
        env.reset(seed=cfg.seed)
        agent = SENSE(seed=cfg.seed, criterion="loss", **kwargs)
        count = CostCount(models)
        start = time.perf_counter()
        agent.run(env, Budget(seconds=cfg.check_seconds), count)
        wall = time.perf_counter() - start
        rows.append(
            (name, wall, count.spent["neighbours"] / wall, count.spent["calibrated"] / wall)
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run on 500 images")
    parser.add_argument(
        "--write", action="store_true", help="write the constants to aann_env/envs/calibration.json"
    )
    parser.add_argument("--note", default="", help="added to the record's source (e.g. 'quiet')")
    args = parser.parse_args(argv)
    cfg = (
        Config(eval_size=500, seconds=0.5, commits=4, check_seconds=2.0, min_steps=2)
        if args.quick
        else Config()
    )
    if args.quick and args.write:
        parser.error("--write needs a full run (no --quick)")

    reuse_freed_memory()  # as the aann command runs (aann_env.memory)
    env = _env(cfg)
    print(
        f"MNIST, scoring {cfg.eval_size} training images (moved every "
        f"{DEFAULT['rotate_every']} steps), selection on {cfg.eval_size} validation images"
    )
    print()
    print("| layer | K | steps timed | mean step | committed |")
    print("|---|---:|---:|---:|---:|")
    fits = []
    for layer, sizes in cfg.sizes:
        commit = time_commits(env, layer, cfg)
        rows = []
        for k in sizes:
            steps = time_steps(env, layer, k, cfg)
            rows += [(k, dt, c) for dt, c in steps]
            mean = np.mean([dt for dt, _ in steps]) if steps else float("nan")
            share = np.mean([c for _, c in steps]) if steps else float("nan")
            print(
                f"| {layer} | {k} | {len(steps)} | {mean * 1e3:.1f} ms | {share:.0%} |", flush=True
            )
        fits.append(fit_layer(layer, rows, commit))
    move = time_batch_move(env, cfg)
    print()
    print("| layer | per neighbour | per step | per commit | fit residual (rms / mean) |")
    print("|---|---:|---:|---:|---:|")
    for f in fits:
        print(
            f"| {f.layer} | {f.per_neighbour * 1e6:.1f} us | {f.per_step * 1e3:.2f} ms | "
            f"{f.commit * 1e3:.2f} ms | {f.residual:.0%} |"
        )
    print(
        f"\nmoving the scoring batch: {move * 1e3:.0f} ms (a share of 1/{DEFAULT['rotate_every']} "
        "per step)"
    )
    note = f"benchmarks/step_cost.py --write, {date.today().isoformat()}, {cfg.eval_size} images"
    if args.note:
        note += f", {args.note}"
    record = calibration(fits, move, int(DEFAULT["rotate_every"]), note)
    print(
        "\ncalibrated model (units of one fc neighbour's time, "
        f"{record['unit_seconds'] * 1e6:.1f} us):"
    )
    print(json.dumps({k: record[k] for k in ("neighbour", "step", "commit")}, indent=None))
    print(
        "\n| search | seconds | neighbour units/s | calibrated units/s | calibrated units x unit |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, wall, per_n, per_c in check(env, record, cfg):
        print(
            f"| {name} | {wall:.0f} | {per_n:,.0f} | {per_c:,.0f} | "
            f"{per_c * record['unit_seconds']:.2f} |"
        )
    env.close()
    if args.write:
        CALIBRATION_FILE.write_text(json.dumps(record, indent=2) + "\n")
        print(f"\nwrote {CALIBRATION_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
