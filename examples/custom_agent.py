"""A search agent of your own, written against the AANN environment's public API.

The agent is hill climbing: each step draws ``k`` random bit-swaps of one layer, scores them all
without touching the network (``evaluate_swaps``), and commits the best one through ``env.step``
unless it would lower the validation accuracy. Swaps keep every layer's counts of -1, 0 and +1,
so the climb never leaves the family of the network it started from.

Run it with ``python examples/custom_agent.py`` (about a minute on a laptop CPU).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

import aann_env  # noqa: F401  (importing it registers AANN-MNIST-v0 with Gymnasium)


def hill_climb(env: gym.Env, steps: int, k: int, layer: str = "fc") -> int:
    """The agent: ``steps`` times, move to the best of ``k`` random neighbours unless it is worse.

    Args:
        env: An ``AANN-*`` env in ``"swap"`` action mode, already reset.
        steps: Neighbourhoods to search.
        k: Swaps drawn and scored per neighbourhood.
        layer: The layer to search, by name (``"1.0"``, ``"2.0"`` or ``"fc"`` for MNIST).

    Returns:
        The number of swaps committed.
    """
    search = env.unwrapped  # sample_swaps and evaluate_swaps live on the env itself
    committed = 0
    for step in range(1, steps + 1):
        swaps = search.sample_swaps(k, layer=layer)  # (k, 3) int64 rows: (layer, src, dst)
        scores = search.evaluate_swaps(swaps)  # (k,) accuracy and loss; the network is unchanged
        # The most accurate neighbour, the lowest loss breaking ties.
        best = int(np.lexsort((scores.loss, -scores.accuracy))[0])
        if scores.accuracy[best] >= search.accuracy:
            env.step(swaps[best])  # the reward is the accuracy gained
            committed += 1
        if step % 10 == 0:
            print(f"step {step:4d}: validation accuracy {search.accuracy:.4f} ({committed} swaps)")
    return committed


def run_custom_agent(
    *,
    steps: int = 200,
    k: int = 256,
    layer: str = "fc",
    sparsity: float = 0.8,
    eval_size: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Hill-climb from a random ``sparsity``-sparse MNIST network.

    Args:
        steps: Neighbourhoods to search.
        k: Swaps scored per neighbourhood (the budget is ``steps * k`` evaluations).
        layer: The layer to search.
        sparsity: Fraction of zero weights of the random start.
        eval_size: Validation images the accuracy is measured on.
        seed: Seed of the start and of every swap drawn.

    Returns:
        The start and final validation accuracy, the swaps committed, the evaluations made,
        and the start and final networks.
    """
    # max_episode_steps=-1: a search is one open-ended episode, not 1000-step episodes.
    env = gym.make("AANN-MNIST-v0", sparsity=sparsity, eval_size=eval_size, max_episode_steps=-1)
    _, info = env.reset(seed=seed)
    start = env.unwrapped.network.copy()
    committed = hill_climb(env, steps, k, layer)
    result = {
        "start_accuracy": info["accuracy"],
        "accuracy": env.unwrapped.accuracy,
        "committed": committed,
        "evals": steps * k,
        "start": start,
        "network": env.unwrapped.network.copy(),
    }
    env.close()
    return result


if __name__ == "__main__":
    result = run_custom_agent()
    print(
        f"hill climbing, {result['evals']} evaluations: validation accuracy "
        f"{result['start_accuracy']:.4f} -> {result['accuracy']:.4f} ({result['committed']} swaps)"
    )
