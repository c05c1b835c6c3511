"""``aann search``: run (or ``--resume``) a search agent in a run directory.

The flags become a settled config first (:class:`agents.run.config.SearchConfig`, or for a
resume the stored one with the budgets and workers given now), then the run is built on it: a
:class:`agents.run.search_run.SearchRun`, whose run directory gets the history, the best and
current networks, checkpoints and plots. With ``--workers N`` the neighbourhoods are scored on
``N`` Ray actors, with the very results of one process (the run is handed
:func:`agents.distributed.neighbour_pool`); with ``--population N``, ``N`` chains search and copy
the best one's network into the worst (:class:`agents.distributed.population.PopulationRun`).
The options themselves are in :mod:`agents.cli.search_options`.
"""

from __future__ import annotations

import argparse
from typing import Any

from aann_env.runs.directory import RunDirectory
from agents.cli.args import fail, layer_counts
from agents.cli.search_options import AGENT_OPTIONS, DEFAULT_NEIGHBORHOOD, add_arguments
from agents.distributed import neighbour_pool
from agents.distributed.cluster import RayUnavailableError, require_ray
from agents.distributed.population import PopulationConfig, PopulationRun, is_population
from agents.presets import preset
from agents.run.config import RESUMABLE_FIELDS, SearchConfig
from agents.run.search_run import SearchRun


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``search`` and its options to the ``aann`` sub-commands."""
    p = subparsers.add_parser(
        "search",
        help="run or resume a search agent",
        description="Search a family of sparse ternary networks. Budgets count neighbour "
        "evaluations, wall time and evaluation cost; the run directory (--out) gets the history, "
        "the best and current networks, checkpoints and plots, and --resume continues a killed "
        "run exactly.",
    )
    add_arguments(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run or resume a search; report where the best network and the plots went."""
    if args.workers is not None:
        try:
            require_ray()
        except RayUnavailableError as exc:
            return fail("search", str(exc))
    search: SearchRun | PopulationRun
    if args.resume:
        search = _resumed(args)
    else:
        try:
            config = _config(args)
            config.start.check(config.task, config.sparsity)
            population = _population(args, config)
        except ValueError as exc:
            return fail("search", str(exc))
        search = (
            SearchRun(args.out, config, scorer=neighbour_pool)
            if population is None
            else PopulationRun(args.out, population)
        )
    summary = search.run(progress=not args.no_progress)
    assert summary is not None  # only a callback stops a population early
    if isinstance(search, PopulationRun):
        return _report_population(args, search, summary)
    print(
        f"{summary['agent']}: {summary['steps']} steps, {summary['evals']} evaluations in "
        f"{summary['wall_time']:.0f} s; validation accuracy {summary['val_accuracy']:.4f}, "
        f"test accuracy {summary['test_accuracy']:.4f}; best network (validation "
        f"{summary['best_val_accuracy']:.4f}, test {summary['best_test_accuracy']:.4f}) in "
        f"{summary['best_path']}"
    )
    if not args.no_plot:
        # matplotlib takes half a second to import: only a run that plots pays for it.
        from aann_env.viz import plot_all

        paths = plot_all(args.out)
        print("plots: " + ", ".join(str(p) for p in paths))
    return 0


def _report_population(
    args: argparse.Namespace, run: PopulationRun, summary: dict[str, Any]
) -> int:
    """Print a population's result; plot its chains side by side."""
    print(
        f"population of {summary['population']} chains: {summary['exploits']} exploits in "
        f"{summary['segments']} segments, {summary['wall_time']:.0f} s; best network: chain "
        f"{summary['best_chain']} (validation {summary['best_val_accuracy']:.4f}, test "
        f"{summary['best_test_accuracy']:.4f}) in {summary['best_path']}"
    )
    if not args.no_plot:
        from aann_env.viz import plot_runs

        path = plot_runs([d.path for d in run.chain_dirs], run.dir / "plots" / "accuracy.png")
        print(f"plots: {path}")
    return 0


def _resumed(args: argparse.Namespace) -> SearchRun | PopulationRun:
    """The run in ``--out`` with everything as stored there, except the
    :data:`~agents.run.config.RESUMABLE_FIELDS` given now (budgets, workers).

    Raises:
        CheckpointError: Nothing to resume in ``--out``, or its config is unreadable.
    """
    given = {name: getattr(args, name) for name in RESUMABLE_FIELDS}
    stored = RunDirectory(args.out)
    if is_population(args.out):
        population = stored.stored_config(PopulationConfig.from_dict).resumed(**given)
        return PopulationRun(args.out, population, resume=True)
    config = stored.stored_config(SearchConfig.from_dict).resumed(**given)
    return SearchRun(args.out, config, resume=True, scorer=neighbour_pool)


def _population(args: argparse.Namespace, config: SearchConfig) -> PopulationConfig | None:
    """The population of a new run, or None for a single search.

    Raises:
        ValueError: Population options without --population, or bad ones.
    """
    given = [
        f"--{n.replace('_', '-')}" for n in ("exploit_seconds", "exploit_evals") if getattr(args, n)
    ]
    if args.ray_address is not None and args.workers is None:
        raise ValueError("--ray-address needs --workers N (the actors to start there)")
    if args.population is None:
        if given:
            raise ValueError(f"{' and '.join(given)} only apply with --population N")
        return None
    config.workers = config.ray_address = None  # the population's, not each chain's
    return PopulationConfig(
        search=config,
        size=args.population,
        exploit_seconds=args.exploit_seconds,
        exploit_evals=args.exploit_evals,
        exploit_fraction=args.exploit_fraction,
        workers=args.workers,
        ray_address=args.ray_address,
    )


def _agent_kwargs(args: argparse.Namespace, base: dict[str, Any]) -> dict[str, Any]:
    """The agent's keyword arguments: its own options that were given, then (SENSE) the preset's
    and the task's defaults.

    Raises:
        ValueError: A preset (a SENSE protocol) for another agent.
    """
    kwargs: dict[str, Any] = {
        k: getattr(args, k) for k in AGENT_OPTIONS[args.agent] if getattr(args, k) is not None
    }
    if args.agent == "sense":
        for k, v in base["sense"].items():
            kwargs.setdefault(k, v)
        kwargs.setdefault("neighborhood_size", layer_counts(DEFAULT_NEIGHBORHOOD[args.task]))
    elif args.preset is not None:
        raise ValueError(f"--preset {args.preset} is a SENSE protocol; it needs --agent sense")
    return kwargs


def _config(args: argparse.Namespace) -> SearchConfig:
    """A new run's config from the flags; the agent gets only its own options that were given.

    Raises:
        ValueError: The flags make no valid search (e.g. no budget).
    """
    base = preset(args.preset)
    agent_kwargs = _agent_kwargs(args, base)

    def pick(flag: str) -> Any:
        value = getattr(args, flag)
        value = base[flag] if value is None else value
        return None if value in ("all", "never") else value

    score_on = pick("score_on")
    rotate_every = pick("rotate_every") if score_on == "train" or args.rotate_every else None
    return SearchConfig(
        task=args.task,
        agent=args.agent,
        sparsity=pick("sparsity"),
        init=pick("init"),
        score_on=score_on,
        rotate_every=rotate_every,
        selection_size=pick("selection_size"),
        seed=args.seed,
        budget_evals=args.budget_evals,
        budget_seconds=args.budget_seconds,
        budget_cost=args.budget_cost,
        cost_model=args.cost_model,
        eval_size=pick("eval_size"),
        device=args.device,
        data_dir=args.data_dir,
        agent_kwargs=agent_kwargs,
        checkpoint_seconds=args.checkpoint_seconds,
        checkpoint_steps=args.checkpoint_steps,
        workers=args.workers,
        ray_address=args.ray_address,
    )
