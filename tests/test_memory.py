"""aann_env.memory: the allocator setting the aann command starts with."""

from __future__ import annotations

import sys

import pytest

from aann_env.memory import reuse_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_memory_is_kept_unless_told_not_to(monkeypatch: pytest.MonkeyPatch) -> None:
    assert reuse_freed_memory() is True
    monkeypatch.setenv("AANN_DEFAULT_MALLOC", "1")
    assert reuse_freed_memory() is False
