"""Search agents for the AANN environments: SENSE, random search and simulated annealing."""

from agents.annealing import SimulatedAnnealing
from agents.base import BaseCallback, Budget, CallbackList, SearchAgent, StepInfo
from agents.random_search import RandomSearch
from agents.sense import SENSE

__all__ = [
    "SENSE",
    "BaseCallback",
    "Budget",
    "CallbackList",
    "RandomSearch",
    "SearchAgent",
    "SimulatedAnnealing",
    "StepInfo",
]
