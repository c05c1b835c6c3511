"""The proposal formulation: an action picks which of K candidate swaps to try
(``action_mode="proposal"``)."""

from __future__ import annotations

from typing import Any, Unpack

import numpy as np
from gymnasium import spaces

from aann_env.envs import proposal
from aann_env.envs.observations import summary_space
from aann_env.envs.search_env import AANNEnv, Move, SharedArgs
from aann_env.envs.selection import select


class ProposalEnv(AANNEnv):
    """
    ## Description

    The state is a sparse ternary network, as in :class:`aann_env.envs.swap_env.SwapEnv`. After
    every step (and at reset) the env draws `n_candidates` legal swaps from `self.np_random`
    (of `proposal_layer`); the action tries one of them: only it is scored, and it is committed
    unless `accept` refuses. A policy learns which swaps are worth scoring from features that
    cost no evaluation (`aann_env.envs.proposal`); the baseline is a uniform choice.

    ## Action Space

    `Discrete(n_candidates)`: the index of the candidate to try (`env.unwrapped.candidates`
    lists them, a (K, 3) array). An action outside the space raises `ValueError`. A step costs
    one neighbour of the candidate's layer, `layer_costs[layer]`; each step is one scoring
    round.

    ## Observation Space

    `Box(-1, 1, (4 * n_layers + 3 + 8 + n_candidates * (n_layers + 8),), float32)`:

    | Num | Observation | Min | Max |
    |---|---|---|---|
    | 0 .. 4 L + 10 | the summary, as in :class:`aann_env.envs.swap_env.SwapEnv` | -1 | 1 |
    | 4 L + 11 + c (L + 8) + j | feature `j` of candidate `c`: its layer (one-hot), sign, units, input statistics and, for output-layer swaps, how the moved weight's input correlates with the two classes (one row per feature in `aann_env.envs.proposal`) | -1 | 1 |

    Only `observation_mode="summary"` is offered: the candidates are part of the observation.

    ## Rewards

    The change of scoring accuracy (or, with `reward="loss"`, the decrease of the scoring loss)
    of the tried candidate: 0.0 when it is rejected. See :class:`AANNEnv`.

    ## Starting State

    As :class:`AANNEnv`; the first candidates are drawn after the start.

    ## Episode End

    - Termination: the scoring accuracy reaches `target_accuracy` (if given).
    - Truncation: `max_episode_steps` steps (registered as 1000), or the cost spent reaches
      `budget` (if given).

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `n_candidates` | `16` | candidates per step |
    | `proposal_layer` | `"last"` | draw candidates from this layer (a name, `"last"` for the output layer) or from `"all"` first neighbours |

    and the shared arguments of :class:`AANNEnv`, of which `criterion` and `accept` judge the
    tried candidate.

    ## Version History

    - v0: came after the first version of the env. Its own class since the search core
      (issue 25).

    ## Example

    >>> import gymnasium as gym
    >>> import aann_env
    >>> env = gym.make("AANN-MNIST-v0", eval_size=200, action_mode="proposal", n_candidates=4)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, env.unwrapped.candidates.shape
    ((67,), (4, 3))
    >>> obs, reward, terminated, truncated, info = env.step(1)
    >>> info["cost"], int(info["swap"][0])
    (1.0, 2)
    """

    action_mode = "proposal"

    def __init__(
        self,
        n_candidates: int = 16,
        proposal_layer: str = "last",
        **kwargs: Unpack[SharedArgs],
    ) -> None:
        if n_candidates < 1:
            raise ValueError(f"n_candidates must be >= 1, got {n_candidates}")
        super().__init__(**kwargs)
        self.n_candidates = int(n_candidates)
        self.proposal_layer = proposal_layer
        self._layer = proposal.layer_choice(self.task.arch, proposal_layer)
        self._candidates = np.zeros((0, 3), dtype=np.int64)
        self.action_space = spaces.Discrete(self.n_candidates)
        size = summary_space(self.n_layers).shape[0]
        self.observation_space = proposal.observation_space(size, self.n_layers, self.n_candidates)

    @property
    def candidates(self) -> np.ndarray:
        """The (K, 3) candidate swaps the next action chooses from."""
        return self._candidates.copy()

    def _on_reset(self) -> None:
        self._draw_candidates()

    def _draw_candidates(self) -> None:
        self._candidates = self.search.sample(self.n_candidates, layer=self._layer)

    def _act(self, action: Any) -> Move:
        """Try candidate ``action``; then draw the next candidates."""
        if not self.action_space.contains(action):
            raise self._bad_action(action, f"a candidate index < {self.n_candidates}")
        swap = self._candidates[int(action)].copy()
        layer = int(swap[0])
        scores = self.search.score(swap[None])
        choice = select(
            scores.accuracy, scores.loss, self.accuracy, self.loss, self.criterion, self.accept
        )
        if choice.accept:
            self.search.commit(swap)
        self._draw_candidates()
        return Move(layer, swap, choice.accept, False, float(self.layer_costs[layer]))

    def _observation(self) -> np.ndarray:
        net = self.network
        stats = {
            int(layer): self.search.input_statistics(int(layer))
            for layer in np.unique(self._candidates[:, 0])
        }
        signs = np.array(
            [net.flat(int(layer))[src] for layer, src, _ in self._candidates], dtype=np.float32
        )
        feats = proposal.candidate_features(net.arch, self._candidates, signs, stats)
        return np.concatenate([super()._observation(), feats.reshape(-1)]).astype(np.float32)


__all__ = ["ProposalEnv"]
