"""``aann rl train`` trains an RL search policy with Stable-Baselines3 in a run directory;
``aann rl eval`` compares one with the SENSE agent's schedules at an equal evaluation-cost budget.

The run directory gets the config, SB3 checkpoints (``--resume`` continues after a kill: policy,
optimiser and step count), the held-out evaluations (``eval.csv``), SB3's CSV log (and TensorBoard
files when ``tensorboard`` is installed) and the final ``policy.zip``. A policy file is a zip
that SB3 unpickles: treat one from elsewhere as code, like any script you run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aann_env.envs.cost_model import COST_MODELS
from agents.cli.args import fail, layer_counts, positive_float, positive_int, sparsity
from agents.cli.rl_proxy import add_proxy_parser
from agents.cli.search_options import add_cost_model_option
from agents.rl.config import ALGOS, FORMULATIONS, HELD_OUT_SEEDS, RLConfig

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
    "criterion",
    "budget",
    "decisions",
    "neighborhood_sizes",
    "n_candidates",
    "proposal_layer",
    "episode_steps",
    "n_steps",
    "batch_size",
    "learning_rate",
    "ent_coef",
    "checkpoint_steps",
    "eval_every",
    "score_on",
    "rotate_every",
    "selection_size",
    "observation_version",
    "budget_end",
    "gamma",
    "snapshots",
    "reference",
    "teacher",
    "clone_episodes",
    "clone_epochs",
    "cost_model",
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
    t.add_argument(
        "--reward",
        choices=["loss", "accuracy", "held_out", "reference"],
        default=None,
        help="default loss; held_out: the change of held-out accuracy; reference: that against "
        "the hand schedules' curve (needs --snapshots and --reference)",
    )
    t.add_argument("--criterion", choices=["loss", "accuracy"], default=None, help="default loss")
    t.add_argument(
        "--budget",
        type=_budget,
        default=None,
        help="schedule: an episode's evaluation cost, or LOW,HIGH to draw each episode's budget "
        "log-uniformly (default 250000,1250000)",
    )
    t.add_argument(
        "--decisions", type=positive_int, default=None, help="schedule: actions an episode (50)"
    )
    t.add_argument(
        "--neighborhood-sizes",
        type=_layer_sizes,
        default=None,
        help="schedule: the sizes an action chooses from, for every layer (16,64,256) or per layer "
        "(1.0=2/8/32,2.0=8/32/128,fc=64/256/1024, the default)",
    )
    t.add_argument("--n-candidates", type=positive_int, default=None, help="proposal: K (16)")
    t.add_argument("--proposal-layer", default=None, help="proposal: layer name, last or all")
    t.add_argument("--episode-steps", type=positive_int, default=None, help="proposal: tries")
    t.add_argument("--n-steps", type=positive_int, default=None, help="PPO/A2C rollout length")
    t.add_argument("--batch-size", type=positive_int, default=None, help="default 64")
    t.add_argument("--learning-rate", type=positive_float, default=None, help="default 3e-4")
    t.add_argument("--ent-coef", type=float, default=None, help="PPO/A2C entropy bonus (0.01)")
    t.add_argument("--checkpoint-steps", type=positive_int, default=None, help="default 2000")
    t.add_argument("--eval-every", type=positive_int, default=None, help="default 5000")
    _add_proxy_options(t)
    t.add_argument("--device", default="cpu", help="torch device of the policy (default cpu)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=run)
    _add_eval_parser(sub)
    add_proxy_parser(sub)
    return p


def _add_proxy_options(t: argparse.ArgumentParser) -> None:
    g = t.add_argument_group("the training proxy (issue 26; the defaults are the v1 policy's)")
    g.add_argument("--score-on", choices=["valid", "train"], default=None, help="default valid")
    g.add_argument("--rotate-every", type=positive_int, default=None, help="SENSE steps a batch")
    g.add_argument("--selection-size", type=positive_int, default=None, help="held-out images")
    g.add_argument("--observation-version", type=int, choices=[1, 2], default=None)
    g.add_argument("--budget-end", choices=["truncated", "terminated"], default=None)
    g.add_argument("--gamma", type=positive_float, default=None, help="discount (0.99)")
    g.add_argument(
        "--cost-model",
        choices=COST_MODELS,
        default=None,
        help="what a SENSE step of the training envs costs (default neighbours; calibrated: "
        "measured time, aann_env/envs/cost_model.py)",
    )
    g.add_argument("--snapshots", default=None, help="episode starts (aann rl proxy --snapshots)")
    g.add_argument("--reference", default=None, help="the proxy CSV of the reference curves")
    g.add_argument(
        "--teacher",
        default=None,
        metavar="rule:RATE",
        help="behaviour-clone the policy from this hand rule first (needs observation v2 and "
        "--neighborhood-sizes fc=64,2.0=32,1.0=8)",
    )
    g.add_argument(
        "--clone-episodes", type=positive_int, default=None, help="teacher episodes (16)"
    )
    g.add_argument("--clone-epochs", type=positive_int, default=None, help="cloning passes (300)")


def _add_eval_parser(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser(
        "eval",
        help="compare a schedule policy with SENSE's schedules at an equal evaluation-cost budget",
        description="Run a trained schedule policy (a policy.zip with its provenance, or "
        "'shipped') and the SENSE agent with each schedule it ships (fc, alternate, random-block, "
        "uniform, adaptive, handoff; default sizes, loss criterion) from the same held-out random starts, "
        "each until the same evaluation-cost budget is spent; print a table of final validation "
        "and test accuracy (mean +- std over the starts), and with --out write the results CSV, "
        "the table (.md) and a plot (.png). A policy file is a zip that Stable-Baselines3 "
        "unpickles: loading one runs code from it, so trust a file from elsewhere as a script.",
    )
    e.add_argument(
        "policy", nargs="?", default=None, help="a policy file or 'shipped' (omit: SENSE only)"
    )
    e.add_argument(
        "--seeds", type=_sizes, default=HELD_OUT_SEEDS, help="start seeds (default 900000-900004)"
    )
    e.add_argument(
        "--budget",
        type=_costs,
        default=None,
        help="evaluation-cost budgets, e.g. 250000,1250000 (required unless --results)",
    )
    e.add_argument(
        "--protocol",
        choices=["search", "paper"],
        default="search",
        help="search (default): scored as aann search scores (rotating training batches), the "
        "best network by validation, its test accuracy; paper: validation scoring, as before",
    )
    e.add_argument("--eval-size", type=positive_int, default=None, help="images scored (10000)")
    e.add_argument(
        "--selection-size", type=positive_int, default=None, help="search: validation images"
    )
    e.add_argument("--task", choices=["mnist", "car"], default="mnist", help="default mnist")
    e.add_argument(
        "--contenders",
        type=lambda t: tuple(t.split(",")),
        default=None,
        help="which to run, e.g. policy,fc,adaptive,handoff:3e-6,rule:1e-7 (default: the "
        "policy and every SENSE schedule)",
    )
    e.add_argument(
        "--sizes",
        type=layer_counts,
        default=None,
        metavar="LAYER=K,...",
        help="the SENSE contenders' neighbourhood sizes, e.g. fc=64 (default: the task's)",
    )
    add_cost_model_option(e)
    e.add_argument(
        "--results",
        nargs="+",
        default=None,
        metavar="CSV",
        help="run nothing: merge these results CSVs (of earlier --out runs) into the table",
    )
    e.add_argument(
        "--out",
        default=None,
        help="results CSV (rows are appended as each search ends; the same command again "
        "resumes, running only the searches it lacks); the table and plot go beside it (.md, .png)",
    )
    e.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    """Compare the policy (if given) with SENSE's schedules; print and write the table."""
    from aann_env.viz import plot_comparison
    from agents.rl.evaluate import compare, merge, table
    from agents.rl.paired import paired, paired_table

    try:
        if args.results:
            if args.out and str(Path(args.out).resolve()) in {
                str(Path(p).resolve()) for p in args.results
            }:
                return fail("rl eval", "--out must not be one of the --results files")
            results = merge(args.results, args.out)
        else:
            if args.budget is None:
                return fail("rl eval", "give --budget (or --results to merge earlier results)")
            results = compare(
                args.policy,
                args.seeds,
                args.budget,
                task=args.task,
                eval_size=args.eval_size,
                selection_size=args.selection_size,
                protocol=args.protocol,
                contenders=args.contenders,
                log=args.out,
                sizes=args.sizes if isinstance(args.sizes, dict) else None,
                cost_model=args.cost_model,
            )
    except (ValueError, OSError) as exc:
        return fail("rl eval", str(exc))
    text = table(results)
    if results:
        first = "policy" if any(r.name == "policy" for r in results) else results[0].name
        text += "\n\nPaired differences of the best network's test accuracy (points):\n\n"
        text += paired_table(paired(results, first))
    print(text)
    if args.out:
        out = Path(args.out)
        out.with_suffix(".md").write_text(text + "\n")
        groups: dict[str, dict[str, list[float]]] = {}
        for r in results:
            groups.setdefault(f"budget {r.budget:,.0f}", {}).setdefault(r.name, []).append(
                r.best_test_accuracy if args.protocol == "search" else r.test_accuracy
            )
        plot_comparison(groups, out.with_suffix(".png"))
        _plot_timelines(out)
    return 0


def _plot_timelines(out: Path) -> None:
    """The layer timeline of the first seed at each budget, beside the results."""
    from agents.rl.evaluate import timeline_path
    from agents.rl.timeline import plot_timeline, read_segments

    path = timeline_path(out)
    if not path.is_file():
        return
    segments = read_segments(path)
    for budget in sorted({s.budget for s in segments}):
        at = [s for s in segments if s.budget == budget]
        seed = at[0].seed
        plot_timeline(
            [s for s in at if s.seed == seed],
            out.with_name(f"{out.stem}.timeline-{budget:.0f}.png"),
        )


def _costs(text: str) -> tuple[float, ...]:
    try:
        return tuple(positive_float(v) for v in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive costs such as 250000,1250000, got {text!r}"
        ) from None


def _budget(text: str) -> tuple[float, ...]:
    try:
        values = _costs(text)
    except argparse.ArgumentTypeError:
        values = ()
    if len(values) not in (1, 2) or values[0] > values[-1]:
        raise argparse.ArgumentTypeError(
            f"expected a positive cost or LOW,HIGH with LOW <= HIGH, such as 250000,1250000, got "
            f"{text!r}"
        )
    return values


def _layer_sizes(text: str) -> tuple[int, ...] | dict[str, tuple[int, ...]]:
    if "=" not in text:
        return _sizes(text)
    try:
        pairs = [part.split("=") for part in text.split(",")]
        return {
            name.strip(): tuple(positive_int(v) for v in sizes.split("/")) for name, sizes in pairs
        }
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(
            f"expected sizes such as 16,64,256 or 1.0=2/8/32,2.0=8/32/128,fc=64/256/1024, got "
            f"{text!r}"
        ) from None


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
