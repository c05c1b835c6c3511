"""Fixtures shared by the task tests."""

from __future__ import annotations

import pytest

from aann_env.tasks.mnist.idx import ENV_DATA_DIR


@pytest.fixture(autouse=True)
def _no_mnist_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's AANN_MNIST_DIR from leaking into the tests."""
    monkeypatch.delenv(ENV_DATA_DIR, raising=False)
