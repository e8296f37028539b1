"""The import graph of irdata: every import (deferred ones too) points down.

Each top-level module or package of irdata sits on a floor; a module may import
only from its own package or from a lower floor, and no chain of modules imports
itself. A new package needs a floor here; an import that fails this test is an
arrow running back up: move the shared code down instead."""

from __future__ import annotations

import ast
import pathlib

import irdata

ROOT = pathlib.Path(irdata.__file__).parent
FLOORS = [
    {"errors", "keys", "tuning", "shards", "net", "quality", "degrade", "dedupe", "rows"},
    {"imaging", "settings_schema", "storage"},
    {"config", "patching"},
    {"inspection", "sources"},
    {"exclude"},
    {"stages"},
    {"build", "pairs"},
    {"audit", "demo", "train"},
    {"cli"},
    {"__main__"},
]
FLOOR = {unit: number for number, units in enumerate(FLOORS) for unit in units}


def module_name(path: pathlib.Path) -> str:
    parts = ("irdata",) + path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split(".")[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported(path: pathlib.Path) -> set[str]:
    """irdata modules imported anywhere in one file (a `from x import name` counts
    as x.name when that is a module)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if is_module(child) else base)
    return {m for m in found if m.startswith("irdata.") and is_module(m)}


def unit_of(module: str) -> str:
    return module.split(".")[1]


GRAPH = {module_name(p): imported(p) - {module_name(p)} for p in ROOT.rglob("*.py")}


def test_every_unit_has_a_floor():
    units = {unit_of(m) for m in GRAPH if m != "irdata"}
    assert units - FLOOR.keys() == set(), "give these packages a floor in FLOORS"
    assert FLOOR.keys() - units == set(), "FLOORS names packages that no longer exist"


def test_imports_point_down():
    upward = sorted(f"{source} -> {target}" for source, targets in GRAPH.items()
                    if source != "irdata" for target in targets
                    if unit_of(target) != unit_of(source)
                    and FLOOR[unit_of(target)] >= FLOOR[unit_of(source)])
    assert upward == []


def test_no_module_imports_itself_through_others():
    state: dict[str, str] = {}

    def visit(module: str, chain: tuple[str, ...]) -> None:
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", " -> ".join(chain + (module,))
        state[module] = "open"
        for target in sorted(GRAPH.get(module, ())):
            visit(target, chain + (module,))
        state[module] = "done"

    for module in sorted(GRAPH):
        visit(module, ())


def test_the_checker_sees_deferred_and_relative_imports():
    """Guards the guard: a deferred import inside a function and a relative import
    are both edges."""
    assert "irdata.build.runner" in GRAPH["irdata.cli.build"]  # deferred, in a handler
    assert "irdata.degrade.registry" in GRAPH["irdata.degrade.policy"]  # from . import
    assert "irdata.inspection" in GRAPH["irdata.build.warm"]
