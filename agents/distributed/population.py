"""Population search: chains that search side by side and copy the best one's network.

``N`` chains (:class:`agents.distributed.chain.Chain`) search one family with seeds ``seed``,
``seed + 1``, ... (chain 0 is the single search of ``seed`` until the first exploit). They run
in *segments*; after each, in the spirit of Ray Tune's population-based training, the best chain
by the validation accuracy of its current network gives that network to the worst
``exploit_fraction`` of the chains still searching (*exploit*), which go on with their own
generators, counters and best networks (*explore* comes from their own draws). A segment is
``exploit_seconds`` of each chain's own search time, or, for a deterministic population that
resumes exactly, ``exploit_evals`` evaluations (segment ``j`` ends at ``(j + 1) *
exploit_evals``).

Chains run in this process one after another, or with ``workers`` on Ray actors (chain ``i`` on
actor ``i % workers``), each actor building its own env from the task's data (so on a cluster
every node needs the data cache: ``python -m aann_env.tasks.mnist``). The driver is the only
writer of the run directory:

| file | content |
|---|---|
| ``config.json`` | the :class:`PopulationConfig` (the chains' search under ``"search"``) |
| ``chain-<i>/`` | chain ``i`` as a search run directory (:mod:`agents.run.search_run`): ``config.json``, ``history.csv``, ``best.npz``, ``current.npz``, ``checkpoint.npz``, ``summary.json`` |
| ``population.csv`` | one row per exploit (:data:`aann_env.runs.history.POPULATION_COLUMNS`) |
| ``best.npz`` | the best network of all chains (by validation accuracy) |
| ``checkpoint.json`` | the segment, the number of exploit rows and a serial number, written after the chains' checkpoints |
| ``summary.json`` | final figures, written when the run ends |

Checkpoints are taken after every segment: each chain's first (recording the serial number),
then the population's. A driver killed at any moment resumes (``--resume``) from the last
population checkpoint, taking from each chain the checkpoint with the same serial number (the
current one, or the previous one when the kill came between the two writes).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aann_env.errors import CheckpointError
from aann_env.progress import progress_bar
from aann_env.runs.directory import RunDirectory
from aann_env.runs.history import POPULATION_COLUMNS, CsvLog
from aann_env.runs.snapshot import Snapshot
from aann_env.tasks import get_task
from agents.distributed.chain import Chains, LocalChains, RayChains, SegmentReport
from agents.distributed.cluster import WorkerError
from agents.distributed.population_config import (
    DEFAULT_EXPLOIT_SECONDS,
    POPULATION_RESUMABLE,
    PopulationConfig,
    is_population,
)
from agents.run.config import RESUMABLE_FIELDS


def exploit_plan(
    val_accuracy: Sequence[float], active: Sequence[bool], fraction: float
) -> list[tuple[int, int]]:
    """(source, target) pairs of an exploit: the best chain's network goes to the worst
    ``fraction`` of the chains (at least one), among those still searching and worse than it.

    Ties go to the lower chain index (it ranks higher), so the plan is deterministic.
    """
    n = len(val_accuracy)
    order = sorted(range(n), key=lambda i: (-val_accuracy[i], i))  # best first
    source, count = order[0], max(1, int(fraction * n))
    worst = [i for i in reversed(order) if active[i] and i != source][:count]
    return [(source, t) for t in worst if val_accuracy[t] < val_accuracy[source]]


SegmentCallback = Callable[[int, list[SegmentReport]], bool]
"""Called after each segment's checkpoint with the next segment's index and the reports;
returning False stops the population (it can be resumed)."""


class PopulationRun:
    """A population search, recorded in ``out_dir`` (see the module docstring).

    Args:
        out_dir: The run directory.
        config: The configuration of a new run; with ``resume`` it may be given to change the
            budgets or the workers, but must otherwise match the stored one.
        resume: Continue the run in ``out_dir`` from its last checkpoint.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        config: PopulationConfig | None = None,
        resume: bool = False,
    ) -> None:
        self.dir = Path(out_dir)
        self.directory = RunDirectory(self.dir, ".json")
        self.resume = resume
        self.config = self.directory.configure(
            config,
            resume,
            PopulationConfig.from_dict,
            PopulationConfig.trajectory_fields,
            POPULATION_RESUMABLE,
        )
        if resume and config is not None:  # the budgets, as a search's resume takes them
            for name in RESUMABLE_FIELDS:
                setattr(self.config.search, name, getattr(config.search, name))
        self.chain_dirs = [RunDirectory(self.dir / f"chain-{i}") for i in range(self.config.size)]
        self.segment = 0
        """The segment the chains are in (or about to begin)."""
        self._serial = 0
        self._elapsed = 0.0
        self._started = time.perf_counter()

    def key(self) -> str:
        return json.dumps(self.config.trajectory_fields(), sort_keys=True)

    def _chains(self) -> Chains:
        cfg = self.config
        configs = [cfg.chain(i) for i in range(cfg.size)]
        if cfg.workers is None:
            return LocalChains(configs)
        return RayChains(configs, int(cfg.workers), cfg.ray_address)

    def _wall(self) -> float:
        return self._elapsed + time.perf_counter() - self._started

    def run(
        self, progress: bool = True, callback: SegmentCallback | None = None
    ) -> dict[str, Any] | None:
        """Run (or continue) the population until every chain's budget is spent; return the
        summary (also written to ``summary.json``), or None when the callback stopped it.

        Args:
            progress: Show a progress bar over segments.
            callback: See :data:`SegmentCallback`.

        Raises:
            RunLockedError: Another process is writing this run directory or one of its chains.
            WorkerError: A Ray actor was lost; the last segment's checkpoint stays resumable.
        """
        cfg = self.config
        with contextlib.ExitStack() as stack:
            stack.enter_context(self.directory.lock)
            for d in self.chain_dirs:
                stack.enter_context(d.lock)
            chains = self._chains()
            stack.callback(chains.close)
            columns = cfg.search.history_columns()
            logs = [d.log("history.csv", columns) for d in self.chain_dirs]
            exploits = self.directory.log("population.csv", POPULATION_COLUMNS)
            for log in (*logs, exploits):
                stack.callback(log.close)
            self._started = time.perf_counter()
            try:
                self._begin(chains, logs, exploits)
                finished = self._loop(chains, logs, exploits, progress, callback)
            except WorkerError as exc:
                raise WorkerError(
                    f"{exc}. {self.dir} holds the checkpoint of segment {self.segment}: resume "
                    f"with `aann search --out {self.dir} --resume`"
                ) from exc
            return self._summary(chains, exploits.rows) if finished else None

    # ------------------------------------------------------------------------ start and resume
    def _begin(self, chains: Chains, logs: list[CsvLog], exploits: CsvLog) -> None:
        """Start the chains (a new run) or put them back at the last checkpoint (a resume)."""
        cfg, n = self.config, self.config.size
        if not self.resume:
            self.directory.write_config(cfg.to_dict())
            rows = chains.call("start", [(i, ()) for i in range(n)])
            names = list(get_task(cfg.search.task).arch.layer_names)
            for i, (d, log, row) in enumerate(zip(self.chain_dirs, logs, rows, strict=True)):
                d.write_config({**asdict(cfg.chain(i)), "layer_names": names, "chain": i})
                log.create()
                log.append(row)
            exploits.create()
            self._checkpoint(chains.call("snapshot", [(i, ()) for i in range(n)]), logs, exploits)
            return
        state = self.directory.load_checkpoint(_read_json, self._accept)
        if state is None:
            raise CheckpointError(
                f"cannot resume {self.dir}: no usable checkpoint (checkpoint.json: missing). "
                "Start the run again in a new directory"
            )
        self.segment, self._serial = int(state["segment"]), int(state["serial"])
        self._elapsed = float(state["elapsed"])
        snaps = [self._chain_checkpoint(i) for i in range(n)]
        for log, snap in zip(logs, snaps, strict=True):
            log.resume(int(snap.state["history_rows"]))
        exploits.resume(int(state["exploit_rows"]))
        chains.call("restore", [(i, (s,)) for i, s in enumerate(snaps)])
        self._save_chains(snaps, logs)  # each chain's newest checkpoint is this serial's again

    def _accept(self, state: dict[str, Any]) -> str | None:
        return None if state.get("key") == self.key() else "belongs to another configuration"

    def _chain_checkpoint(self, index: int) -> Snapshot:
        """Chain ``index``'s checkpoint with the population checkpoint's serial number."""
        key = self.config.chain(index).trajectory_key()

        def accept(snapshot: Snapshot) -> str | None:
            state = snapshot.state
            if state.get("trajectory_key") != key:
                return "belongs to another configuration"
            if state.get("serial") != self._serial:
                return f"is checkpoint {state.get('serial')}, the population's is {self._serial}"
            return None

        found = self.chain_dirs[index].load_snapshot(accept)
        if found is None:
            raise CheckpointError(f"cannot resume {self.dir}: chain {index} has no checkpoint")
        return found

    # ----------------------------------------------------------------------------- segments
    def _loop(
        self,
        chains: Chains,
        logs: list[CsvLog],
        exploits: CsvLog,
        progress: bool,
        callback: SegmentCallback | None,
    ) -> bool:
        """Segments, exploits and checkpoints until every chain is done (True) or the callback
        says stop (False)."""
        cfg, everyone = self.config, range(self.config.size)
        bar = progress_bar(
            initial=self.segment, unit="segment", desc="population", disable=not progress
        )
        try:
            while True:
                segment = cfg.segment(self.segment)
                reports: list[SegmentReport] = chains.call(
                    "advance", [(i, (segment,)) for i in everyone]
                )
                for log, report in zip(logs, reports, strict=True):
                    for row in report.rows:
                        log.append(row)
                snaps: list[Snapshot] = chains.call("snapshot", [(i, ()) for i in everyone])
                active = [not r.done for r in reports]
                if any(active):
                    self._exploit(chains, reports, snaps, active, exploits)
                    self.segment += 1
                self._checkpoint(snaps, logs, exploits)
                bar.set_postfix(
                    best=f"{max(r.best_val_accuracy for r in reports):.4f}", refresh=False
                )
                bar.update(1)
                if not any(active):
                    return True
                if callback is not None and not callback(self.segment, reports):
                    return False
        finally:
            bar.close()

    def _exploit(
        self,
        chains: Chains,
        reports: list[SegmentReport],
        snaps: list[Snapshot],
        active: list[bool],
        exploits: CsvLog,
    ) -> None:
        """The worst chains take the best one's network (their snapshots change with them)."""
        val = [r.val_accuracy for r in reports]
        plan = exploit_plan(val, active, self.config.exploit_fraction)
        for source, target in plan:
            snaps[target] = snaps[target].adopting(snaps[source].current)
            exploits.append(
                [
                    self.segment,
                    source,
                    target,
                    repr(val[source]),
                    repr(val[target]),
                    reports[target].evals,
                    f"{self._wall():.3f}",
                ]
            )
        if plan:
            chains.call("restore", [(t, (snaps[t],)) for _, t in plan])

    # -------------------------------------------------------------------------- checkpoints
    def _save_chains(self, snaps: list[Snapshot], logs: list[CsvLog]) -> None:
        for i, (d, snap, log) in enumerate(zip(self.chain_dirs, snaps, logs, strict=True)):
            state = {
                **snap.state,
                "history_rows": log.rows,
                "trajectory_key": self.config.chain(i).trajectory_key(),
                "serial": self._serial,
            }
            d.save_snapshot(Snapshot(snap.current, snap.best, state))

    def _checkpoint(self, snaps: list[Snapshot], logs: list[CsvLog], exploits: CsvLog) -> None:
        """The chains' checkpoints, then the population's (the best network of all too)."""
        self._serial += 1
        self._save_chains(snaps, logs)
        best = _best_chain(snaps)
        snaps[best].best.save(self.dir / "best.npz")
        state = {
            "serial": self._serial,
            "segment": self.segment,
            "exploit_rows": exploits.rows,
            "elapsed": self._wall(),
            "key": self.key(),
        }
        text = json.dumps(state, indent=1).encode()
        self.directory.save_checkpoint(lambda fh: fh.write(text))

    def _summary(self, chains: Chains, exploit_rows: int) -> dict[str, Any]:
        """Write each chain's and the population's ``summary.json``; return the population's."""
        n = self.config.size
        chain_summaries = chains.call("summary", [(i, ()) for i in range(n)])
        for i, (d, s) in enumerate(zip(self.chain_dirs, chain_summaries, strict=True)):
            d.write_summary({**s, "best_path": str(d.path / "best.npz"), "chain": i})
        best = max(range(n), key=lambda i: (chain_summaries[i]["best_val_accuracy"], -i))
        summary = {
            "population": n,
            "segments": self.segment + 1,  # the last one ended the budgets
            "exploits": exploit_rows,
            "wall_time": self._wall(),
            "best_chain": best,
            "best_val_accuracy": chain_summaries[best]["best_val_accuracy"],
            "best_test_accuracy": chain_summaries[best]["best_test_accuracy"],
            "best_path": str(self.dir / "best.npz"),
            "chains": chain_summaries,
        }
        self.directory.write_summary(summary)
        return summary


def _best_chain(snaps: Sequence[Snapshot]) -> int:
    """The chain with the best network by validation accuracy (ties: the lower index)."""
    return max(range(len(snaps)), key=lambda i: (snaps[i].state["agent"]["best_accuracy"], -i))


def _read_json(path: Path) -> dict[str, Any]:
    """A population checkpoint; :class:`CheckpointError` if it cannot be read."""
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint ({exc})") from exc
    if not isinstance(state, dict) or "serial" not in state:
        raise CheckpointError(f"{path} is not a population checkpoint")
    return state


__all__ = [
    "DEFAULT_EXPLOIT_SECONDS",
    "POPULATION_RESUMABLE",
    "PopulationConfig",
    "PopulationRun",
    "exploit_plan",
    "is_population",
]
