"""Start from a shipped p-SIREN network and search its family with SENSE steps in the output layer.

aann ships backprop-trained sparse ternary networks (p-SIREN, ``aann train``) for every sparsity
level of the paper. ``env.reset(options={"init": "psiren"})`` starts from the one at the env's
``sparsity``. In ``action_mode="layer"`` every action is one SENSE neighbourhood in the layer it
names: ``neighborhood_size`` random swaps are scored and the best is committed unless it lowers
validation accuracy, so the reward is never negative.

Run it with ``python examples/from_psiren.py`` (about a minute on a laptop CPU).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

import aann_env  # noqa: F401  (importing it registers AANN-MNIST-v0 with Gymnasium)
from aann_env.nets import load_psiren, shipped_levels


def run_from_psiren(
    *,
    sparsity: float = 0.9,
    neighborhoods: int = 100,
    neighborhood_size: int = 256,
    eval_size: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Improve the shipped MNIST p-SIREN network at ``sparsity`` by SENSE steps in layer fc.

    Args:
        sparsity: A level with a shipped network (``shipped_levels("mnist")``).
        neighborhoods: SENSE steps (env actions) to take.
        neighborhood_size: Swaps scored per step.
        eval_size: Validation images the accuracy is measured on.
        seed: Seed of the swaps drawn.

    Returns:
        The start and final validation accuracy, the test accuracy of both, the summed reward,
        the swaps committed, and the start and final networks.
    """
    print(f"shipped p-SIREN sparsities: {', '.join(f'{s:g}' for s in shipped_levels('mnist'))}")
    shipped = load_psiren("mnist", sparsity)  # what the env will start from (it makes a copy)
    figures = shipped.provenance  # written by `aann train`, on the whole splits
    print(
        f"p-SIREN {sparsity:.0%} sparse: validation {figures['val_accuracy']:.4f}, test "
        f"{figures['test_accuracy']:.4f} ({figures['command']})"
    )
    env = gym.make(
        "AANN-MNIST-v0",
        sparsity=sparsity,
        eval_size=eval_size,
        action_mode="layer",
        neighborhood_size=neighborhood_size,
        max_episode_steps=-1,  # one open-ended episode
    )
    _, info = env.reset(seed=seed, options={"init": "psiren"})
    start_test = env.unwrapped.test_accuracy()
    fc = env.unwrapped.network.layer_index("fc")  # the action: which layer to search
    total_reward, committed = 0.0, 0
    for step in range(1, neighborhoods + 1):
        _, reward, _, _, step_info = env.step(fc)
        total_reward += float(reward)
        committed += int(step_info["committed"])
        if step % 10 == 0:
            print(f"step {step:4d}: validation accuracy {step_info['accuracy']:.4f}")
    result = {
        "start_accuracy": info["accuracy"],
        "accuracy": env.unwrapped.accuracy,
        "start_test_accuracy": start_test,
        "test_accuracy": env.unwrapped.test_accuracy(),
        "total_reward": total_reward,
        "committed": committed,
        "start": shipped,
        "network": env.unwrapped.network.copy(),
    }
    env.close()
    return result


if __name__ == "__main__":
    result = run_from_psiren()
    print(
        f"p-SIREN {result['start'].sparsity:.0%} sparse, {result['committed']} swaps committed: "
        f"validation accuracy {result['start_accuracy']:.4f} -> {result['accuracy']:.4f}, "
        f"test accuracy {result['start_test_accuracy']:.4f} -> {result['test_accuracy']:.4f}"
    )
