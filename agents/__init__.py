"""Search agents for the AANN environments: SENSE, random search, simulated annealing and trained
RL schedule policies (:mod:`agents.rl`), with budgets, Stable-Baselines3-style callbacks, and resumable run directories (:mod:`agents.runner`).
Distributed search on Ray (parallel neighbourhoods, population search) is :mod:`agents.distributed`
(the optional ``distributed`` extra). The ``aann`` command is :mod:`agents.cli`."""

from agents.annealing import SimulatedAnnealing
from agents.base import SearchAgent
from agents.budget import Budget, StepInfo
from agents.callbacks import BaseCallback, CallbackList, ProgressBarCallback
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
