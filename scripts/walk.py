"""Trace the walk of `aann search`'s arguments from the CLI to the search loop and a checkpoint.

Runs a tiny search in this process under ``sys.setprofile`` and follows every call from one of
the project's modules into another (module bodies, i.e. imports, left out) in two phases: from
the CLI until the search loop starts (``Search.advance``: the config settled, the run, session,
agent, env, core and evaluators built), and one checkpoint (``SearchRun.checkpoint``).
It prints the rooms (modules) in the order the walk first enters them, how often each is
entered (from another module, while it is not already on the call stack: a return to a room
already left), and every call that climbs back up the layers of ``tests/test_layout.py``
(a lower layer calling a higher one). Imports only go down, so such a call can only run code
that was handed down: a registered class, a writer callable, a subclass hook; the search loop's
callback hooks are listed apart.

    .venv/bin/python scripts/walk.py
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HOOKS = {"on_step", "on_training_start", "on_training_end", "_on_step", "update_locals"}


def _layout() -> Any:
    spec = importlib.util.spec_from_file_location("layout", ROOT / "tests" / "test_layout.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _module(frame: FrameType) -> str | None:
    name = frame.f_globals.get("__name__", "")
    return name if name.split(".")[0] in ("aann_env", "agents") else None


def main() -> None:
    layout = _layout()
    from agents.cli import main as cli
    from agents.run.search_run import SearchRun
    from agents.run.session import Search

    order: list[str] = []
    entries: Counter[str] = Counter()
    climbs: list[tuple[str, str, str]] = []
    hooks: Counter[tuple[str, str]] = Counter()
    stack: list[str | None] = []
    phase = "build"  # -> "loop" (not traced) -> "checkpoint" -> "done"

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal phase
        code = frame.f_code
        if event == "call" and code is Search.advance.__code__:
            phase = "loop"
        elif event == "call" and code is SearchRun.checkpoint.__code__ and phase == "loop":
            phase, stack[:] = "checkpoint", []
        elif event == "return" and code is SearchRun.checkpoint.__code__ and phase == "checkpoint":
            phase = "done"
        if phase in ("loop", "done") or event not in ("call", "return"):
            return
        if event == "return":
            if stack:
                stack.pop()
            return
        module = _module(frame) if code.co_name != "<module>" else None
        caller = next((m for m in reversed(stack) if m is not None), None)
        stack.append(module)
        if module is None or module == caller:
            return
        if module not in stack[:-1]:
            entries[module] += 1
            if module not in order:
                order.append(module)
        if caller is None:
            return
        up = LAYER(module) > LAYER(caller)
        if up and frame.f_code.co_name in HOOKS:
            hooks[(caller, module)] += 1
        elif up:
            climbs.append((caller, module, frame.f_code.co_name))

    def LAYER(module: str) -> int:
        return layout.LAYERS[layout._part(module)]

    with tempfile.TemporaryDirectory() as tmp:
        args = ["search", "--budget-evals", "64", "--eval-size", "200", "--selection-size", "200"]
        args += ["--no-progress", "--no-plot", "--out", f"{tmp}/run"]
        sys.setprofile(profile)
        try:
            cli(args)
        finally:
            sys.setprofile(None)

    print("rooms in the order first entered (entries):")
    for module in order:
        print(f"  {LAYER(module):>2}  {module:<40} {entries[module]}")
    again = {m: n - 1 for m, n in entries.items() if n > 1}
    print(f"returns to a room already left: {sum(again.values())}")
    for module, n in sorted(again.items(), key=lambda kv: -kv[1]):
        print(f"  {module:<40} {n}")
    print(f"climbs back up (not a callback hook): {len(climbs)}")
    for caller, module, name in climbs:
        print(f"  {caller} -> {module}.{name}")
    print(f"callback hooks (the loop calling the run's callbacks): {sum(hooks.values())}")
    for (caller, module), n in hooks.items():
        print(f"  {caller} -> {module}: {n}")


if __name__ == "__main__":
    main()
