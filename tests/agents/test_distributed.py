"""Distributed search on Ray: parallel neighbourhoods that change nothing, population search and
its resume, lost actors, and the CLI flags.

Ray is the optional ``distributed`` extra: tests that need it take the ``ray_local`` fixture and
are skipped, with the reason, where it is not installed. One local Ray instance (2 CPUs, no
dashboard, no usage statistics: nothing leaves the machine) serves the whole module, and the
searches are tiny, since every actor start costs a process with torch in it.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from aann_env.core.network import TernaryNetwork
from aann_env.envs.search_env import AANNEnv
from agents import SENSE, BaseCallback, Budget, RandomSearch
from agents.cli import main
from agents.distributed import neighbour_pool
from agents.distributed.cluster import WorkerError
from agents.distributed.pool import NeighbourPool, split_parts
from agents.distributed.population import PopulationConfig, PopulationRun, exploit_plan
from agents.run import SearchConfig, SearchRun

pytestmark = pytest.mark.usefixtures("mnist_ready")

SIZES = {"fc": 16, "2.0": 4, "1.0": 2}
SCORING = {"eval_size": 100, "selection_size": 100, "score_on": "train", "rotate_every": 3}
"""Tiny scoring sets whose batches rotate every 3 rounds."""


@pytest.fixture(scope="module", autouse=True)
def untested():
    """Test accuracy (a forward pass over the 10,000 test images, seconds each here) never
    guides a search and these tests compare trajectories without it: in this process it is a
    constant (Ray actors still measure it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AANNEnv, "test_accuracy", lambda self, net=None: 0.0)
        yield


RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_agent_register_timeout_ms": "120000"}
"""No usage statistics; more time for Ray's helper processes to start on a busy machine."""


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip(
        "ray", reason="Ray is the optional 'distributed' extra: pip install 'aann[distributed]'"
    )
    saved = {k: os.environ.get(k) for k in RAY_ENV}
    os.environ.update(RAY_ENV)
    for attempt in (1, 2):  # on a busy machine Ray's helpers can miss its start-up deadline
        try:
            ray.init(
                num_cpus=2,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                _temp_dir="/tmp/ray-aann-tests",
            )
            break
        except Exception:
            ray.shutdown()
            if attempt == 2:
                raise
    yield ray
    ray.shutdown()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# ----------------------------------------------------------------------- parallel neighbourhoods
def _env(**kwargs) -> gym.Env:
    env = gym.make("AANN-MNIST-v0", max_episode_steps=-1, **{**SCORING, **kwargs})
    env.reset(seed=0)
    return env


class Recorder(gym.Wrapper):
    """Records every action the agent commits."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.actions: list[list[int]] = []

    def step(self, action):
        self.actions.append([int(v) for v in action])
        return self.env.step(action)


class Steps(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.infos = []

    def _on_step(self, info):
        self.infos.append(dataclasses.replace(info, wall_time=0.0))
        return True


def _search(agent, pool: NeighbourPool | None, evals: int):
    """Committed swaps, step infos (without wall time), best and final network of one search."""
    env = Recorder(_env())
    if pool is not None:
        pool.attach(env)
    steps = Steps()
    best = agent.run(env, Budget(evals=evals), steps)
    env.unwrapped.attach_scorer(None)
    return env.actions, steps.infos, best, env.unwrapped.network.copy()


@pytest.fixture(scope="class")
def pool(ray_local):
    """A pool of 2 actors for one test class (its CPUs are free again for the tests after it)."""
    env = _env()
    with NeighbourPool.start(
        env.unwrapped.scoring_set, 2, layer_costs=env.unwrapped.layer_costs
    ) as started:
        yield started


class TestParallelNeighbourhoods:
    def test_two_actors_score_exactly_what_one_process_scores(self, pool):
        env = _env()
        u = env.unwrapped
        rng = np.random.default_rng(3)
        layers = range(3)
        mixed = np.concatenate([u.network.sample_swaps(3, rng, layer=layer) for layer in layers])
        pool.load(u.network, 0)  # the env's evaluator is on batch 0 until its first round
        for swaps in (mixed, mixed[:1], u.network.sample_swaps(40, rng, layer="fc")):
            local = u.evaluator.score(swaps)
            remote = pool.score(swaps)
            assert np.array_equal(remote.accuracy, local.accuracy)
            assert np.array_equal(remote.loss, local.loss)
            assert np.array_equal(remote.n_correct, local.n_correct)

    @pytest.mark.parametrize(
        "make_agent",
        [
            lambda: SENSE(SIZES, schedule="alternate", block=1, seed=1),
            lambda: SENSE(SIZES, seed=2),
            lambda: RandomSearch(batch=6, layer_weights=[1, 1, 2], seed=3),
        ],
        ids=["sense-every-layer", "sense-adaptive", "random-mixed-layers"],
    )
    def test_parallel_neighbourhoods_change_nothing(self, pool, make_agent):
        """Same seed, scored on rotating training batches, through all three layers: the same
        committed swaps, history (all but wall time) and networks with 2 actors as in one
        process."""
        single = _search(make_agent(), None, 160)
        swaps, infos, best, final = _search(make_agent(), pool, 160)
        assert swaps == single[0] and len(swaps) > 5
        assert infos == single[1]
        assert {info.layer for info in infos} == {"1.0", "2.0", "fc"}
        assert best == single[2] and final == single[3]

    def test_a_pool_refuses_an_env_that_scores_other_images(self, pool):
        with pytest.raises(ValueError, match="other images"):
            pool.attach(_env(score_on="valid", rotate_every=None))


def test_split_parts_balances_cost_and_keeps_the_order():
    costs = np.array([1200.0, 40.0, 1.0])
    parts = split_parts(np.array([0, 2, 2, 2, 2, 1]), costs, 2)
    assert parts == [slice(0, 1), slice(1, 6)]
    assert split_parts(np.array([2] * 8), costs, 3) == [slice(0, 3), slice(3, 6), slice(6, 8)]
    assert split_parts(np.array([2]), costs, 2) == [slice(0, 1), slice(1, 1)]


# --------------------------------------------------------------------- runs, lost actors, CLI
def _rows(path: Path) -> list[dict[str, str]]:
    """History rows without the columns that depend on timing (wall time, test accuracy)."""
    with open(path) as fh:
        return [
            {k: v for k, v in row.items() if k not in ("wall_time", "test_accuracy")}
            for row in csv.DictReader(fh)
        ]


def _search_config(**kwargs) -> SearchConfig:
    base = {
        **SCORING,
        "budget_evals": 110,
        "seed": 4,
        "agent_kwargs": {"neighborhood_size": SIZES, "schedule": "alternate", "block": 1},
    }
    return SearchConfig(**{**base, **kwargs})


CLI_ARGS = ["--eval-size", "100", "--selection-size", "100", "--rotate-every", "3", "--seed", "4"]
CLI_ARGS += ["--budget-evals", "110", "--schedule", "alternate", "--block", "1"]
CLI_ARGS += ["--neighborhood-size", "fc=16,2.0=4,1.0=2", "--no-progress", "--no-plot"]
"""The search of :func:`_search_config` as flags."""


@pytest.fixture(scope="module")
def cli_run(ray_local, tmp_path_factory) -> Path:
    """``aann search --workers 2``: an uninterrupted run, the reference of the interrupted one."""
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["search", *CLI_ARGS, "--workers", "2", "--out", str(out)]) == 0
    return out


class KillAt(BaseCallback):
    """Kills one of the run's actors after step ``step``."""

    def __init__(self, run: SearchRun, step: int) -> None:
        super().__init__()
        self.run, self.step = run, step

    def _on_step(self, info):
        if info.step == self.step:
            import ray

            assert self.run.scorer is not None
            ray.kill(self.run.scorer.actors[0])
        return True


def test_cli_workers_record_the_actors_and_finish(cli_run):
    config = json.loads((cli_run / "config.json").read_text())
    assert (config["workers"], config["ray_address"]) == (2, None)
    assert json.loads((cli_run / "summary.json").read_text())["evals"] >= 110


def test_a_lost_actor_fails_the_run_at_once_and_leaves_a_resumable_checkpoint(cli_run, tmp_path):
    run_dir = tmp_path / "run"
    run = SearchRun(run_dir, _search_config(workers=2), scorer=neighbour_pool)
    start = time.monotonic()
    with pytest.raises(WorkerError, match="a Ray actor died") as failure:
        run.run(progress=False, callback=KillAt(run, 4))
    # Not a speed check: a run that waited on the dead actor would hang until Ray's own
    # timeouts (many minutes). A loaded 2-core machine took 108 s here, hence the margin.
    assert time.monotonic() - start < 300
    assert "holds a checkpoint of step 4" in str(failure.value) and "--resume" in str(failure.value)
    # Resumed in one process, the run ends where the uninterrupted run on 2 actors ended: the
    # same history (all but timing) and networks.
    resumed = SearchRun(run_dir, _search_config(workers=None), resume=True)
    assert resumed.config.workers is None
    resumed.run(progress=False)
    assert _rows(run_dir / "history.csv") == _rows(cli_run / "history.csv")
    for name in ("best.npz", "current.npz"):
        assert TernaryNetwork.load(run_dir / name) == TernaryNetwork.load(cli_run / name)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--workers", "0"], "needs at least 1 Ray actor"),
        (["--workers", "two"], "expected a number of Ray actors"),
    ],
)
def test_bad_worker_counts_exit_2(flags, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["search", "--out", "x", "--budget-evals", "5", *flags])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_distributed_flags_say_what_is_missing(tmp_path, capsys, monkeypatch):
    base = ["search", "--budget-evals", "5", "--no-progress"]
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert main([*base, "--out", str(tmp_path / "a"), "--workers", "2"]) == 2
    assert "pip install 'aann[distributed]'" in capsys.readouterr().err
    monkeypatch.undo()
    assert main([*base, "--out", str(tmp_path / "b"), "--ray-address", "auto"]) == 2
    assert "--ray-address needs --workers" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "c"), "--exploit-evals", "9"]) == 2
    assert "only apply with --population" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing was written


# ---------------------------------------------------------------------------- population search
def _population(**kwargs) -> PopulationConfig:
    search = _search_config(budget_evals=96, seed=5, checkpoint_seconds=600.0)
    return PopulationConfig(search=search, size=2, exploit_evals=32, **kwargs)


def test_exploit_plan_copies_the_best_into_the_worst_active_chains():
    val = [0.5, 0.9, 0.1, 0.9, 0.3]
    assert exploit_plan(val, [True] * 5, 0.25) == [(1, 2)]
    assert exploit_plan(val, [True] * 5, 0.5) == [(1, 2), (1, 4)]
    assert exploit_plan(val, [True, True, False, True, True], 0.5) == [(1, 4), (1, 0)]
    assert exploit_plan([0.4, 0.4], [True, True], 0.5) == []  # nothing better to copy


def test_a_population_resumes_to_the_end_of_a_straight_run(ray_local, tmp_path):
    straight = tmp_path / "straight"
    summary = PopulationRun(straight, _population()).run(progress=False)
    assert summary is not None and summary["segments"] >= 2 and summary["exploits"] >= 1

    # On 2 Ray actors, stopped after two segments (as a kill right after a checkpoint would)...
    stopped = tmp_path / "stopped"
    run = PopulationRun(stopped, _population(workers=2))
    assert run.run(progress=False, callback=lambda segment, reports: segment < 2) is None
    # ... and as if killed between the chains' checkpoints and the population's: the newest
    # population checkpoint is the one before, so each chain resumes from its previous one.
    shutil.copy(stopped / "checkpoint.prev.json", stopped / "checkpoint.json")
    resumed = PopulationRun(stopped, _population(workers=None), resume=True)
    again = resumed.run(progress=False)
    assert again is not None
    for key in ("segments", "exploits", "best_chain", "best_val_accuracy", "best_test_accuracy"):
        assert again[key] == summary[key], key

    for i in range(2):
        chain = f"chain-{i}"
        assert _rows(stopped / chain / "history.csv") == _rows(straight / chain / "history.csv")
        for name in ("best.npz", "current.npz"):
            assert TernaryNetwork.load(stopped / chain / name) == TernaryNetwork.load(
                straight / chain / name
            )
    assert _rows(stopped / "population.csv") == _rows(straight / "population.csv")
    assert TernaryNetwork.load(stopped / "best.npz") == TernaryNetwork.load(straight / "best.npz")


# ---------------------------------------------------------------------------------- benchmark
def test_the_ray_benchmark_runs(ray_local):
    """A smoke run of benchmarks/ray_neighbours.py with one actor (speed is never asserted)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "ray_neighbours.py"
    spec = importlib.util.spec_from_file_location("ray_neighbours", path)
    bench = importlib.util.module_from_spec(spec)
    sys.modules["ray_neighbours"] = bench  # dataclasses look their module up
    spec.loader.exec_module(bench)
    sizes = (("fc", (2, 8)), ("1.0", (1, 2)))
    cfg = bench.Config(100, 100, sizes, workers=(1,), seconds=0.0, min_rounds=1, scale=(8,))
    report = bench.format_report(bench.run_benchmark(cfg), cfg)
    assert "| fc | 8 |" in report and "| 1.0 | 8 | 8 |" in report
