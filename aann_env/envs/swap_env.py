"""The swap formulation: an action is one bit-swap (``action_mode="swap"``, the default)."""

from __future__ import annotations

from typing import Any, Unpack

import numpy as np
from gymnasium import spaces

from aann_env.envs.observations import summary_space
from aann_env.envs.search_env import AANNEnv, Move, SharedArgs


class SwapEnv(AANNEnv):
    """
    ## Description

    The state is a sparse ternary network (every weight in {-1, 0, +1}, HardTanh activations) of
    the paper "Architecture Agnostic Neural Networks" (Talukder, Raghavan, Yue, 2020). An action
    is a *bit-swap*: one nonzero weight moves, sign kept, to a zero position of the same layer.
    Swaps keep every layer's counts of -1, 0 and +1, so an episode walks through one *family* of
    networks, and the reward is the change of accuracy on the scoring images. Scoring is exact
    and incremental (:class:`aann_env.evaluation.incremental.IncrementalEvaluator`), so a step
    costs a small fraction of a forward pass. This is the formulation the search agents drive:
    they score neighbours with `evaluate_swaps` (which never changes the state) and commit one
    with `step`.

    ## Action Space

    `MultiDiscrete([n_layers, L, L])`: `(layer, src, dst)`, flat indices into that layer, `L`
    the largest layer size. Legal swaps (src nonzero, dst zero, both inside the layer) are
    applied; others leave the network unchanged with reward 0.0 and
    `info["illegal_action"] = True`. An action outside the space raises `ValueError`. A legal
    swap costs one neighbour of its layer, `layer_costs[layer]` evaluation units
    (`info["cost"]`, `info["spent"]`).

    ## Observation Space

    `Box(-1, 1, (4 * n_layers + 3 + 8,), float32)`, the summary of
    `aann_env.envs.observations` (`observation_mode="weights"` gives every weight instead:
    `aann_env.envs.wrappers.WeightsObservation`):

    | Num | Observation | Min | Max |
    |---|---|---|---|
    | 4 l + 0 | layer `l`'s density * 2 - 1 | -1 | 1 |
    | 4 l + 1 | layer `l`'s sign balance (n(+1) - n(-1)) / n(nonzero) | -1 | 1 |
    | 4 l + 2 | tanh of the coefficient of variation of the nonzeros per output unit of layer `l` | 0 | 1 |
    | 4 l + 3 | tanh(100 * mean reward of the last steps in layer `l`) | -1 | 1 |
    | 4 L + 0 | scoring accuracy * 2 - 1 | -1 | 1 |
    | 4 L + 1 | tanh(scoring loss / 4) | 0 | 1 |
    | 4 L + 2 | fraction of the episode done * 2 - 1 (of the budget, if one is set) | -1 | 1 |
    | 4 L + 3 + i | tanh(100 * reward) of the `i`-th last step, newest first | -1 | 1 |

    ## Rewards

    The change of scoring accuracy (or, with `reward="loss"`, the decrease of the scoring loss)
    that the swap makes; 0.0 for an illegal swap. See :class:`AANNEnv` for the scoring images.

    ## Starting State

    `reset(options={"init": ...})`: `"random"` (default), `"balanced"`, `"psiren"`, a path or a
    `TernaryNetwork` (see :class:`AANNEnv`).

    ## Episode End

    - Termination: the scoring accuracy reaches `target_accuracy` (if given).
    - Truncation: `max_episode_steps` steps (registered as 1000), or the cost spent reaches
      `budget` (if given).

    ## Arguments

    The shared arguments of :class:`AANNEnv` (`task`, `sparsity`, `eval_size`, `score_on`,
    `rotate_every`, `selection_size`, `reward`, `budget`, `layer_costs`, `test_at_episode_end`,
    `target_accuracy`, `device`, `data_dir`, `render_mode`); `criterion` and `accept` are kept
    but unused (the agent decides).

    ## Version History

    - v0: initial version. `evaluate_swaps` returns the evaluator's `SwapScores` (read
      `.accuracy` and `.loss`) in place of an `(accuracy, loss)` tuple; `info["cost"]`,
      `info["spent"]`, `info["val_accuracy"]`, the `reward`, `budget`, `layer_costs`,
      `score_on`, `rotate_every` and `selection_size` arguments came later with defaults that
      keep v0's behaviour. Its own class since the search core (issue 25).

    ## Example

    >>> import gymnasium as gym
    >>> import aann_env
    >>> env = gym.make("AANN-MNIST-v0", eval_size=200)
    >>> obs, info = env.reset(seed=0)
    >>> swaps = env.unwrapped.sample_swaps(4, layer="fc")
    >>> best = swaps[env.unwrapped.evaluate_swaps(swaps).loss.argmin()]
    >>> obs, reward, terminated, truncated, info = env.step(best)
    >>> obs.shape, info["committed"], info["cost"]
    ((23,), True, 1.0)
    """

    action_mode = "swap"
    scores = False

    def __init__(self, **kwargs: Unpack[SharedArgs]) -> None:
        super().__init__(**kwargs)
        self._layer_sizes = np.array([s.size for s in self.task.arch.layers], dtype=np.int64)
        largest = int(self._layer_sizes.max())
        self.action_space = spaces.MultiDiscrete([self.n_layers, largest, largest])
        self.observation_space = summary_space(self.n_layers)

    def _act(self, action: Any) -> Move:
        """Apply a ``(layer, src, dst)`` action if it is legal."""
        a = np.asarray(action)
        if (
            a.shape != (3,)
            or not np.issubdtype(a.dtype, np.integer)
            or not self.action_space.contains(a.astype(np.int64))
        ):
            raise ValueError(
                f"action {action!r} is not in {self.action_space}: expected three integers "
                f"(layer, src, dst) with layer < {self.n_layers} and indices < {self._layer_sizes.max()}"
            )
        swap = a.astype(np.int64)
        layer = int(swap[0])
        if not self.network.is_legal(swap):
            return Move(layer, swap, False, True, 0.0)
        self.search.commit(swap)
        return Move(layer, swap, True, False, float(self.layer_costs[layer]))


__all__ = ["SwapEnv"]
