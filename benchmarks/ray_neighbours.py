"""Parallel neighbourhoods on Ray: seconds per SENSE round with 1 and 2 actors against one process.

Usage::

    .venv/bin/python benchmarks/ray_neighbours.py           # 10,000 training images, as aann search
    .venv/bin/python benchmarks/ray_neighbours.py --quick   # a smoke run on 200 images

A *round* is what one SENSE step costs the driver: draw K swaps of one layer from the env's
generator, score them (``env.unwrapped.evaluate_swaps``) and commit the best (``env.step``). The
env is ``aann search``'s: it scores on ``eval_size`` training images (no rotation, so that no
round pays for a new batch) and keeps the validation accuracy of ``selection_size`` images, which
every commit updates. All rows use one env, one after the other; each row times rounds for
``seconds`` (at least ``min_rounds``) after one warm-up round. Contenders:

| contender | threads |
|---|---|
| 1 process | torch's and numba's defaults (one per core): what ``aann search`` does |
| 1 process, 1 thread | torch and numba limited to one thread: the work of one core |
| N actors | ``aann search --workers N``: each actor one CPU, one torch and one numba thread; the driver keeps the defaults (it draws, selects and commits locally) |

**Model.** Each round is timed whole, in its scoring part and in its commit (``env.step``: the
swap applied to the scoring and the selection evaluators). ``t_d`` is the 1-process round time
outside scoring (drawing, selecting, committing: the driver's own work, averaged over K). Per
layer a straight line is fitted to the scoring time against K: ``a + e K`` for 1 process,
``a1 + e1 K`` for 1 thread (``e1``: scoring one swap on one core), and the intercept of N
actors less ``a1`` is ``o(N)``, the overhead of scoring on N actors *as measured here* (on 2
cores it holds the actors' own commits and the contention of driver and actors). Its parts are
measured apart: ``c``, the driver's cost of one actor call (200 empty calls pipelined to one
actor); ``L``, the round trip of one empty call (the median of 100 made one after the other);
and ``u1``, an actor's commit of a swap (half the 1-thread commit, which updates two
evaluators). A cluster of N actors with a core each should then take::

    T(N, K) = max(t_d, u1) + (L + rtt + 2 N c) + (a1 + ceil(K / N) * e1)

per round: the driver's work, which hides the actors' commits (the commit is broadcast before
the driver applies it locally, so they run side by side); the broadcast (the driver sends a
score call and a commit to each actor and gathers N results: linear in N; ``rtt`` the
network's round trip, zero on one machine); and the slowest actor (the one with ``ceil(K / N)``
swaps). A new scoring batch every ``rotate_every`` rounds (a forward pass on every actor) and
the variance between actors are left out. The estimate names the largest of the three terms,
which bounds the rounds per second, at ``aann search``'s neighbourhood sizes (speed-up over the
measured 1-process round, ``t_d + a + e K``) and with a neighbourhood that grows with the
cluster (``K = m N``: speed-up in neighbours scored per second over 1 process at its default
K). Break-even: the K at which the measured round lines of 1 process and 2 actors cross on this
machine.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

import aann_env  # noqa: F401  (registers the env ids)
from agents.sense import TASK_NEIGHBORHOODS

DEFAULT_K = TASK_NEIGHBORHOODS["mnist"]
"""``aann search``'s neighbourhood sizes, at which the estimate is made."""


@dataclass(frozen=True)
class Config:
    eval_size: int = 10_000
    """Training images each neighbour is scored on."""
    selection_size: int = 10_000
    """Validation images every commit updates (the selection evaluator)."""
    sizes: tuple[tuple[str, tuple[int, ...]], ...] = (
        ("fc", (16, 64, 256, 1024)),
        ("2.0", (4, 16, 32, 128)),
        ("1.0", (2, 8, 32)),
    )
    """Per layer, the neighbourhood sizes timed (at least two, for the fit)."""
    workers: tuple[int, ...] = (1, 2)
    """Actor counts timed (1 gives the Ray overhead; 2 the speed-up on a 2-core machine)."""
    seconds: float = 3.0
    """Time spent per row."""
    min_rounds: int = 3
    """Rounds per row at least."""
    scale: tuple[int, ...] = (8, 64, 512)
    """Actor counts of the estimate."""
    per_actor: tuple[tuple[str, int], ...] = (("fc", 32), ("2.0", 4), ("1.0", 1))
    """Swaps per actor (m) of the estimate with a neighbourhood that grows with the cluster."""
    rtt_ms: float = 0.5
    """Network round trip of a cluster, added per round in the estimate (a LAN: about 0.5 ms)."""
    seed: int = 0
    """Seed of the start network and of the swaps drawn."""


def _threads() -> tuple[int, int]:
    import numba
    import torch

    return numba.get_num_threads(), torch.get_num_threads()


def _set_threads(numba_threads: int, torch_threads: int) -> None:
    import numba
    import torch

    numba.set_num_threads(numba_threads)
    torch.set_num_threads(torch_threads)


def _time_rounds(env: gym.Env, layer: str, k: int, cfg: Config) -> tuple[float, float, float, int]:
    """Seconds per round of K swaps of ``layer`` and, of those, seconds scoring and seconds
    committing (after one warm-up round); rounds timed."""
    u = env.unwrapped

    def one_round() -> tuple[float, float]:
        swaps = u.sample_swaps(k, layer=layer)
        start = time.perf_counter()
        scores = u.evaluate_swaps(swaps)
        scored = time.perf_counter() - start
        start = time.perf_counter()
        env.step(swaps[int(np.argmin(scores.loss))])
        return scored, time.perf_counter() - start

    one_round()
    start, rounds, scoring, commit = time.perf_counter(), 0, 0.0, 0.0
    while rounds < cfg.min_rounds or time.perf_counter() - start < cfg.seconds:
        scored, committed = one_round()
        scoring, commit = scoring + scored, commit + committed
        rounds += 1
    return (time.perf_counter() - start) / rounds, scoring / rounds, commit / rounds, rounds


def _time_all(env: gym.Env, cfg: Config, label: str, out: dict[str, Any]) -> None:
    for layer, sizes in cfg.sizes:
        for k in sizes:
            seconds, scoring, commit, rounds = _time_rounds(env, layer, k, cfg)
            out["rows"].setdefault((layer, k), {})[label] = seconds
            out["scoring"].setdefault((layer, k), {})[label] = scoring
            out["commit"].setdefault((layer, k), {})[label] = commit
            print(
                f"{label}, {layer}, K={k}: {seconds * 1e3:.2f} ms/round, "
                f"{scoring * 1e3:.2f} scoring ({rounds} rounds)",
                file=sys.stderr,
            )


def run_benchmark(cfg: Config) -> dict[str, Any]:
    """Time every contender on every layer and size; return the rows and the thread counts."""
    from agents.distributed.cluster import connect
    from agents.distributed.pool import NeighbourPool

    env = gym.make(
        "AANN-MNIST-v0",
        eval_size=cfg.eval_size,
        score_on="train",
        selection_size=cfg.selection_size,
        max_episode_steps=-1,
    )
    env.reset(seed=cfg.seed)
    default = _threads()
    out: dict[str, Any] = {
        "rows": {},
        "scoring": {},
        "commit": {},
        "threads": default,
        "cpus": os.cpu_count(),
    }
    _time_all(env, cfg, "1 process", out)
    _set_threads(1, 1)
    try:
        _time_all(env, cfg, "1 thread", out)
    finally:
        _set_threads(*default)
    connect(None, max(cfg.workers))
    for n in cfg.workers:
        u = env.unwrapped
        with NeighbourPool.start(u.scoring_set, n, layer_costs=u.layer_costs) as pool:
            if n == 1:
                out["call_cost"] = _call_cost(pool)
                out["latency"] = _latency(pool)
            pool.attach(env)
            _time_all(env, cfg, _actors(n), out)
            u.attach_scorer(None)
    return out


def _call_cost(pool: Any, calls: int = 200) -> float:
    """Seconds of the driver per actor call: ``calls`` empty calls pipelined to one actor."""
    import ray

    actor = pool.actors[0]
    ray.get(actor.ready.remote())
    start = time.perf_counter()
    ray.get([actor.ready.remote() for _ in range(calls)])
    return (time.perf_counter() - start) / calls


def _latency(pool: Any, calls: int = 100) -> float:
    """Seconds of one round trip to an actor: the median of ``calls`` empty calls made one
    after the other."""
    import ray

    actor = pool.actors[0]
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        ray.get(actor.ready.remote())
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _actors(n: int) -> str:
    return f"{n} actor" + ("s" if n > 1 else "")


# ------------------------------------------------------------------------------------ the model
def fit(result: dict[str, Any], layer: str, label: str, what: str = "rows") -> tuple[float, float]:
    """(intercept, slope) in seconds of the line through a contender's rounds (``"rows"``) or
    their scoring time (``"scoring"``) against K; the slope is at least 0."""
    points = [(k, row[label]) for (name, k), row in result[what].items() if name == layer]
    ks, ts = np.array(points, dtype=float).T
    slope, intercept = np.polyfit(ks, ts, 1)
    return float(intercept), max(float(slope), 0.0)


def model(result: dict[str, Any], cfg: Config, layer: str) -> dict[str, float]:
    """The model's terms for ``layer``, in seconds (see the module docstring).

    ``t_d``: the 1-process round time outside scoring (draws, selection, commits), averaged over
    K; ``a_s``, ``e``: the 1-process scoring line; ``a1``, ``e1``: the 1-thread scoring line;
    ``o<N>``: the overhead of scoring on N actors here, their scoring intercept less ``a1``;
    ``c``, ``L``: the driver's cost of a call and a call's round trip; ``u1``: an actor's
    commit (half the 1-thread commit of two evaluators); ``break_even``: where the measured
    round lines of 1 process and 2 actors cross.
    """
    rows = [(k, row) for (name, k), row in result["rows"].items() if name == layer]
    scoring = result["scoring"]
    t_d = float(np.mean([row["1 process"] - scoring[(layer, k)]["1 process"] for k, row in rows]))
    a_s, e = fit(result, layer, "1 process", "scoring")
    a1, e1 = fit(result, layer, "1 thread", "scoring")
    terms = {"t_d": max(t_d, 0.0), "a_s": max(a_s, 0.0), "e": e, "a1": max(a1, 0.0), "e1": e1}
    for n in cfg.workers:
        a_n, _ = fit(result, layer, _actors(n), "scoring")
        terms[f"o{n}"] = max(a_n - terms["a1"], 0.0)
    terms["c"] = result.get("call_cost", 0.0)
    terms["L"] = result.get("latency", 0.0)
    commits = result["commit"]
    terms["u1"] = float(np.mean([commits[(layer, k)]["1 thread"] for k, _ in rows])) / 2
    if 2 in cfg.workers:
        a_p, b_p = fit(result, layer, "1 process")
        a_2, b_2 = fit(result, layer, "2 actors")
        terms["break_even"] = (
            1.0 if a_2 <= a_p else math.inf if b_2 >= b_p else (a_2 - a_p) / (b_p - b_2)
        )
    return terms


def estimate(terms: dict[str, float], cfg: Config, n: int, k: int) -> tuple[float, float, str]:
    """(rounds per second, speed-up over 1 process, what bounds it) of N actors on a cluster."""
    parts = {
        "driver" if terms["t_d"] >= terms["u1"] else "actor commit": max(terms["t_d"], terms["u1"]),
        "broadcast": terms["L"] + cfg.rtt_ms / 1e3 + 2 * n * terms["c"],
        "slowest actor": terms["a1"] + math.ceil(k / n) * terms["e1"],
    }
    seconds = sum(parts.values())
    single = terms["t_d"] + terms["a_s"] + k * terms["e"]
    return 1.0 / seconds, single / seconds, max(parts, key=parts.__getitem__)


def single_rate(terms: dict[str, float], k: int) -> float:
    """Neighbours scored per second by 1 process at neighbourhood size ``k``."""
    return k / (terms["t_d"] + terms["a_s"] + k * terms["e"])


# ------------------------------------------------------------------------------------- report
def format_report(result: dict[str, Any], cfg: Config) -> str:
    numba_threads, torch_threads = result["threads"]
    labels = ["1 process", "1 thread", *(_actors(n) for n in cfg.workers)]
    lines = [
        f"MNIST, {cfg.eval_size} training images scored, {cfg.selection_size} validation images "
        f"updated per commit, random 80%-sparse start; {result['cpus']} CPUs. Threads: 1 process "
        f"{numba_threads} numba / {torch_threads} torch; 1 thread 1 / 1; each actor 1 / 1 (the "
        f"driver {numba_threads} / {torch_threads}).",
        "",
        "| layer | K | " + " | ".join(f"{label} (ms/round)" for label in labels) + " | speed-up "
        "2 actors | Ray overhead (scoring: 1 actor - 1 thread, ms) |",
        "|---|---:|" + "---:|" * (len(labels) + 2),
    ]
    for (layer, k), row in result["rows"].items():
        times = " | ".join(f"{row[label] * 1e3:.2f}" for label in labels)
        two = row.get("2 actors")
        speed = f"{row['1 process'] / two:.2f}x" if two else "-"
        scored = result["scoring"][(layer, k)]
        one = scored.get("1 actor")
        overhead = f"{(one - scored['1 thread']) * 1e3:.2f}" if one else "-"
        lines.append(f"| {layer} | {k} | {times} | {speed} | {overhead} |")
    lines += ["", _model_table(result, cfg), "", _scaling_table(result, cfg)]
    return "\n".join(lines)


def _model_table(result: dict[str, Any], cfg: Config) -> str:
    lines = [
        "Model terms (ms): the driver's work per round t_d (outside scoring); scoring one swap, "
        "e (1 process) and e1 (1 thread), and a call's fixed cost a1 (1 thread); the overhead "
        "o(N) of scoring on N actors as measured here (2 cores: with the actors' commits and "
        "contention); measured apart: the round trip L of one call, the driver's cost c of one "
        "call and an actor's commit u1; the K at which 2 actors break even here.",
        "",
        "| layer | t_d | e | e1 | a1 | "
        + " | ".join(f"o({n})" for n in cfg.workers)
        + " | L | c | u1 | break-even K |",
        "|---|---:|---:|---:|---:|" + "---:|" * (len(cfg.workers) + 4),
    ]
    for layer, _ in cfg.sizes:
        t = model(result, cfg, layer)
        overheads = " | ".join(f"{t[f'o{n}'] * 1e3:.2f}" for n in cfg.workers)
        be = t.get("break_even")
        even = "-" if be is None else "never" if math.isinf(be) else f"{math.ceil(be)}"
        lines.append(
            f"| {layer} | {t['t_d'] * 1e3:.2f} | {t['e'] * 1e3:.3f} | {t['e1'] * 1e3:.3f} | "
            f"{t['a1'] * 1e3:.2f} | {overheads} | {t['L'] * 1e3:.2f} | {t['c'] * 1e3:.3f} | "
            f"{t['u1'] * 1e3:.2f} | {even} |"
        )
    return "\n".join(lines)


def _scaling_table(result: dict[str, Any], cfg: Config) -> str:
    lines = [
        f"Estimate for a cluster (one core per actor, {cfg.rtt_ms} ms network round trip): "
        "T(N, K) = max(t_d, u1) + (L + rtt + 2 N c) + (a1 + ceil(K/N) e1): "
        "driver (or actor commit), broadcast, slowest actor; 1 process: t_d + a + e K. Default "
        "K: aann search's neighbourhood; K = m N: one that grows with the cluster (speed-up in "
        "neighbours per second over 1 process at the default K).",
        "",
        "| layer | K | actors | rounds/s | neighbours/s | speed-up over 1 process | bounded by |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    per_actor = dict(cfg.per_actor)
    for layer, _ in cfg.sizes:
        terms = model(result, cfg, layer)
        default = DEFAULT_K.get(layer, 16)
        one = single_rate(terms, default)
        lines.append(
            f"| {layer} | {default} | 1 process | {one / default:.2f} | {one:.1f} | 1x | - |"
        )
        for sized in (False, True):
            for n in cfg.scale:
                k = per_actor.get(layer, 1) * n if sized else default
                if sized and k == default:
                    continue  # the row above
                rate, speed, bound = estimate(terms, cfg, n, k)
                if sized:
                    speed = rate * k / one
                lines.append(
                    f"| {layer} | {k} | {n} | {rate:.2f} | {rate * k:.1f} | {speed:.2f}x | {bound} |"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run on 200 images")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per row (default 3)")
    parser.add_argument("--rtt-ms", type=float, default=0.5, help="cluster round trip (ms)")
    args = parser.parse_args(argv)
    cfg = Config(seconds=args.seconds, rtt_ms=args.rtt_ms)
    if args.quick:
        cfg = Config(
            eval_size=200,
            selection_size=200,
            sizes=(("fc", (4, 16)), ("2.0", (2, 4)), ("1.0", (1, 2))),
            seconds=0.0,
            min_rounds=2,
            rtt_ms=args.rtt_ms,
        )
    print(format_report(run_benchmark(cfg), cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
