"""Distributed search on Ray (the optional ``distributed`` extra: ``pip install 'aann[distributed]'``).

| module | what |
|---|---|
| :mod:`~agents.distributed.cluster` | importing Ray lazily, connecting to a cluster, waiting on actors, the errors |
| :mod:`~agents.distributed.actors` | the body of a scoring actor: an incremental evaluator that follows the driver's |
| :mod:`~agents.distributed.pool` | parallel neighbourhoods: each round's swaps split across actors, scores gathered |
| :mod:`~agents.distributed.chain` | one chain of a population search (a :class:`agents.run.session.Search`), and where chains run |
| :mod:`~agents.distributed.population_config` | what defines a population search |
| :mod:`~agents.distributed.population` | population search: chains that copy the best one's network into the worst |

``aann search --workers N`` scores every neighbourhood on ``N`` actors with the very results of
one process (:func:`neighbour_pool`, the scorer factory that a
:class:`agents.run.search_run.SearchRun` takes); ``aann search --population N`` runs ``N``
chains. This package imports :mod:`agents.run`, never the reverse. Nothing here imports Ray at
import time, and this package imports its modules only when :func:`neighbour_pool` is called, so
``import agents`` works without Ray.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import gymnasium as gym

if TYPE_CHECKING:
    from agents.distributed.pool import NeighbourPool


def neighbour_pool(env: gym.Env, workers: int, address: str | None = None) -> NeighbourPool:
    """Ray actors that score ``env``'s neighbourhoods: a
    :data:`~agents.run.scorer.ScorerFactory` for :class:`agents.run.search_run.SearchRun`.

    The actors score on their CPUs whatever the driver's device: the scores are the same.

    Raises:
        RayUnavailableError: Ray is not installed or its cluster cannot be reached.
        WorkerError: The actors did not start.
    """
    from agents.distributed.pool import NeighbourPool

    u = env.unwrapped
    return NeighbourPool.start(u.scoring_set, workers, address=address, layer_costs=u.layer_costs)


__all__ = ["neighbour_pool"]
