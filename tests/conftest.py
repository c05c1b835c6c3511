"""Fixtures shared by every test package.

Session fixtures here are safe under pytest-xdist: each worker gets its own session and its own
``tmp_path_factory`` folder, so a fixture that records data does so once per worker, into that
worker's folder; the only shared cache (MNIST, built by ``scripts/setup.sh``) is only read, and
numba writes its compile cache race-free (a temporary file, then a rename).
"""

from __future__ import annotations

import os

import pytest
from support.car import BOX2D_MISSING, HAS_BOX2D

from aann_env.tasks.mnist import cache_path


def pytest_configure(config: pytest.Config) -> None:
    """Share the cores between pytest-xdist workers: each worker's torch and numba get
    ``cores // workers`` threads (at least one), so two workers on two cores run two threads,
    not four that preempt each other. The search arithmetic is exact whatever the thread count,
    and a test that compares two trainings runs both in one worker."""
    from aann_env.memory import reuse_freed_memory

    reuse_freed_memory()  # as the aann command does (speed only)
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not workers:
        return
    import numba
    import torch

    threads = max(1, (os.cpu_count() or 1) // int(workers))
    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


ONE_WORKER = {
    "tests/agents/test_distributed.py": "one Ray cluster (a fixed temp dir, 2 CPUs)",
    "tests/agents/test_rl_agent.py": "a policy trained once",
    "tests/tasks/test_car.py": "a data set recorded once",
    "tests/envs/test_layer_team.py": "a car data set recorded once",
}
"""Modules whose tests run on one pytest-xdist worker (``--dist loadgroup``), and why: their
module fixtures are costly to build twice, or must not be built twice at once."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep each module of :data:`ONE_WORKER` on one worker; the other tests spread freely."""
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        if module in ONE_WORKER:
            item.add_marker(pytest.mark.xdist_group(module))


@pytest.fixture(scope="session")
def mnist_ready() -> None:
    """Skip (with the reason) where the real MNIST cache is absent; CI's set-up builds it."""
    path = cache_path()
    if not path.is_file():
        pytest.skip(f"real MNIST cache not found at {path}; run bash scripts/setup.sh")


@pytest.fixture(scope="session")
def small_car_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small recorded car data set as one cache file, to pass as ``data_dir=``.

    Ten frames from each of three tracks (one per split; ``CarDataConfig.small()``), recorded
    through the same code as the full data set in about a second, instead of the full recording
    (minutes) that ``AANN-CarRacing-v0`` makes on a machine without a car cache.
    """
    if not HAS_BOX2D:
        pytest.skip(BOX2D_MISSING)
    from aann_env.tasks.car.dataset import CarDataConfig, build_car

    folder = tmp_path_factory.mktemp("car")
    return str(build_car(CarDataConfig.small(), folder, progress=False))
