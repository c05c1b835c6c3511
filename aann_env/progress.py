"""Progress bars that stay quiet in logs.

On a terminal a bar redraws a few times a second. Written to a file or a pipe (a CI log, ``nohup
aann search ... > run.log``) every redraw would be one more carriage-return update in the log, so
there the bar redraws at most once every :data:`LOG_INTERVAL_S` seconds.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm

LOG_INTERVAL_S = 60.0
"""Seconds between redraws when stderr is not a terminal."""


def interactive() -> bool:
    """Whether stderr (where the bars go) is a terminal."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


class _LogBar(tqdm):
    """A bar for logs: new postfixes and descriptions wait for the next timed redraw."""

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **kwargs: Any) -> None:
        super().set_postfix(ordered_dict, refresh=False, **kwargs)

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        super().set_description(desc, refresh=False)


def progress_bar(iterable: Any = None, **kwargs: Any) -> tqdm:
    """A tqdm bar: as ``tqdm(iterable, **kwargs)`` on a terminal, rare redraws in a log."""
    if interactive():
        return tqdm(iterable, **kwargs)
    kwargs["mininterval"] = max(float(kwargs.get("mininterval", 0.1)), LOG_INTERVAL_S)
    kwargs["maxinterval"] = max(float(kwargs.get("maxinterval", 10.0)), LOG_INTERVAL_S)
    kwargs.pop("dynamic_ncols", None)
    return _LogBar(iterable, **kwargs)
