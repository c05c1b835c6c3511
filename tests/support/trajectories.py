"""Recorded trajectories: same-seed rollouts of every env formulation and runs of every agent,
reduced to exact, comparable records (floats by ``repr``, arrays by SHA-256).

The records in ``tests/data/trajectories/`` were written by the code before the search core and
the formulation classes existed (issue 25), with
``PYTHONPATH=<old checkout> python tests/support/trajectories.py --write tests/data/trajectories``;
``tests/envs/test_trajectories.py`` replays every case with today's code and compares with ``==``.
Only the public API is used (``gym.make`` keywords, ``env.unwrapped`` peeking, the agents'
``run``), so the same script runs against both.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import aann_env  # noqa: F401  (registers the ids)

SMALL = {"eval_size": 300, "max_episode_steps": -1}
"""Small scoring sets keep every case to a second or two."""


def _digest(array: np.ndarray) -> str:
    a = np.ascontiguousarray(array)
    return f"{a.dtype}{list(a.shape)}:" + hashlib.sha256(a.tobytes()).hexdigest()[:24]


def _plain(value: Any) -> Any:
    """A JSON-able, exact form of ``value``."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return _plain(value.item())
        return _digest(value) if value.size > 8 else [_plain(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str):
        return value
    return repr(value)


def _net(env: gym.Env) -> str:
    return _digest(env.unwrapped.network.flat_weights())


def rollout(
    steps: int, reset: dict[str, Any] | None = None, policy: str = "sample", **kwargs: Any
) -> list[Any]:
    """``steps`` steps of ``gym.make("AANN-MNIST-v0", **kwargs)`` from ``reset(seed=0)``.

    Actions: ``"sample"`` draws from the action space (seeded); ``"legal"`` alternates sampled
    legal swaps of the env and random (mostly illegal) ones (swap mode).
    """
    env = gym.make("AANN-MNIST-v0", **{**SMALL, **kwargs})
    obs, info = env.reset(seed=0, options=reset)
    env.action_space.seed(1)
    out: list[Any] = [{"obs": _plain(obs), "info": _plain(info), "net": _net(env)}]
    for t in range(steps):
        if policy == "legal" and t % 3 != 2:
            action = env.unwrapped.sample_swaps(1, layer=t % env.unwrapped.n_layers)[0]
        else:
            action = env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(action)
        row = {"action": _plain(np.asarray(action)), "obs": _plain(obs), "reward": _plain(reward)}
        row.update(terminated=terminated, truncated=truncated, info=_plain(info), net=_net(env))
        out.append(row)
        if terminated or truncated:
            break
    if kwargs.get("action_mode", "swap") == "swap":  # the peeking API, state unchanged
        swaps = env.unwrapped.sample_swaps(6)
        scores = env.unwrapped.evaluate_swaps(swaps)
        out.append({"peek": _plain(swaps), "acc": _plain(scores.accuracy), "net": _net(env)})
    env.close()
    return out


def agent_run(make: Callable[[], Any], budget: dict[str, Any], **kwargs: Any) -> list[Any]:
    """Every step an agent reports (wall time left out) and its best network."""
    from agents import BaseCallback, Budget

    rows: list[Any] = []

    class Record(BaseCallback):
        def _on_step(self, info: Any) -> bool:
            fields = dataclasses.asdict(info)
            fields.pop("wall_time")
            rows.append(_plain(fields))
            return True

    env = gym.make("AANN-MNIST-v0", **{**SMALL, **kwargs})
    env.reset(seed=3)
    agent = make()
    best = agent.run(env, Budget(**budget), callback=Record())
    rows.append({"best": _digest(best.flat_weights()), "current": _net(env)})
    rows.append({"state": _plain({k: v for k, v in agent.state_dict().items() if k != "elapsed"})})
    return rows


def _sense(**kw: Any) -> Callable[[], Any]:
    def make() -> Any:
        from agents import SENSE

        return SENSE(seed=5, **kw)

    return make


def _random() -> Any:
    from agents import RandomSearch

    return RandomSearch(seed=5)


def _annealing() -> Any:
    from agents import SimulatedAnnealing

    return SimulatedAnnealing(seed=5)


def _rl() -> Any:
    from agents.rl.agent import RLSchedule

    return RLSchedule("shipped", seed=5)


def team(steps: int) -> list[Any]:
    """A layer-team rollout with sampled joint actions."""
    from aann_env.envs import layer_team_v0

    env = layer_team_v0.parallel_env(eval_size=100, neighborhood_sizes=(2, 4), max_cycles=steps)
    obs, infos = env.reset(seed=2)
    out: list[Any] = [{"obs": _plain(obs), "info": _plain(infos)}]
    for agent in env.possible_agents:
        env.action_space(agent).seed(7)
    while env.agents:
        actions = {a: env.action_space(a).sample() for a in env.agents}
        obs, rewards, terms, truncs, infos = env.step(actions)
        out.append(
            {"obs": _plain(obs), "r": _plain(rewards), "t": _plain(terms), "u": _plain(truncs)}
        )
        out[-1]["info"] = _plain(infos)
    return out


TRAIN = {"score_on": "train", "rotate_every": 2, "selection_size": 500}
"""Training-split scoring with a rotation (the search command's default scoring)."""

CASES: dict[str, Callable[[], list[Any]]] = {
    "swap": lambda: rollout(12, policy="legal"),
    "swap-weights": lambda: rollout(6, policy="legal", observation_mode="weights"),
    "swap-train-loss": lambda: rollout(9, policy="legal", reward="loss", **TRAIN),
    "swap-balanced": lambda: rollout(4, reset={"init": "balanced"}, policy="legal"),
    "swap-psiren": lambda: rollout(4, reset={"init": "psiren"}, sparsity=0.9, policy="legal"),
    "layer": lambda: rollout(8, action_mode="layer", neighborhood_size=6),
    "layer-loss-better": lambda: rollout(
        8, action_mode="layer", neighborhood_size=5, criterion="loss", accept="better", **TRAIN
    ),
    "layer-weights": lambda: rollout(
        4, action_mode="layer", neighborhood_size=4, observation_mode="weights"
    ),
    "layer-target": lambda: rollout(
        3, action_mode="layer", target_accuracy=0.0, test_at_episode_end=False
    ),
    "schedule": lambda: rollout(6, action_mode="schedule", neighborhood_sizes=(1, 3)),
    "schedule-decisions": lambda: rollout(
        40,
        action_mode="schedule",
        neighborhood_sizes={"1.0": (1, 2), "2.0": (2, 4), "fc": (8, 32)},
        budget=(1500.0, 3000.0),
        decisions=4,
        reward="loss",
        test_at_episode_end=False,
    ),
    "schedule-budget": lambda: rollout(
        40,
        action_mode="schedule",
        neighborhood_sizes=(2, 8),
        budget=2500.0,
        test_at_episode_end=False,
    ),
    "proposal": lambda: rollout(10, action_mode="proposal", n_candidates=6),
    "proposal-all-train": lambda: rollout(
        10, action_mode="proposal", n_candidates=5, proposal_layer="all", **TRAIN
    ),
    "sense-default-train": lambda: agent_run(_sense(), {"evals": 1500}, **TRAIN),
    "sense-alternate": lambda: agent_run(
        _sense(schedule="alternate", criterion="accuracy", neighborhood_size=4, block=2),
        {"evals": 60},
    ),
    "sense-random-block": lambda: agent_run(
        _sense(schedule="random-block", neighborhood_size={"1.0": 2, "2.0": 4, "fc": 16}),
        {"evals": 120},
        **TRAIN,
    ),
    "sense-uniform": lambda: agent_run(
        _sense(schedule="uniform", neighborhood_size=3, accept="always"), {"evals": 45}
    ),
    "random": lambda: agent_run(_random, {"evals": 40}, **TRAIN),
    "annealing": lambda: agent_run(_annealing, {"evals": 40}),
    "rl-shipped": lambda: agent_run(_rl, {"cost": 2_500.0}, **{**TRAIN, "rotate_every": 8}),
    "team": lambda: team(3),
}
"""Every recorded case: a name and the function that produces its record."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, required=True, help="folder of the records")
    parser.add_argument("cases", nargs="*", help="cases to record (default: all)")
    args = parser.parse_args()
    args.write.mkdir(parents=True, exist_ok=True)
    for name in args.cases or CASES:
        record = CASES[name]()
        (args.write / f"{name}.json").write_text(json.dumps(record, indent=0) + "\n")
        print(name, len(record))


if __name__ == "__main__":
    main()
