"""Env steps per second of AANN-MNIST-v0 in both action modes, on the 10,000-image validation set.

Usage::

    .venv/bin/python benchmarks/env_throughput.py           # 10,000 validation images
    .venv/bin/python benchmarks/env_throughput.py --quick   # a smoke run on 500 images

Swap mode: each step applies one random legal swap in the given layer (drawn beforehand with
``sample_swaps``, so the table measures the env, not the sampling). Layer mode: each step is one
stochastic search and succeed step, ``neighborhood_size`` swaps scored and the best committed.
All rows run in one process, one after the other, from the same seeded start.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import gymnasium as gym

import aann_env  # noqa: F401  (registers the env ids)


@dataclass(frozen=True)
class Config:
    eval_size: int = 10_000
    """Validation images the reward is measured on."""
    seconds: float = 5.0
    """Time spent per row (at least one step)."""
    neighborhood_size: int = 64
    """Swaps scored per layer-mode step."""


def _time_steps(env: gym.Env, actions, seconds: float) -> tuple[float, int]:
    start = time.perf_counter()
    steps = 0
    for action in actions:
        env.step(action)
        steps += 1
        if time.perf_counter() - start > seconds:
            break
    return steps / (time.perf_counter() - start), steps


def run_benchmark(cfg: Config) -> list[tuple[str, str, float, int]]:
    rows = []
    env = gym.make("AANN-MNIST-v0", eval_size=cfg.eval_size, max_episode_steps=10**9)
    for layer in ("fc", "2.0", "1.0"):
        env.reset(seed=0)
        swaps = env.unwrapped.sample_swaps(100_000 if layer == "fc" else 2_000, layer=layer)
        rate, steps = _time_steps(env, swaps, cfg.seconds)
        rows.append(("swap", layer, rate, steps))
    env = gym.make(
        "AANN-MNIST-v0",
        eval_size=cfg.eval_size,
        action_mode="layer",
        neighborhood_size=cfg.neighborhood_size,
        max_episode_steps=10**9,
    )
    for layer in (2, 1, 0):
        env.reset(seed=0)
        rate, steps = _time_steps(env, [layer] * 100_000, cfg.seconds)
        rows.append(
            (
                f"layer (K={cfg.neighborhood_size})",
                env.unwrapped.network.layer_names[layer],
                rate,
                steps,
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run on 500 images")
    args = parser.parse_args(argv)
    cfg = Config(eval_size=500, seconds=0.5) if args.quick else Config()
    rows = run_benchmark(cfg)
    print(f"AANN-MNIST-v0, {cfg.eval_size} validation images, random 80%-sparse start")
    print()
    print("| action mode | layer | steps/s | steps timed |")
    print("|---|---|---:|---:|")
    for mode, layer, rate, steps in rows:
        print(f"| {mode} | {layer} | {rate:.1f} | {steps} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
