"""Ray for aann: the optional import, the connection, waiting on actors, and the errors.

Ray is the ``distributed`` extra (``pip install 'aann[distributed]'``). It is imported only inside
these functions, so ``import agents`` and every single-process search work without it.

A distributed search connects once per process (:func:`connect`): to the Ray instance this
process already started (tests do that), to a running cluster (``address``: ``"auto"``,
``"HOST:6379"`` or ``"ray://HOST:10001"``; ``ray start --head`` starts one), or else to a new
local instance. Every wait on an actor goes through :func:`gather`, which turns a dead actor, a
failed call and a timeout into one :class:`WorkerError`, so a search never hangs on a lost worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from aann_env.errors import AANNError
from agents.run.scorer import ScorerError

INSTALL_HINT = "pip install 'aann[distributed]'"
"""How to install Ray for aann."""


class RayUnavailableError(AANNError):
    """Ray is not installed, or the Ray cluster asked for cannot be reached."""


class WorkerError(ScorerError):
    """A Ray actor of a distributed search died, failed or stopped answering (a
    :class:`~agents.run.scorer.ScorerError`: a search run checkpoints its last completed step)."""


def require_ray(what: str = "--workers") -> ModuleType:
    """The ``ray`` module.

    Args:
        what: What needs Ray, for the error message.

    Raises:
        RayUnavailableError: Ray is not installed (the message says how to install it).
    """
    try:
        import ray
    except ImportError:
        raise RayUnavailableError(
            f"{what} needs Ray, which is not installed: {INSTALL_HINT}"
        ) from None
    return ray


def connect(address: str | None, num_cpus: int, what: str = "--workers") -> ModuleType:
    """Ray, initialised: the instance this process already runs, the cluster at ``address``, or
    a new local instance with at least ``num_cpus`` CPUs.

    A new local instance reports no usage statistics (unless ``RAY_USAGE_STATS_ENABLED`` says
    otherwise) and runs no dashboard: nothing leaves the machine.

    Args:
        address: A running cluster's address (``"auto"``, ``"HOST:6379"``, ``"ray://HOST:10001"``);
            None: a local instance.
        num_cpus: CPUs the search's actors need (one each); a local instance gets at least as
            many, so that no actor waits for a CPU that will never come free.
        what: What needs Ray, for the error messages.

    Raises:
        RayUnavailableError: Ray is not installed, or the cluster cannot be reached.
    """
    ray = require_ray(what)
    if ray.is_initialized():
        return ray
    quiet = {"logging_level": logging.WARNING, "configure_logging": True}
    try:
        if address is None:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            cpus = max(int(num_cpus), os.cpu_count() or 1)
            ray.init(num_cpus=cpus, include_dashboard=False, **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        where = "a local Ray instance" if address is None else f"the Ray cluster at {address!r}"
        raise RayUnavailableError(
            f"cannot start or reach {where} ({type(exc).__name__}: {exc}); start a cluster with "
            "`ray start --head` and pass its address with --ray-address"
        ) from exc
    return ray


def gather(refs: Sequence[Any], timeout: float | None, what: str) -> list[Any]:
    """The results of Ray calls, or one :class:`WorkerError` for whatever went wrong.

    Args:
        refs: Object references returned by actor method calls.
        timeout: Seconds to wait for all of them (None: as long as it takes; a dead actor still
            fails at once).
        what: What the calls were doing, for the message.

    Raises:
        WorkerError: An actor died (killed, out of memory, its node lost), a call raised, or no
            answer came within ``timeout``.
    """
    ray = require_ray()
    if not refs:
        return []
    try:
        return list(ray.get(list(refs), timeout=timeout))
    except ray.exceptions.GetTimeoutError:
        raise WorkerError(f"{what}: no answer from the Ray actors within {timeout:.0f} s") from None
    except ray.exceptions.RayActorError as exc:
        raise WorkerError(f"{what}: a Ray actor died ({_first_line(exc)})") from exc
    except ray.exceptions.RayError as exc:
        raise WorkerError(
            f"{what}: a Ray actor failed ({type(exc).__name__}: {_first_line(exc)})"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def kill(actors: Sequence[Any]) -> None:
    """End actors at once (their processes exit; calls still queued fail)."""
    if not actors:
        return
    ray = require_ray()
    for actor in actors:
        with contextlib.suppress(Exception):  # already dead, or the cluster is gone
            ray.kill(actor)


__all__ = [
    "INSTALL_HINT",
    "RayUnavailableError",
    "WorkerError",
    "connect",
    "gather",
    "kill",
    "require_ray",
]
