"""The base of every search agent: a checkpointable search loop under a budget, and the base of
the callbacks whose hooks that loop calls.

:class:`BaseCallback` lives here, next to :meth:`SearchAgent.run`, because the loop defines its
hooks (as Gymnasium keeps ``Env`` and ``Wrapper`` in one module); :mod:`agents.callbacks` holds the
callbacks themselves and imports this module, never the reverse.

Agents drive an ``AANN-*`` env in ``"swap"`` action mode through its public API only:
``env.unwrapped.sample_swaps``, ``env.unwrapped.evaluate_swaps`` and ``env.step``. A step of an
agent is one unit of its search (a neighbourhood for SENSE, one proposal for the others); its
cost is the number of neighbour evaluations it made, so agents compare fairly at equal budgets.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from aann_env.core.network import TernaryNetwork
from aann_env.envs.cost_model import NEIGHBOURS, CostModel
from agents.budget import Budget, StepInfo


def score_fields(unwrapped: Any) -> dict[str, float | None]:
    """:class:`StepInfo`'s scoring accuracy and loss: set only when the env scores on other
    images than it selects by."""
    if getattr(unwrapped, "score_on", "valid") == "valid":
        return {"score_accuracy": None, "score_loss": None}
    return {"score_accuracy": unwrapped.accuracy, "score_loss": unwrapped.loss}


class SearchAgent(ABC):
    """A search over one network family, through the env's public API.

    Subclasses implement :meth:`_search_step`. Everything the search depends on lives in the
    env's generator (``sample_swaps``), the agent's own generator ``self.rng`` and
    :meth:`state_dict`, so a search restored from a checkpoint continues the very trajectory it
    would have taken.

    Args:
        seed: Seed of the agent's own generator (layer schedules, acceptance draws).
    """

    name: ClassVar[str] = "agent"

    def __init__(self, seed: int | Sequence[int] | None = None) -> None:
        self.rng = np.random.default_rng(seed)
        self.steps = 0
        self.evals = 0
        self.cost = 0.0  # evaluation cost under cost_model
        self.cost_model: CostModel = NEIGHBOURS
        """What a step costs (:mod:`aann_env.envs.cost_model`); set it before :meth:`run`. Left
        at the default, the agent takes its env's model (``gym.make(..., cost_model=...)``)."""
        self.elapsed = 0.0  # wall time spent in earlier sessions of the same search
        self.best_accuracy = -1.0
        self.best_network: TernaryNetwork | None = None
        self.budget: Budget | None = None
        self._start = time.perf_counter()

    # ----------------------------------------------------------------------------- the loop
    def wall_time(self) -> float:
        return self.elapsed + (time.perf_counter() - self._start)

    def run(
        self, env: gym.Env, budget: Budget, callback: BaseCallback | None = None
    ) -> TernaryNetwork:
        """Search until the budget is spent or a callback says stop; return the best network."""
        unwrapped = env.unwrapped
        if getattr(unwrapped, "action_mode", None) != "swap":
            raise ValueError("search agents drive AANN envs in action_mode='swap'")
        limit = env.spec.max_episode_steps if env.spec is not None else None
        if limit is not None:
            gym.logger.warn(
                f"the env truncates episodes after {limit} steps, but a search is one open-ended "
                "episode: past the limit every step is truncated (and its test accuracy "
                "measured); make the env with max_episode_steps=-1"
            )
        model = getattr(getattr(unwrapped, "search", None), "cost_model", None)
        if self.cost_model is NEIGHBOURS and model is not None and model.name != "neighbours":
            self.cost_model = model  # left at the default, an agent counts what its env counts
        self.budget = budget
        self._start = time.perf_counter()
        self._note_best(env)
        if callback is not None:
            callback.init_callback(self, env)
            callback.on_run_start()
        try:
            while not budget.exhausted(self.evals, self.wall_time(), self.cost):
                layer, evals, committed = self._search_step(env)
                self.steps += 1
                self.evals += evals
                self.cost += self.cost_model.step_cost(layer, evals, committed)
                self._note_best(env)
                info = StepInfo(
                    step=self.steps,
                    evals=self.evals,
                    wall_time=self.wall_time(),
                    layer=layer,
                    committed=committed,
                    val_accuracy=unwrapped.val_accuracy,
                    val_loss=unwrapped.val_loss,
                    best_val_accuracy=self.best_accuracy,
                    **score_fields(unwrapped),
                )
                if callback is not None and not callback.on_step(info):
                    break
        finally:
            self.elapsed = self.wall_time()
            self._start = time.perf_counter()
            if callback is not None:
                callback.on_run_end()
        assert self.best_network is not None
        return self.best_network

    def _note_best(self, env: gym.Env) -> None:
        accuracy = env.unwrapped.val_accuracy  # the selection metric, never the scoring one
        if accuracy > self.best_accuracy:
            self.best_accuracy = accuracy
            self.best_network = env.unwrapped.network.copy()

    def _propose(self, env: gym.Env, n: int, layer_weights: Sequence[float] | None) -> np.ndarray:
        """``n`` random legal swaps: uniform over first neighbours, or per layer by the odds."""
        u = env.unwrapped
        if layer_weights is None:
            return u.sample_swaps(n)
        w = np.asarray(layer_weights, dtype=float)
        if w.shape != (u.n_layers,) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(
                f"layer_weights must be {u.n_layers} non-negative numbers, not all zero"
            )
        layers = self.rng.choice(u.n_layers, size=n, p=w / w.sum())
        return np.concatenate([u.sample_swaps(1, layer=int(layer)) for layer in layers])

    @abstractmethod
    def _search_step(self, env: gym.Env) -> tuple[str, int, bool]:
        """One unit of search. Returns (layer name, neighbour evaluations made, committed)."""

    # ---------------------------------------------------------------------- checkpointing
    @property
    def layer_costs(self) -> dict[str, float]:
        """Cost of scoring one neighbour per layer name, under :attr:`cost_model`."""
        return dict(self.cost_model.neighbour)

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state (the best network is saved separately)."""
        state: dict[str, Any] = {
            "name": self.name,
            "rng": self.rng.bit_generator.state,
            "steps": self.steps,
            "evals": self.evals,
            "cost": self.cost,
            "elapsed": self.wall_time(),
            "best_accuracy": self.best_accuracy,
        }
        if self.cost_model.name != "neighbours":  # states of the default stay as they were
            state["cost_model"] = self.cost_model.name
        return state

    def load_state_dict(self, state: dict[str, Any], best_network: TernaryNetwork | None) -> None:
        if state.get("name") != self.name:
            raise ValueError(
                f"the checkpoint belongs to agent {state.get('name')!r}, not {self.name!r}"
            )
        stored = state.get("cost_model", "neighbours")  # checkpoints before the models: neighbours
        if stored != self.cost_model.name:
            raise ValueError(
                f"the checkpoint counted cost under the {stored!r} cost model, this agent under "
                f"{self.cost_model.name!r}: resume with --cost-model {stored}"
            )
        self.rng.bit_generator.state = state["rng"]
        self.steps = int(state["steps"])
        self.evals = int(state["evals"])
        self.cost = float(state.get("cost", 0.0))  # checkpoints before cost budgets: none spent
        self.elapsed = float(state["elapsed"])
        self.best_accuracy = float(state["best_accuracy"])
        self.best_network = best_network
        self._start = time.perf_counter()


class BaseCallback(ABC):
    """A callback in the Stable-Baselines3 style: :meth:`on_step` counts, then calls
    :meth:`_on_step`; returning False stops the search.

    :meth:`SearchAgent.run` calls :meth:`init_callback` and :meth:`on_run_start` before its first
    step, :meth:`on_step` after every step and :meth:`on_run_end` when it stops.
    """

    def __init__(self) -> None:
        self.n_calls = 0
        self.agent: SearchAgent | None = None
        self.env: gym.Env | None = None

    def init_callback(self, agent: SearchAgent, env: gym.Env) -> None:
        self.agent = agent
        self.env = env
        self._init_callback()

    def on_run_start(self) -> None:
        self._on_run_start()

    def on_step(self, info: StepInfo) -> bool:
        self.n_calls += 1
        return self._on_step(info)

    def on_run_end(self) -> None:
        self._on_run_end()

    def _init_callback(self) -> None:  # noqa: B027  (an optional hook)
        """Called once the callback knows its agent and env."""

    def _on_run_start(self) -> None:  # noqa: B027
        """Called before the first step."""

    @abstractmethod
    def _on_step(self, info: StepInfo) -> bool:
        """Called after every agent step; return False to stop the search."""

    def _on_run_end(self) -> None:  # noqa: B027
        """Called when the search stops."""
