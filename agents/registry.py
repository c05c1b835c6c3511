"""The search agents by name, as string entry points that load when an agent is made.

Like Gymnasium's registration (``entry_point="module:Class"``), naming an agent costs nothing:
its module is imported only when :func:`agent_class` (or :func:`make_agent`) asks for it, so a
SENSE search never imports Stable-Baselines3, which only the ``rl`` agent needs.

| name | entry point |
|---|---|
| ``sense`` | :class:`agents.sense.SENSE` |
| ``random`` | :class:`agents.random_search.RandomSearch` |
| ``annealing`` | :class:`agents.annealing.SimulatedAnnealing` |
| ``rl`` | :class:`agents.rl.agent.RLSchedule` (needs Stable-Baselines3) |
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from agents.base import SearchAgent

AGENTS: Mapping[str, str] = {
    "sense": "agents.sense:SENSE",
    "random": "agents.random_search:RandomSearch",
    "annealing": "agents.annealing:SimulatedAnnealing",
    "rl": "agents.rl.agent:RLSchedule",
}
"""Each agent's name and entry point (``"module:Class"``)."""


def check_agent(name: str) -> None:
    """Raise ValueError unless ``name`` is a registered agent."""
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; agents: {sorted(AGENTS)}")


def agent_class(name: str) -> type[SearchAgent]:
    """The class of agent ``name``, its module imported now.

    Raises:
        ValueError: No agent has that name.
    """
    check_agent(name)
    module, _, attr = AGENTS[name].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, SearchAgent)):
        raise TypeError(f"{AGENTS[name]} is not a SearchAgent")
    return cls


def make_agent(name: str, **kwargs: Any) -> SearchAgent:
    """A new agent ``name`` built with ``kwargs``.

    Raises:
        ValueError: No agent has that name, or the agent rejects its arguments.
    """
    return agent_class(name)(**kwargs)


__all__ = ["AGENTS", "agent_class", "check_agent", "make_agent"]
