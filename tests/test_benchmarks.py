"""Smoke runs of the benchmark scripts with tiny budgets (speed is never asserted here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("mnist_ready")


def _load(name: str):
    # Spawned measurement processes import the script by name, so its folder goes on the path.
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # child processes unpickle functions by module name
    spec.loader.exec_module(module)
    return module


def test_neighbor_eval_benchmark_runs():
    bench = _load("neighbor_eval")
    cfg = bench.Config(
        eval_size=100, naive_neighbours=1, incremental=(("fc", 8), ("2.0", 2)), naive_batches=(100,)
    )
    rows = bench.run_benchmark(cfg)
    assert [r["layer"] for r in rows] == ["fc", "2.0"]
    assert all(r["naive_per_s"] > 0 and r["incremental_per_s"] > 0 for r in rows)
    assert "| fc |" in bench.format_table(rows, cfg)


def test_env_throughput_benchmark_runs():
    bench = _load("env_throughput")
    rows = bench.run_benchmark(bench.Config(eval_size=100, seconds=0.05, neighborhood_size=2))
    assert len(rows) == 6 and all(rate > 0 and steps >= 1 for _, _, rate, steps in rows)


def test_step_cost_benchmark_fits_a_model_and_checks_it(capsys):
    bench = _load("step_cost")
    cfg = bench.Config(
        eval_size=100,
        sizes=(("fc", (4, 16)), ("2.0", (2,))),
        seconds=0.05,
        min_steps=2,
        commits=2,
        check_seconds=0.2,
    )
    env = bench._env(cfg)
    fits = []
    for layer, sizes in cfg.sizes:
        commit = bench.time_commits(env, layer, cfg)
        rows = [(k, dt, c) for k in sizes for dt, c in bench.time_steps(env, layer, k, cfg)]
        fits.append(bench.fit_layer(layer, rows, commit))
    record = bench.calibration(fits, bench.time_batch_move(env, cfg), 200, "test")
    assert record["neighbour"]["fc"] == 1.0 and record["neighbour"]["1.0"] == 1200.0  # not timed
    assert all(v >= 0 for v in record["step"].values()) and record["unit_seconds"] > 0
    rows = bench.check(env, record, cfg)
    assert [r[0] for r in rows] == ["fc, 64 neighbours", "adaptive (aann search)"]
    assert all(wall > 0 and per_n > 0 and per_c > 0 for _, wall, per_n, per_c in rows)


def test_a_step_cost_fit_recovers_its_line():
    bench = _load("step_cost")
    rows = [(k, 2e-6 * k + 1e-3 + 5e-4 * c, c) for k in (16, 64, 256) for c in (False, True)]
    fit = bench.fit_layer("fc", rows, 5e-4)
    assert fit.per_neighbour == pytest.approx(2e-6) and fit.per_step == pytest.approx(1e-3)
    assert fit.residual < 1e-9
