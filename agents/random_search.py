"""Random search: a random walk of random swaps that keeps the best network it has seen."""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np

from agents.base import SearchAgent


class RandomSearch(SearchAgent):
    """Each step scores ``batch`` random swaps (each a uniformly random first neighbour of the
    current network, or of one layer if ``layer_weights`` says so) and moves to one of them at
    random, whatever its score. The best network seen is kept (:attr:`best_network`), so the
    result is the best of every network the walk visited or scored.

    Args:
        batch: Random neighbours scored per step (all count towards the budget).
        layer_weights: Odds of each layer; default: every first neighbour equally likely.
        seed: Seed of the agent's generator.
    """

    name = "random"

    def __init__(
        self, batch: int = 16, layer_weights: Sequence[float] | None = None, seed: int | None = None
    ) -> None:
        super().__init__(seed)
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.batch = int(batch)
        self.layer_weights = layer_weights

    def _search_step(self, env: gym.Env) -> tuple[str, int, bool]:
        u = env.unwrapped
        swaps = self._propose(env, self.batch, self.layer_weights)
        accuracy = u.evaluate_swaps(swaps).accuracy
        top = int(np.argmax(accuracy))
        # A scored neighbour that beat everything seen is kept, when the scoring images are the
        # selection images; otherwise only the networks the walk visits are selected from.
        if u.score_on == "valid" and accuracy[top] > self.best_accuracy:
            self.best_accuracy = float(accuracy[top])
            best = u.network.copy()
            best.apply_swap(swaps[top])
            self.best_network = best
        pick = int(self.rng.integers(len(swaps)))
        env.step(swaps[pick])
        return u.network.layer_names[int(swaps[pick][0])], len(swaps), True
