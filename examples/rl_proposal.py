"""A learned proposal distribution (``action_mode="proposal"``) against uniform proposals.

In the proposal formulation the env draws ``n_candidates`` legal swaps of the output layer, and
the policy chooses which one to try from features that cost no evaluation (the weight's sign, the
units it connects, statistics of its input, how that input separates the two classes involved);
only the chosen swap is scored, and the usual accept rule commits it or not. The baseline picks
uniformly among the same candidates, so both spend one evaluation a step: the comparison is at an
equal number of evaluations by construction. This is the Neural Simulated Annealing idea (Correia
et al., AISTATS 2023): learn where to propose, keep the acceptance rule.

Training is Stable-Baselines3's PPO with the decrease of validation loss as the reward (dense;
accuracy moves in steps of ``1 / eval_size``). Run it with ``python examples/rl_proposal.py``
(a few minutes on a 2-core CPU); ``--help`` lists the flags.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3 import PPO

import aann_env  # noqa: F401  (importing it registers AANN-MNIST-v0 with Gymnasium)


def make_env(n_candidates: int, tries: int, eval_size: int) -> gym.Env:
    return gym.make(
        "AANN-MNIST-v0",
        action_mode="proposal",
        n_candidates=n_candidates,
        eval_size=eval_size,
        criterion="loss",
        reward="loss",
        max_episode_steps=tries,
        test_at_episode_end=False,
    )


def episode(
    env: gym.Env, choose: Callable[[np.ndarray], int], seed: int
) -> tuple[float, float, float]:
    """One episode from start ``seed``: final validation accuracy, validation loss and test
    accuracy."""
    obs, _ = env.reset(seed=seed)
    done = False
    while not done:
        obs, _, terminated, truncated, _ = env.step(choose(obs))
        done = terminated or truncated
    u = env.unwrapped
    return u.accuracy, u.loss, u.test_accuracy()


def run_proposal(
    *,
    timesteps: int = 20_000,
    n_candidates: int = 16,
    tries: int = 500,
    eval_size: int = 1_000,
    test_eval_size: int = 10_000,
    seeds: Sequence[int] = (900_000, 900_001, 900_002, 900_003, 900_004),
    seed: int = 0,
) -> dict[str, Any]:
    """Train PPO to propose swaps, then compare it with uniform proposals on held-out starts.

    Args:
        timesteps: PPO training steps (one try each).
        n_candidates: Candidates per step.
        tries: Tries per episode, in training and in the comparison.
        eval_size: Validation images the training env scores on.
        test_eval_size: Validation images of the comparison.
        seeds: Held-out start seeds of the comparison.
        seed: Seed of the policy and of the training env.
    """
    env = make_env(n_candidates, tries, eval_size)
    model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, ent_coef=0.01, seed=seed, verbose=0)
    start = time.perf_counter()
    model.learn(timesteps)
    train_seconds = time.perf_counter() - start

    test_env = make_env(n_candidates, tries, test_eval_size)
    rng = np.random.default_rng(seed)
    contenders: dict[str, Callable[[np.ndarray], int]] = {
        "ppo": lambda obs: int(model.predict(obs, deterministic=True)[0]),
        "uniform": lambda obs: int(rng.integers(n_candidates)),
    }
    results = {
        name: [episode(test_env, choose, s) for s in seeds] for name, choose in contenders.items()
    }
    return {"train_seconds": train_seconds, "results": results, "tries": tries}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timesteps", type=int, default=20_000)
    parser.add_argument("--n-candidates", type=int, default=16)
    parser.add_argument("--tries", type=int, default=500)
    parser.add_argument("--eval-size", type=int, default=1_000)
    parser.add_argument("--test-eval-size", type=int, default=10_000)
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[900_000, 900_001, 900_002, 900_003, 900_004]
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = run_proposal(**vars(args))
    print(f"trained in {out['train_seconds']:.0f} s; {out['tries']} tries per start")
    for name, rows in out["results"].items():
        acc, loss, test = np.array(rows).T
        print(
            f"{name:>8}: validation accuracy {acc.mean():.2%} +- {acc.std():.2%}, loss "
            f"{loss.mean():.4f} +- {loss.std():.4f}, test accuracy {test.mean():.2%} +- "
            f"{test.std():.2%} ({len(rows)} starts)"
        )


if __name__ == "__main__":
    main()
