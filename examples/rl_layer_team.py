"""A team of layers: one PPO policy, shared by every layer of the network, trained on the
PettingZoo layer-team env and compared with the single-agent SENSE search at equal cost.

Each layer of the MNIST net is an agent (``layer_1.0``, ``layer_2.0``, ``layer_fc``); every step
each one passes or runs a SENSE step of a size it picks in its own layer, the proposals are
committed together and the team is rewarded by the network's gain
(``aann_env/envs/layer_team.py``). One Stable-Baselines3 PPO policy acts for all three, trained
through SuperSuit's vector-env conversion (``agents/rl/team.py``). Training scores on a small
validation subset so that steps are cheap; the comparison at the end runs, from held-out starts
on the full validation split, the trained team, a team acting at random, and the single-agent
route on ``AANN-MNIST-v0`` given exactly the evaluation cost the trained team spent from the same
start (``aann_env/envs/schedule.py`` has the cost model): the SENSE agent (``adaptive`` and
``fc`` schedules, default sizes, loss criterion) and the shipped single-agent PPO schedule policy
(``single-ppo``, ``aann search --agent rl --policy shipped``). It prints validation and test
accuracy and writes the team's policy (``policy.zip``, SB3's format) and the table
(``results.md``, ``results.csv``) to ``--out``.

Run it with ``python examples/rl_layer_team.py`` (several minutes of CPU time); every field of
:class:`Args` is a flag (``--timesteps 12000``).
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import aann_env  # noqa: F401  (importing it registers AANN-MNIST-v0 with Gymnasium)
from aann_env.core.forward import evaluate
from aann_env.core.network import TernaryNetwork
from aann_env.envs.layer_team import LayerTeamEnv
from aann_env.tasks import get_task
from agents.budget import Budget
from agents.rl.evaluate import contender
from agents.rl.team import team_actions, train_team_ppo


@dataclass
class Args:
    seed: int = 0
    timesteps: int = 6_000
    """agent steps to train for (three per team step)"""
    n_envs: int = 1
    n_steps: int = 128
    """team steps per env copy between PPO updates (each gives one sample per agent)"""
    batch_size: int = 64
    eval_size: int = 500
    """validation images the training env scores on"""
    max_cycles: int = 200
    """team steps per episode, in training and in the comparison"""
    budget: float = 100_000.0
    """evaluation cost per episode (it ends at max_cycles or when this is spent)"""
    reward: str = "loss"
    """team reward: ``"loss"`` (dense) or ``"accuracy"``"""
    eval_seeds: tuple[int, ...] = (900_000, 900_001, 900_002)
    """held-out starts: training never draws them"""
    test_eval_size: int = 10_000
    """validation images of the final comparison"""
    test_size: int = 10_000
    """test images the final networks are measured on (10,000: the whole test split)"""
    single_policy: str = "shipped"
    """the single-agent schedule policy compared (``""``: leave it out)"""
    out: str = "runs/layer-team"
    """folder for ``policy.zip``, ``results.csv`` and ``results.md`` (``""``: write nothing)"""


def team_env(args: Args, eval_size: int) -> LayerTeamEnv:
    return LayerTeamEnv(
        eval_size=eval_size, max_cycles=args.max_cycles, budget=args.budget, reward=args.reward
    )


def run_team(env: LayerTeamEnv, act: Any, seed: int) -> tuple[float, TernaryNetwork, float]:
    """One team episode from start ``seed``: (validation accuracy, final network, cost spent)."""
    obs, _ = env.reset(seed=seed)
    while env.agents:
        obs, _, _, _, _ = env.step(act(obs))
    return env.accuracy, env.network.copy(), env.spent


def run_single(
    env: gym.Env, name: str, seed: int, cost: float, policy: str | None = None
) -> tuple[float, TernaryNetwork, float]:
    """A single-agent search on ``AANN-MNIST-v0`` from start ``seed`` until ``cost`` is spent, as
    ``aann rl eval`` runs it: the SENSE agent with schedule ``name`` (default sizes, loss
    criterion), or the schedule ``policy`` when ``name`` is ``"policy"``. Returns (validation
    accuracy, final network, cost spent)."""
    agent = contender(name, "mnist", policy)
    agent.rng = np.random.default_rng((seed, 1))  # as aann search seeds it
    env.reset(seed=seed)
    agent.run(env, Budget(cost=cost))
    return env.unwrapped.accuracy, env.unwrapped.network.copy(), agent.cost


def random_team(env: LayerTeamEnv, rng: np.random.Generator) -> Any:
    """A team that picks every agent's action uniformly at random."""
    n_actions = int(env.action_space(env.possible_agents[0]).n)
    return lambda obs: {agent: int(rng.integers(n_actions)) for agent in obs}


def run_layer_team(**overrides: Any) -> dict[str, Any]:
    """Train (fields of :class:`Args` as keywords) and compare; returns the figures."""
    args = Args(**overrides)
    start = time.perf_counter()
    model = train_team_ppo(
        args.timesteps,
        seed=args.seed,
        n_envs=args.n_envs,
        ppo_kwargs={"n_steps": args.n_steps, "batch_size": args.batch_size},
        eval_size=args.eval_size,
        max_cycles=args.max_cycles,
        budget=args.budget,
        reward=args.reward,
    )
    train_seconds = time.perf_counter() - start
    episode_returns = [float(ep["r"]) for ep in model.ep_info_buffer]  # one per agent and episode

    env = team_env(args, args.test_eval_size)
    random_act = random_team(env, np.random.default_rng(args.seed))
    search_env = gym.make("AANN-MNIST-v0", eval_size=args.test_eval_size, max_episode_steps=-1)
    test = get_task("mnist").split("test").subset(args.test_size)
    results: dict[str, list[tuple[float, float, float]]] = {}
    for seed in args.eval_seeds:
        trained = run_team(env, lambda obs: team_actions(model, obs), seed)
        runs = {"team-ppo": trained, "team-random": run_team(env, random_act, seed)}
        cost = max(trained[2], 1.0)  # a team that only passed spent nothing; SENSE needs > 0
        for name in ("adaptive", "fc"):  # SENSE from the same start, at the team's cost
            runs[name] = run_single(search_env, name, seed, cost)
        if args.single_policy:  # the single-agent RL route, at the team's cost
            runs["single-ppo"] = run_single(search_env, "policy", seed, cost, args.single_policy)
        for name, (val, net, spent) in runs.items():
            tested = evaluate(net, test.pixels, test.labels).accuracy
            results.setdefault(name, []).append((val, tested, spent))
    out = {
        "train_seconds": train_seconds,
        "episode_returns": episode_returns,
        "results": results,
        "eval_seeds": list(args.eval_seeds),
    }
    if args.out:
        write_outputs(Path(args.out), model, out)
    return out


def table(results: dict[str, list[tuple[float, float, float]]]) -> str:
    """A Markdown table of the comparison: mean +- std over the starts."""
    lines = [
        "| contender | validation | test | cost spent | starts |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, rows in results.items():
        a = np.asarray(rows)  # (starts, 3): validation, test, cost
        val, test, cost = a.mean(axis=0)
        sv, st, _ = a.std(axis=0)
        lines.append(
            f"| {name} | {val:.2%} +- {sv:.2%} | {test:.2%} +- {st:.2%} | {cost:,.0f} | {len(a)} |"
        )
    return "\n".join(lines) + "\n"


def write_outputs(folder: Path, model: Any, out: dict[str, Any]) -> None:
    """The team's policy, every result (one row per contender and start) and the table."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "policy.zip")
    with (folder / "results.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["contender", "seed", "val_accuracy", "test_accuracy", "cost"])
        for name, rows in out["results"].items():
            for seed, (val, test, cost) in zip(out["eval_seeds"], rows, strict=True):
                writer.writerow([name, seed, repr(val), repr(test), repr(cost)])
    (folder / "results.md").write_text(table(out["results"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for f in fields(Args):
        default = getattr(Args, f.name)
        kind = type(default[0]) if isinstance(default, tuple) else type(default)
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            type=kind,
            nargs="+" if isinstance(default, tuple) else None,
            default=default,
        )
    out = run_layer_team(**vars(parser.parse_args()))
    returns = out["episode_returns"]
    print(
        f"trained in {out['train_seconds']:.0f} s; mean team return of the last "
        f"{len(returns)} agent episodes: {np.mean(returns):.3f}"
    )
    print(table(out["results"]), end="")


if __name__ == "__main__":
    main()
