"""The seam through which a search's neighbourhoods are scored elsewhere (Ray actors, say).

A run takes a :data:`ScorerFactory`; when its config has ``workers`` it builds a :class:`Scorer`
for its env and attaches it (``env.unwrapped.attach_scorer``, the env's
:class:`aann_env.envs.scoring.SwapScorer` seam), so this package never imports what does the
scoring: the CLI passes :func:`agents.distributed.neighbour_pool`. A scorer that loses its
workers raises a :class:`ScorerError`; the run then checkpoints the last step it completed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import gymnasium as gym

from aann_env.envs.scoring import SwapScorer
from aann_env.errors import AANNError


class ScorerError(AANNError):
    """A scorer attached to a search failed (a worker died, failed or stopped answering)."""


class Scorer(SwapScorer, Protocol):
    """A :class:`~aann_env.envs.scoring.SwapScorer` that holds resources until closed."""

    def close(self) -> None: ...


ScorerFactory = Callable[[gym.Env, int, "str | None"], Scorer]
"""Builds the scorer of an env: ``factory(env, workers, address)`` (the config's ``workers`` and
``ray_address``)."""


__all__ = ["Scorer", "ScorerError", "ScorerFactory"]
