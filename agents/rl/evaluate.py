"""Schedules compared at an equal evaluation-cost budget, on held-out starts (``aann rl eval``).

Every contender acts in the same ``"schedule"`` env (:mod:`aann_env.envs.schedule`), whose
episode ends when the budget of evaluation cost is spent, so the comparison is at equal cost by
construction. The contenders are a trained policy and fixed schedules in the spirit of the SENSE
agent's: ``fc`` (the output layer only), ``alternate`` (each layer in turn, ``block`` steps
each), ``random-block`` (a random other layer every ``block`` steps), ``uniform`` (a random
layer every step) and ``adaptive`` (each layer once, then the layer whose recent steps gained the
most per unit of cost, read from the observation, or with probability 0.1 a random one: the SENSE
agent's adaptive schedule, except that its gain per cost is a running average where this one reads
the env's window of recent steps), each with one neighbourhood size. Their random draws come from a generator
seeded by the start seed, so every row of the table can be reproduced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from agents.rl.config import ENV_IDS

Schedule = Callable[[np.ndarray, int], int]
"""Maps (observation, step) to a schedule action."""

FIXED = ("fc", "alternate", "random-block", "uniform", "adaptive")


@dataclass(frozen=True)
class Result:
    """One contender's episode from one start."""

    name: str
    seed: int
    val_accuracy: float
    test_accuracy: float
    steps: int
    spent: float


def fixed_schedule(
    name: str, n_layers: int, n_sizes: int, size_index: int, seed: int, block: int = 3
) -> Schedule:
    """A fixed schedule over the schedule env's actions (``layer * n_sizes + size_index``)."""
    if name not in FIXED:
        raise ValueError(f"unknown schedule {name!r}; schedules: {FIXED}")
    rng = np.random.default_rng([seed, 7])
    current = [int(rng.integers(n_layers))]
    tried: set[int] = set()

    def act(obs: np.ndarray, step: int) -> int:
        if name == "adaptive":
            explore = rng.random() < 0.1  # drawn every step: a fixed stream
            untried = [i for i in range(n_layers) if i not in tried]
            if untried:
                layer = untried[0]
            elif explore:
                layer = int(rng.integers(n_layers))
            else:
                layer = int(np.argmax(obs[-n_layers:]))  # gain per unit of cost, per layer
            tried.add(layer)
        elif name == "fc":
            layer = n_layers - 1
        elif name == "alternate":
            layer = (step // block) % n_layers
        elif name == "uniform":
            layer = int(rng.integers(n_layers))
        else:  # random-block
            if step % block == 0 and step > 0:
                current[0] = int(rng.choice([i for i in range(n_layers) if i != current[0]]))
            layer = current[0]
        return layer * n_sizes + size_index

    return act


def run_episode(env: gym.Env, schedule: Schedule, seed: int, name: str) -> Result:
    """One budgeted episode from the start of ``seed``."""
    obs, _ = env.reset(seed=seed)
    step, done = 0, False
    while not done:
        obs, _, terminated, truncated, _ = env.step(schedule(obs, step))
        step, done = step + 1, terminated or truncated
    u = env.unwrapped
    return Result(name, seed, u.accuracy, u.test_accuracy(), step, u.spent)


def compare(
    policy: Callable[[np.ndarray], int] | None,
    seeds: Sequence[int],
    budget: float,
    *,
    task: str = "mnist",
    eval_size: int = 10_000,
    sparsity: float = 0.8,
    neighborhood_sizes: Sequence[int] = (16, 64, 256),
    size_index: int = -1,
    schedules: Sequence[str] = FIXED,
) -> list[Result]:
    """Every contender on every seed at ``budget``: the policy (if given) and ``schedules``.

    Args:
        policy: Maps an observation of the schedule env to an action (e.g. a deterministic SB3
            ``predict``); None compares the fixed schedules only.
        seeds: Held-out start seeds.
        budget: Evaluation cost of each episode.
        task: Task name.
        eval_size: Validation images the env scores on (the final figure is on these).
        sparsity: Sparsity of the random starts.
        neighborhood_sizes: The schedule env's sizes.
        size_index: The size the fixed schedules use (default: the largest).
        schedules: Which fixed schedules to run.
    """
    env = gym.make(
        ENV_IDS[task],
        action_mode="schedule",
        eval_size=eval_size,
        sparsity=sparsity,
        budget=budget,
        neighborhood_sizes=tuple(neighborhood_sizes),
        max_episode_steps=-1,
    )
    n_layers, n_sizes = env.unwrapped.n_layers, len(neighborhood_sizes)
    results = []
    for seed in seeds:
        if policy is not None:
            results.append(run_episode(env, lambda obs, _: int(policy(obs)), seed, "policy"))
        for name in schedules:
            act = fixed_schedule(name, n_layers, n_sizes, size_index % n_sizes, seed)
            results.append(run_episode(env, act, seed, name))
    env.close()
    return results


def table(results: Sequence[Result]) -> str:
    """A Markdown table: mean +- std of the final validation and test accuracy per contender."""
    lines = ["| contender | starts | validation | test | steps |", "|---|---:|---:|---:|---:|"]
    for name in dict.fromkeys(r.name for r in results):
        rows = [r for r in results if r.name == name]
        val = np.array([r.val_accuracy for r in rows])
        test = np.array([r.test_accuracy for r in rows])
        steps = np.mean([r.steps for r in rows])
        lines.append(
            f"| {name} | {len(rows)} | {val.mean():.2%} +- {val.std():.2%} | "
            f"{test.mean():.2%} +- {test.std():.2%} | {steps:.0f} |"
        )
    return "\n".join(lines)
