"""``aann rl train`` trains an RL search policy with Stable-Baselines3 in a run directory;
``aann rl eval`` compares one with fixed schedules at an equal evaluation-cost budget.

The run directory gets the config, SB3 checkpoints (``--resume`` continues after a kill: policy,
optimiser and step count), the held-out evaluations (``eval.csv``), SB3's CSV log (and TensorBoard
files when ``tensorboard`` is installed) and the final ``policy.zip``. A policy file is a zip
that SB3 unpickles: treat one from elsewhere as code, like any script you run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from agents.cli.args import fail, positive_float, positive_int, sparsity
from agents.rl.config import ALGOS, FORMULATIONS, RLConfig

OPTIONS = (
    "formulation",
    "algo",
    "timesteps",
    "n_envs",
    "seed",
    "task",
    "sparsity",
    "eval_size",
    "reward",
    "budget",
    "neighborhood_sizes",
    "n_candidates",
    "proposal_layer",
    "episode_steps",
    "n_steps",
    "batch_size",
    "learning_rate",
    "checkpoint_steps",
    "eval_every",
)
"""The flags that set :class:`~agents.rl.config.RLConfig` fields (default None: its default)."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``rl`` (with ``rl train``) to the ``aann`` sub-commands."""
    p = subparsers.add_parser(
        "rl",
        help="train RL search policies with Stable-Baselines3",
        description="RL search policies on the env's learnable formulations. A policy file is a "
        "zip that Stable-Baselines3 unpickles when loading it: treat one from elsewhere as code.",
    )
    sub = p.add_subparsers(dest="rl_command", required=True, metavar="RL_COMMAND")
    t = sub.add_parser(
        "train",
        help="train a policy in a run directory",
        description=__doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else None,
    )
    t.add_argument("--out", required=True, help="the run directory")
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.add_argument("--formulation", choices=FORMULATIONS, default=None, help="default schedule")
    t.add_argument("--algo", choices=ALGOS, default=None, help="default ppo")
    t.add_argument("--timesteps", type=positive_int, default=None, help="default 20000")
    t.add_argument("--n-envs", type=positive_int, default=None, help="vectorised envs (default 2)")
    t.add_argument("--seed", type=int, default=None, help="default 0")
    t.add_argument("--task", choices=["mnist", "car"], default=None, help="default mnist")
    t.add_argument("--sparsity", type=sparsity, default=None, help="random starts (default 0.8)")
    t.add_argument("--eval-size", type=positive_int, default=None, help="training images (1000)")
    t.add_argument("--reward", choices=["loss", "accuracy"], default=None, help="default loss")
    t.add_argument("--budget", type=positive_float, default=None, help="schedule: episode cost")
    t.add_argument(
        "--neighborhood-sizes",
        type=_sizes,
        default=None,
        help="schedule: the sizes an action chooses from, e.g. 16,64,256 (the default)",
    )
    t.add_argument("--n-candidates", type=positive_int, default=None, help="proposal: K (16)")
    t.add_argument("--proposal-layer", default=None, help="proposal: layer name, last or all")
    t.add_argument("--episode-steps", type=positive_int, default=None, help="proposal: tries")
    t.add_argument("--n-steps", type=positive_int, default=None, help="PPO/A2C rollout length")
    t.add_argument("--batch-size", type=positive_int, default=None, help="default 64")
    t.add_argument("--learning-rate", type=positive_float, default=None, help="default 3e-4")
    t.add_argument("--checkpoint-steps", type=positive_int, default=None, help="default 2000")
    t.add_argument("--eval-every", type=positive_int, default=None, help="default 5000")
    t.add_argument("--device", default="cpu", help="torch device of the policy (default cpu)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=run)
    _add_eval_parser(sub)
    return p


def _add_eval_parser(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser(
        "eval",
        help="compare a policy with fixed schedules at an equal evaluation-cost budget",
        description="Run a trained schedule policy (a policy.zip or checkpoint.zip that "
        "Stable-Baselines3 unpickles: treat a file from elsewhere as code) and the fixed "
        "schedules fc, alternate, random-block, uniform and adaptive from the same held-out random "
        "starts, "
        "each until the same evaluation-cost budget is spent; print and write a table of final "
        "validation and test accuracy.",
    )
    e.add_argument("policy", nargs="?", default=None, help="a policy file (omit: schedules only)")
    e.add_argument("--seeds", type=_sizes, default=(900_000, 900_001, 900_002, 900_003, 900_004))
    e.add_argument("--budget", type=positive_float, required=True, help="evaluation cost")
    e.add_argument("--eval-size", type=positive_int, default=10_000, help="validation images")
    e.add_argument("--neighborhood-sizes", type=_sizes, default=(16, 64, 256))
    e.add_argument("--out", default=None, help="write the table to this Markdown file")
    e.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    """Compare the policy (if given) with the fixed schedules; print the table."""
    from stable_baselines3.common.base_class import BaseAlgorithm

    from agents.rl.evaluate import compare, table
    from agents.rl.train import ALGORITHMS, read_model_path

    policy = None
    if args.policy is not None:
        path = read_model_path(Path(args.policy))
        model: BaseAlgorithm | None = None
        for algo in ALGORITHMS.values():  # the file names no algorithm: try each
            try:
                model = algo.load(path, device="cpu")
                break
            except (KeyError, ValueError, TypeError, RuntimeError):
                continue
        if model is None:
            return fail("rl eval", f"{path} is not a PPO, A2C or DQN model")
        n_actions = 3 * len(args.neighborhood_sizes)  # MNIST's 3 layers
        if getattr(model.action_space, "n", None) != n_actions:
            return fail(
                "rl eval",
                f"{path} chooses among {getattr(model.action_space, 'n', '?')} actions, but "
                f"--neighborhood-sizes {args.neighborhood_sizes} make {n_actions}: pass the sizes "
                "the policy was trained with (its run's config.json)",
            )
        policy = lambda obs: int(model.predict(obs, deterministic=True)[0])  # noqa: E731
    results = compare(
        policy,
        args.seeds,
        args.budget,
        eval_size=args.eval_size,
        neighborhood_sizes=args.neighborhood_sizes,
    )
    text = table(results)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(positive_int(v) for v in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 16,64,256, got {text!r}"
        ) from None


def run(args: argparse.Namespace) -> int:
    """Run or resume a training run; report where the policy went."""
    from agents.rl.train import RLTraining

    given: dict[str, Any] = {k: getattr(args, k) for k in OPTIONS if getattr(args, k) is not None}
    command = "aann rl " + " ".join(args.argv)
    try:
        if args.resume:  # the stored options, with those given now (only timesteps may differ)
            stored = RLTraining(args.out, None, resume=True).config.to_dict()
            config = RLConfig.from_dict({**stored, **given, "device": args.device})
        else:
            config = RLConfig(device=args.device, command=command, **given)
    except ValueError as exc:
        return fail("rl train", str(exc))
    run = RLTraining(args.out, config, resume=args.resume)
    summary = run.run(progress=not args.no_progress)
    print(
        f"{summary['algo']} on the {summary['formulation']} formulation: {summary['timesteps']} "
        f"timesteps; policy in {summary['policy']}; held-out evaluations in {args.out}/eval.csv"
    )
    return 0
