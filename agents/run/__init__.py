"""The run lifecycle: a config settled first, one search session, and a run directory around it.

| module | what |
|---|---|
| :mod:`~agents.run.config` | :class:`SearchConfig` (with :meth:`~SearchConfig.from_dict` for every stored config), the start grammar :class:`Start`, :data:`RESUMABLE_FIELDS` |
| :mod:`~agents.run.session` | :class:`Search`: env + agent + history rows, with start / snapshot / restore / advance / summary |
| :mod:`~agents.run.recording` | the callbacks that write the history and the checkpoints |
| :mod:`~agents.run.scorer` | the seam through which workers score neighbourhoods (:data:`ScorerFactory`, :class:`ScorerError`) |
| :mod:`~agents.run.search_run` | :class:`SearchRun`: a session in a run directory, under a budget, resumable |

Imports go one way: config -> session -> recording -> search_run; nothing here imports
:mod:`agents.distributed` (a population's chains are sessions too, and import this package).
"""

from agents.run.config import RESUMABLE_FIELDS, SearchConfig, Start
from agents.run.scorer import Scorer, ScorerError, ScorerFactory
from agents.run.search_run import SearchRun
from agents.run.session import Search

__all__ = [
    "RESUMABLE_FIELDS",
    "Scorer",
    "ScorerError",
    "ScorerFactory",
    "Search",
    "SearchConfig",
    "SearchRun",
    "Start",
]
