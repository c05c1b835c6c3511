"""The bundled SENSE agent from Python, with a callback that prints its progress.

SENSE (stochastic search and succeed) scores a neighbourhood of random bit-swaps in one layer per
step and commits the best unless it makes the network worse on the scoring images; its default
schedule picks the layer that recently gained most per unit of scoring cost. The env here scores
on batches of the training split and keeps the validation accuracy of every network it visits:
``agent.run`` searches until the budget of neighbour evaluations is spent and returns the best
network by validation accuracy, which this script tests and saves. Nothing the search decides
reads a test image.

Run it with ``python examples/sense_agent.py`` (a few minutes on a laptop CPU). ``aann search``
does the same with checkpoints, resume and plots (:mod:`agents.run`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym

import aann_env  # noqa: F401  (importing it registers AANN-MNIST-v0 with Gymnasium)
from agents import SENSE, BaseCallback, Budget, StepInfo


class PrintProgress(BaseCallback):
    """Print the search's progress every ``every`` agent steps (neighbourhoods)."""

    def __init__(self, every: int = 10) -> None:
        super().__init__()
        self.every = every

    def _on_step(self, info: StepInfo) -> bool:
        if info.step % self.every == 0:
            print(
                f"step {info.step:5d}  evals {info.evals:7d}  layer {info.layer:>3}  "
                f"validation {info.val_accuracy:.4f}  best {info.best_val_accuracy:.4f}"
            )
        return True  # False would stop the search here


def run_sense_agent(
    *,
    budget_evals: int = 5_000,
    neighborhood_size: dict[str, int] | int | None = None,
    sparsity: float = 0.8,
    eval_size: int = 10_000,
    seed: int = 0,
    out: str | Path = "sense-best.npz",
    print_every: int = 10,
) -> dict[str, Any]:
    """Search a random ``sparsity``-sparse MNIST network's family with SENSE.

    Args:
        budget_evals: Neighbour evaluations the search may spend.
        neighborhood_size: Swaps per neighbourhood, one number or per layer name (default: 8
            in the costly first conv layer, 32 in the second, 256 in the output layer).
        sparsity: Fraction of zero weights of the random start.
        eval_size: Training images scored at a time (a batch that moves on every 200
            neighbourhoods), and validation images the best network is selected by.
        seed: Seed of the start, of the swaps drawn and of the agent's layer draws.
        out: Where to save the best network.
        print_every: Print progress every this many neighbourhoods.

    Returns:
        The start accuracy, the best network's validation and test accuracy, the agent's steps
        and evaluations, the saved file and the best network.
    """
    if neighborhood_size is None:
        neighborhood_size = {"1.0": 8, "2.0": 32, "fc": 256}
    # max_episode_steps=-1: a search is one open-ended episode, not 1000-step episodes.
    env = gym.make(
        "AANN-MNIST-v0",
        sparsity=sparsity,
        score_on="train",
        eval_size=eval_size,
        rotate_every=200,
        selection_size=eval_size,
        max_episode_steps=-1,
    )
    _, info = env.reset(seed=seed)
    agent = SENSE(neighborhood_size=neighborhood_size, seed=seed)  # adaptive schedule, loss
    best = agent.run(env, Budget(evals=budget_evals), PrintProgress(print_every))
    path = best.save(out)
    result = {
        "start_accuracy": info["val_accuracy"],
        "val_accuracy": agent.best_accuracy,
        "test_accuracy": env.unwrapped.test_accuracy(best),
        "steps": agent.steps,
        "evals": agent.evals,
        "path": path,
        "network": best,
    }
    env.close()
    return result


if __name__ == "__main__":
    result = run_sense_agent()
    print(
        f"SENSE, {result['evals']} evaluations in {result['steps']} neighbourhoods: validation "
        f"accuracy {result['start_accuracy']:.4f} -> {result['val_accuracy']:.4f}, test accuracy "
        f"{result['test_accuracy']:.4f}; best network saved to {result['path']}"
    )
