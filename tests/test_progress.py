"""Tests of aann_env.progress: bars stay quiet when stderr is not a terminal."""

from __future__ import annotations

import io
import sys

import pytest

from aann_env import progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("tty", [True, False])
def test_a_bar_redraws_rarely_in_a_log(monkeypatch: pytest.MonkeyPatch, tty: bool) -> None:
    monkeypatch.setattr(sys, "stderr", _Tty() if tty else io.StringIO())
    assert progress.interactive() is tty
    out = io.StringIO()
    bar = progress.progress_bar(total=200, file=out, mininterval=0.0, miniters=1)
    for i in range(200):
        bar.set_postfix(step=i)  # a postfix forces a redraw on a terminal only
        bar.set_description(f"d{i}")
        bar.update(1)
    bar.close()
    redraws = out.getvalue().count("\r")
    if tty:
        assert redraws > 100  # every update, as asked
    else:
        assert redraws <= 3  # the first draw, maybe one more, and the final one
