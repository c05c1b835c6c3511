"""A search's snapshot: its current and best networks and a JSON-able state, and its file.

A snapshot is what a search checkpoint holds: the two networks (in the core's network format,
under the prefixes ``current`` and ``best``) and everything else needed to continue (the agent's
and the env's generator states, counters, the number of history rows), as one JSON string under
``state``, all in one ``.npz`` file. :meth:`aann_env.runs.directory.RunDirectory.save_snapshot`
writes it atomically with the two networks beside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from aann_env.core.network import TernaryNetwork
from aann_env.errors import CheckpointError

CHECKPOINT_SCHEMA = 1
"""The schema of a snapshot file; a file with another one is refused."""


@dataclass
class Snapshot:
    """A search as a checkpoint holds it.

    Attributes:
        current: The network the search stands on.
        best: The best network it has seen.
        state: Everything else it needs to continue (JSON-able).
    """

    current: TernaryNetwork
    best: TernaryNetwork
    state: dict[str, Any]

    def adopting(self, network: TernaryNetwork) -> Snapshot:
        """The same search continuing from ``network`` (a population's exploit): its generators,
        counters and best network stay its own."""
        return Snapshot(network.copy(), self.best, self.state)

    def write(self, fh: BinaryIO) -> None:
        """Write the snapshot file to ``fh``."""
        arrays = {**self.current.to_arrays("current"), **self.best.to_arrays("best")}
        meta = np.array(json.dumps({"schema": CHECKPOINT_SCHEMA, **self.state}))
        np.savez(fh, state=meta, **arrays)

    @classmethod
    def read(cls, path: Path) -> Snapshot:
        """Read a snapshot file.

        Raises:
            CheckpointError: The file is unreadable, malformed or of another schema.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                contents = {k: data[k] for k in data.files}
            state = json.loads(str(contents.pop("state")))
        except Exception as exc:  # OSError, ValueError, zipfile.BadZipFile and friends
            raise CheckpointError(
                f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc})"
            ) from exc
        if not isinstance(state, dict) or state.get("schema") != CHECKPOINT_SCHEMA:
            schema = state.get("schema") if isinstance(state, dict) else None
            raise CheckpointError(
                f"{path} has checkpoint schema {schema}; this aann reads {CHECKPOINT_SCHEMA}"
            )
        current = TernaryNetwork.from_arrays(contents, str(path), prefix="current")
        best = TernaryNetwork.from_arrays(contents, str(path), prefix="best")
        return cls(current, best, state)


__all__ = ["CHECKPOINT_SCHEMA", "Snapshot"]
