"""The house rules of the layout, checked on the source: imports only go downward, no import
cycles, modules and functions of a readable size, and no private member used across modules."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("aann_env", "agents")

LAYERS: dict[str, int] = {
    "aann_env.errors": 0,
    "aann_env.atomic": 0,
    "aann_env.progress": 0,
    "aann_env.core": 1,
    "aann_env.evaluation": 2,
    "aann_env.tasks": 2,
    "aann_env.runs": 2,
    "aann_env.nets": 3,
    "aann_env.envs": 4,
    "aann_env.training": 4,
    "aann_env.analysis": 4,
    "aann_env.viz": 5,
    "aann_env": 6,  # the package facade: registration and re-exports
    "agents.budget": 7,
    "agents.base": 8,  # the search loop and the callback hooks it calls
    "agents.callbacks": 9,
    "agents.registry": 9,  # agent names -> string entry points
    "agents.sense": 10,
    "agents.random_search": 10,
    "agents.annealing": 10,
    "agents.presets": 10,
    "agents.rl": 11,
    "agents.run": 12,  # config -> session -> run: the one run lifecycle
    "agents.distributed": 13,
    "agents": 14,  # the package facade: re-exports
    "agents.cli": 15,
}
"""Each part of the code and its layer: a module may import from its own part and from parts of
lower layers only (siblings of one layer do not import each other)."""

MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 300
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _part(module: str) -> str:
    """The longest entry of LAYERS that ``module`` lies in."""
    best = ""
    for name in LAYERS:
        if (module == name or module.startswith(name + ".")) and len(name) > len(best):
            best = name
    assert best, f"{module} lies in no part of LAYERS; add its package there"
    return best


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool, type_only: bool = True) -> Iterator[str]:
    """Project modules imported anywhere in ``tree``: function bodies too, and ``if
    TYPE_CHECKING:`` blocks unless ``type_only`` is False (a type-only import is still a
    dependency: a cycle through one is a cycle)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node) and not type_only:
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name:
                yield name


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        graph[module] = set(_imports(tree, module, path.name == "__init__.py")) - {module}
    return graph


GRAPH = _graph()


def test_the_library_never_imports_the_agents() -> None:
    bad = sorted(
        f"{m} imports {t}"
        for m, targets in GRAPH.items()
        if m.startswith("aann_env")
        for t in targets
        if t.split(".")[0] == "agents"
    )
    assert not bad, bad


def test_imports_only_go_downward() -> None:
    bad = []
    for module, targets in GRAPH.items():
        own = _part(module)
        for target in targets:
            other = _part(target)
            if other != own and LAYERS[other] >= LAYERS[own]:
                bad.append(f"{module} ({own}, layer {LAYERS[own]}) imports {target} ({other})")
    assert not bad, "\n".join(sorted(bad))


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycle = path[path.index(target) :] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_modules_and_functions_stay_readable() -> None:
    bad = []
    for module, path in MODULES.items():
        source = path.read_text()
        lines = source.count("\n")
        if lines > MAX_MODULE_LINES:
            bad.append(f"{module}: {lines} lines (split it where a reader would)")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_CLASS_LINES:
                    bad.append(f"{module}.{node.name}: a class of {length} lines")
                continue
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            decorators = ast.unparse(node.decorator_list) if node.decorator_list else ""
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES and "njit" not in decorators:
                bad.append(f"{module}.{node.name}: {length} lines")
    assert not bad, "\n".join(bad)


def test_no_private_member_is_used_across_modules() -> None:
    """``x._name`` only on ``self``/``cls`` (or another instance inside its own class's module),
    and no ``from m import _name`` from another module. Type hints are not uses."""
    bad = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        own = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef | ast.FunctionDef)} | {
            t.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        defined_attrs = {
            t.attr
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign | ast.AnnAssign)
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            if isinstance(t, ast.Attribute)
        }
        hints = set()  # type hints may name a library's private type (argparse's subparsers)
        for node in ast.walk(tree):
            notes = []
            if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
                notes.append(node.annotation)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
                notes.append(node.returns)
            hints |= {id(n) for note in notes for n in ast.walk(note)}
        for node in ast.walk(tree):
            if id(node) in hints:
                continue
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        bad.append(f"{module}: from {node.module} import {alias.name}")
            if not isinstance(node, ast.Attribute):
                continue
            attr = node.attr
            if not attr.startswith("_") or attr.startswith("__"):
                continue
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("self", "cls", *own):
                continue
            if attr in defined_attrs or attr in own:  # this module's own class, another instance
                continue
            bad.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
    assert not bad, "\n".join(bad)


def test_the_checker_sees_imports_in_functions_and_type_checking_blocks() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from agents.base import SearchAgent\n"
        "def f():\n    from agents.sense import SENSE\n"
        "from . import network\n"
    )
    tree = ast.parse(source)
    found = set(_imports(tree, "aann_env.core.forward", False))
    assert found == {"agents.sense", "agents.base", "aann_env.core.network"}
    found = set(_imports(tree, "aann_env.core.forward", False, type_only=False))
    assert found == {"agents.sense", "aann_env.core.network"}
