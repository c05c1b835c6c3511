"""The SENSE-step formulation: an action picks the layer of one SENSE step
(``action_mode="layer"``)."""

from __future__ import annotations

from typing import Any, Unpack

from gymnasium import spaces

from aann_env.envs.observations import summary_space
from aann_env.envs.search_env import AANNEnv, Move, SharedArgs


class LayerEnv(AANNEnv):
    """
    ## Description

    The state is a sparse ternary network, as in :class:`aann_env.envs.swap_env.SwapEnv`; an
    action is one stochastic search and succeed (SENSE) step in a layer the policy picks:
    `neighborhood_size` legal swaps of that layer are drawn from `self.np_random` and scored
    exactly, and the best by `criterion` is committed unless `accept` refuses it (the decision
    is `aann_env.envs.selection.select`, the one the SENSE agent uses; the step is
    `aann_env.envs.core.FamilySearch.sense_step`). A policy over this env learns a layer
    schedule.

    ## Action Space

    `Discrete(n_layers)`: the layer of the SENSE step. An action outside the space raises
    `ValueError`. A step costs `neighborhood_size * layer_costs[layer]` evaluation units
    (`info["cost"]`, `info["spent"]`); each step is one scoring round.

    ## Observation Space

    `Box(-1, 1, (4 * n_layers + 3 + 8,), float32)`: the summary, one row per index as in
    :class:`aann_env.envs.swap_env.SwapEnv` (`aann_env.envs.observations`):

    | Num | Observation | Min | Max |
    |---|---|---|---|
    | 4 l + 0 .. 4 l + 3 | layer `l`: density, sign balance, spread of nonzeros per unit, recent reward | -1 | 1 |
    | 4 L + 0 | scoring accuracy * 2 - 1 | -1 | 1 |
    | 4 L + 1 | tanh(scoring loss / 4) | 0 | 1 |
    | 4 L + 2 | fraction of the episode done * 2 - 1 | -1 | 1 |
    | 4 L + 3 + i | tanh(100 * reward) of the `i`-th last step, newest first | -1 | 1 |

    `observation_mode="weights"` gives every weight instead.

    ## Rewards

    The change of scoring accuracy (or, with `reward="loss"`, the decrease of the scoring loss)
    of the step: 0.0 when the best neighbour is rejected. See :class:`AANNEnv`.

    ## Starting State

    As :class:`AANNEnv`: `reset(options={"init": ...})` with `"random"` (default),
    `"balanced"`, `"psiren"`, a path or a `TernaryNetwork`.

    ## Episode End

    - Termination: the scoring accuracy reaches `target_accuracy` (if given).
    - Truncation: `max_episode_steps` steps (registered as 1000), or the cost spent reaches
      `budget` (if given).

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `neighborhood_size` | `64` | swaps scored per step |

    and the shared arguments of :class:`AANNEnv`, of which `criterion` and `accept` rule the
    step.

    ## Version History

    - v0: initial version. The `criterion` argument came later, with a default that keeps v0's
      behaviour; since then `"better"` also commits a neighbour of equal accuracy and lower
      loss, as the SENSE agent always did. Its own class since the search core (issue 25).

    ## Example

    >>> import gymnasium as gym
    >>> import aann_env
    >>> env = gym.make("AANN-MNIST-v0", eval_size=200, action_mode="layer", neighborhood_size=4)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, round(info["accuracy"], 3) == round(env.unwrapped.accuracy, 3)
    ((23,), True)
    >>> obs, reward, terminated, truncated, info = env.step(2)
    >>> reward >= 0.0, info["cost"]
    (True, 4.0)
    """

    action_mode = "layer"

    def __init__(self, neighborhood_size: int = 64, **kwargs: Unpack[SharedArgs]) -> None:
        if neighborhood_size < 1:
            raise ValueError(f"neighborhood_size must be >= 1, got {neighborhood_size}")
        super().__init__(**kwargs)
        self.neighborhood_size = int(neighborhood_size)
        self.action_space = spaces.Discrete(self.n_layers)
        self.observation_space = summary_space(self.n_layers)

    def _act(self, action: Any) -> Move:
        if not self.action_space.contains(action):
            raise self._bad_action(action, f"a layer index < {self.n_layers}")
        layer = int(action)
        step = self.search.sense_step(
            layer, self.neighborhood_size, self.criterion, self.accept, new_round=False
        )
        return Move(layer, step.swap, step.accepted, False, step.cost)


__all__ = ["LayerEnv"]
