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
