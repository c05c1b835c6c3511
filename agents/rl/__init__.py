"""RL search policies trained with Stable-Baselines3 on the env's learnable formulations
(``"schedule"`` and ``"proposal"``): configuration and envs (:mod:`agents.rl.config`), training
in a resumable run directory (:mod:`agents.rl.train`), policy files with their provenance and the
shipped policy (:mod:`agents.rl.policy`), a schedule policy as a search agent
(:mod:`agents.rl.agent`) and the comparison with SENSE's schedules (:mod:`agents.rl.evaluate`).

The names below load on first use (PEP 562), so importing a light module of this package (such as
:mod:`agents.rl.config`, which ``aann rl --help`` reads) does not import Stable-Baselines3.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RLSchedule": "agents.rl.agent",
    "RLConfig": "agents.rl.config",
    "Policy": "agents.rl.policy",
    "PolicyError": "agents.rl.policy",
    "load_policy": "agents.rl.policy",
    "RLTraining": "agents.rl.train",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = ["Policy", "PolicyError", "RLConfig", "RLSchedule", "RLTraining", "load_policy"]
