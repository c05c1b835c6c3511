from __future__ import annotations

import pytest

from aann_env.tasks.mnist import cache_path


@pytest.fixture(scope="session")
def mnist_ready() -> None:
    """Skip (with the reason) where the real MNIST cache is absent; CI's set-up builds it."""
    path = cache_path()
    if not path.is_file():
        pytest.skip(f"real MNIST cache not found at {path}; run bash scripts/setup.sh")
