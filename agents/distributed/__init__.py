"""Distributed search on Ray (the optional ``distributed`` extra: ``pip install 'aann[distributed]'``).

| module | what |
|---|---|
| :mod:`~agents.distributed.cluster` | importing Ray lazily, connecting to a cluster, waiting on actors, the errors |
| :mod:`~agents.distributed.actors` | the body of a scoring actor: an incremental evaluator that follows the driver's |
| :mod:`~agents.distributed.pool` | parallel neighbourhoods: each round's swaps split across actors, scores gathered |
| :mod:`~agents.distributed.chain` | one chain of a population search, and the actor that hosts chains |
| :mod:`~agents.distributed.population` | population search: chains that copy the best one's network into the worst |

``aann search --workers N`` scores every neighbourhood on ``N`` actors with the very results of
one process; ``aann search --population N`` runs ``N`` chains. Nothing here imports Ray at import
time, and this package imports none of its modules, so ``import agents`` works without Ray.
"""
