"""The options of ``aann search``: the flags, their argparse types and the agents' options.

:func:`add_arguments` fills the sub-command's parser; :data:`AGENT_OPTIONS` says which flags
each agent takes, so :mod:`agents.cli.search` passes an agent only its own options.
"""

from __future__ import annotations

import argparse

from aann_env.envs.cost_model import COST_MODELS
from agents.cli.args import (
    add_data_args,
    layer_counts,
    positive_float,
    positive_int,
    sparsity,
)
from agents.presets import PRESETS
from agents.sense import SCHEDULES, TASK_NEIGHBORHOODS

DEFAULT_NEIGHBORHOOD = {
    task: ",".join(f"{name}={k}" for name, k in sizes.items())
    for task, sizes in TASK_NEIGHBORHOODS.items()
}
"""SENSE's default swaps per neighbourhood and layer, per task, as a flag value."""
AGENT_OPTIONS = {
    "sense": (
        "neighborhood_size",
        "schedule",
        "block",
        "layer_weights",
        "criterion",
        "accept",
        "explore",
        "handoff_rate",
    ),
    "random": ("batch", "layer_weights"),
    "annealing": ("t_start", "t_end", "energy", "batch", "layer_weights"),
    "rl": ("policy",),
}
"""The options each agent takes (the others are left out of its keyword arguments)."""


def _size(text: str) -> int | str:
    """An argparse type: a positive number of images, or ``all``."""
    return "all" if text == "all" else positive_int(text)


def _rotation(text: str) -> int | str:
    """An argparse type: a positive number of rounds, or ``never``."""
    return "never" if text == "never" else positive_int(text)


def layer_weights(text: str) -> list[float]:
    """An argparse type: comma-separated odds of each layer, e.g. ``0,1,3``."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as 0,1,3, got {text!r}"
        ) from None
    if any(v < 0 for v in values) or sum(values) <= 0:
        raise argparse.ArgumentTypeError(
            f"layer weights must be non-negative and not all zero, got {text!r}"
        )
    return values


def workers(text: str) -> int:
    """An argparse type: a number of Ray actors, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of Ray actors, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"needs at least 1 Ray actor, got {value} (leave --workers out to search in this "
            "process)"
        )
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the options of ``aann search`` to its parser."""
    add_data_args(p)
    p.add_argument(
        "--agent",
        choices=sorted(AGENT_OPTIONS),
        default="sense",
        help="search agent (default: sense)",
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="a named configuration whose values replace the defaults (flags given explicitly "
        "still win): the paper's protocols, validation-scored SENSE with the figure's schedule "
        "and start (agents/presets.py). Default: the best known configuration",
    )
    p.add_argument(
        "--sparsity", type=sparsity, default=None, help="sparsity of a random start (default 0.8)"
    )
    p.add_argument(
        "--init",
        default=None,
        help="'random' (default), 'balanced' (random, with each layer's nonzeros half -1, half +1: "
        "every --seed starts in one family), 'psiren' (the shipped p-SIREN net at --sparsity) or "
        "a saved network to start from",
    )
    p.add_argument(
        "--budget-evals",
        type=positive_int,
        default=None,
        metavar="N",
        help="stop after N evaluations",
    )
    p.add_argument(
        "--budget-seconds",
        type=positive_float,
        default=None,
        metavar="S",
        help="stop after S seconds",
    )
    p.add_argument(
        "--budget-cost",
        type=positive_float,
        default=None,
        metavar="C",
        help="stop after C units of evaluation cost (a conv 1.0 neighbour costs 1200 fc ones; "
        "aann_env/envs/schedule.py); the rl agent needs it",
    )
    add_cost_model_option(p)
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", required=True, help="the run directory")
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    _add_scoring_options(p)
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    _add_agent_options(p)
    _add_distributed_options(p)
    _add_checkpoint_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plot", action="store_true", help="do not write plots at the end")


def _add_checkpoint_options(p: argparse.ArgumentParser) -> None:
    """How often the run checkpoints (a population checkpoints after every segment)."""
    p.add_argument(
        "--checkpoint-seconds",
        type=positive_float,
        default=60.0,
        help="checkpoint at least this often (default 60)",
    )
    p.add_argument(
        "--checkpoint-steps",
        type=positive_int,
        default=None,
        help="also checkpoint every this many steps",
    )


def _add_scoring_options(p: argparse.ArgumentParser) -> None:
    """Which images the search scores on, and which it selects the best network by."""
    g = p.add_argument_group("scoring and selection")
    g.add_argument(
        "--score-on",
        choices=["train", "valid"],
        default=None,
        help="split neighbours are scored on: 'train' (default; the best network is selected "
        "by validation accuracy, test is reported at checkpoints) or 'valid' (the paper's "
        "protocol: one split for scoring and selection)",
    )
    g.add_argument(
        "--eval-size",
        type=_size,
        default=None,
        metavar="N",
        help="images scored at a time, or 'all' (default 10000)",
    )
    g.add_argument(
        "--rotate-every",
        type=_rotation,
        default=None,
        metavar="R",
        help="move the scoring images to the next batch of the split every R neighbourhoods, "
        "like minibatches, or 'never' (default 200 with --score-on train)",
    )
    g.add_argument(
        "--selection-size",
        type=_size,
        default=None,
        metavar="N",
        help="validation images the best network is selected by, or 'all' (default 10000)",
    )


def _add_distributed_options(p: argparse.ArgumentParser) -> None:
    """Ray actors (the ``distributed`` extra) and population search."""
    g = p.add_argument_group(
        "distributed search (Ray: pip install 'aann[distributed]')",
        "A resume keeps the stored --workers and --ray-address unless given again.",
    )
    g.add_argument(
        "--workers",
        type=workers,
        default=None,
        metavar="N",
        help="score each neighbourhood on N Ray actors (one CPU each): same trajectory, history "
        "and best network as one process; with --population, the actors the chains run on",
    )
    g.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="a running Ray cluster ('auto', HOST:6379 or ray://HOST:10001; `ray start --head` "
        "starts one); default: a local Ray instance",
    )
    g.add_argument(
        "--population",
        type=positive_int,
        default=None,
        metavar="N",
        help="run N chains (seeds SEED, SEED+1, ...; the budget is per chain) that copy the best "
        "chain's network into the worst ones at every exploit",
    )
    g.add_argument(
        "--exploit-seconds",
        type=positive_float,
        default=None,
        metavar="S",
        help="population: seconds of each chain's search between exploits (default 60)",
    )
    g.add_argument(
        "--exploit-evals",
        type=positive_int,
        default=None,
        metavar="E",
        help="population: evaluations of each chain between exploits instead (deterministic)",
    )
    g.add_argument(
        "--exploit-fraction",
        type=float,
        default=0.25,
        metavar="F",
        help="population: share of the chains (at least one) that take the best one's network "
        "(default 0.25, at most 0.5)",
    )


def _add_agent_options(p: argparse.ArgumentParser) -> None:
    """The agents' own options (default None: the agent's default, or the task's for SENSE)."""
    g = p.add_argument_group("SENSE")
    g.add_argument(
        "--neighborhood-size",
        type=layer_counts,
        default=None,
        metavar="K",
        help=f"swaps per neighbourhood: a number or LAYER=K pairs (default: MNIST {DEFAULT_NEIGHBORHOOD['mnist']}; car {DEFAULT_NEIGHBORHOOD['car']})",
    )
    g.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=None,
        help="layer schedule (default adaptive): alternate = Fig. 6, fc = Fig. 7, "
        "random-block = Fig. 8, uniform, adaptive (most accuracy gained per unit of cost), "
        "handoff (fc until its gain per cost falls below --handoff-rate, then adaptive)",
    )
    g.add_argument(
        "--handoff-rate",
        type=float,
        default=None,
        metavar="R",
        help="handoff schedule: fc's gain per unit of cost to hand over at (default 3e-6)",
    )
    g.add_argument(
        "--block",
        type=positive_int,
        default=None,
        help="neighbourhoods per layer visit (default 3)",
    )
    g.add_argument(
        "--criterion",
        choices=["accuracy", "loss"],
        default=None,
        help="rank neighbours by (default loss)",
    )
    g.add_argument(
        "--accept",
        choices=["no_worse", "better", "always"],
        default=None,
        help="commit rule (default no_worse)",
    )
    g.add_argument(
        "--explore",
        choices=["cost", "uniform"],
        default=None,
        help="adaptive and handoff schedules: how an exploring step draws its layer, with odds inversely "
        "proportional to the neighbourhood's cost (default) or uniformly (before issue 14)",
    )
    _add_rl_options(p)


def _add_rl_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("rl (a trained schedule policy)")
    g.add_argument(
        "--policy",
        default=None,
        help="'shipped' (the default: the schedule policy that ships with aann, hash-checked "
        "before loading) or a policy.zip from aann rl train. A policy file is a zip that "
        "Stable-Baselines3 unpickles: loading one runs code from it, so trust a file from "
        "elsewhere as you would a script",
    )
    g = p.add_argument_group("random search and simulated annealing")
    g.add_argument(
        "--batch",
        type=positive_int,
        default=None,
        help="random swaps scored per step (default 16)",
    )
    g.add_argument(
        "--t-start",
        type=positive_float,
        default=None,
        help="annealing: initial temperature (default 2e-3)",
    )
    g.add_argument(
        "--t-end",
        type=positive_float,
        default=None,
        help="annealing: final temperature (default 1e-5)",
    )
    g.add_argument(
        "--energy", choices=["loss", "error"], default=None, help="annealing: energy (default loss)"
    )
    p.add_argument(
        "--layer-weights",
        type=layer_weights,
        default=None,
        metavar="W",
        help="odds of each layer, e.g. 0,1,3 (SENSE uniform schedule, random search, annealing)",
    )


def add_cost_model_option(p: argparse.ArgumentParser) -> None:
    """``--cost-model``: what a step costs (aann_env/envs/cost_model.py)."""
    p.add_argument(
        "--cost-model",
        choices=COST_MODELS,
        default="neighbours",
        help="what a step costs: neighbours (default: neighbours scored, by fixed layer ratios) "
        "or calibrated (measured time, per-step and commit costs included; "
        "benchmarks/step_cost.py)",
    )
