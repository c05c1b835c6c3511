"""Search agents for the AANN environments: SENSE, random search, simulated annealing and trained
RL schedule policies (:mod:`agents.rl`), with budgets, Stable-Baselines3-style callbacks, a lazy
registry of the agents by name (:mod:`agents.registry`) and resumable runs (:mod:`agents.run`).
Distributed search on Ray (parallel neighbourhoods, population search) is :mod:`agents.distributed`
(the optional ``distributed`` extra). The ``aann`` command is :mod:`agents.cli`.

Importing this package imports none of Stable-Baselines3, Ray, SuperSuit or matplotlib: the
``rl`` agent, the Ray actors and the plots load them when they run."""

from agents.annealing import SimulatedAnnealing
from agents.base import BaseCallback, SearchAgent
from agents.budget import Budget, StepInfo
from agents.callbacks import CallbackList, ProgressBarCallback
from agents.random_search import RandomSearch
from agents.sense import SENSE

__all__ = [
    "SENSE",
    "BaseCallback",
    "Budget",
    "CallbackList",
    "ProgressBarCallback",
    "RandomSearch",
    "SearchAgent",
    "SimulatedAnnealing",
    "StepInfo",
]
