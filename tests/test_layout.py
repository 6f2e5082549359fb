"""The library's shape: packages follow the data's path and import only downwards.

Issue 11 asks that a newcomer can find a concept's code from its notebook in one step
and that data flows down the packages without climbing back. These tests keep it so:
every import of a sibling package points to an earlier stage, no module reaches into
another module's private names, and no module grows past about 500 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "guneamp_lib"
# The stages, in the order the data passes them; a module may import its own stage and
# the ones before it. Top-level modules are the shared basics (stage 0), except those named.
STAGES = ["dsp", "capture", "models", "render", "training", "study", "course", "cli"]
TOP_LEVEL_STAGE = {"jobs": "study", "launch": "cli"}
MAX_LINES = 500


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _stage(rel_parts: tuple[str, ...]) -> int:
    head = rel_parts[0].removesuffix(".py")
    if head in STAGES:
        return STAGES.index(head) + 1
    if head in TOP_LEVEL_STAGE:
        return STAGES.index(TOP_LEVEL_STAGE[head]) + 1
    return 0


def _imports(path: Path):
    """(target module parts, imported names) for every guneamp_lib import in ``path``."""
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    package = rel[:-1] if rel[-1] != "__init__" else rel[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - (node.level - 1)]) if node.level > 1 else list(package)
                target = tuple(base + (node.module.split(".") if node.module else []))
            elif node.module and node.module.startswith("guneamp_lib"):
                target = tuple(node.module.split(".")[1:])
            else:
                continue
            yield target, [a.name for a in node.names]


def test_packages_import_only_earlier_stages():
    upward = []
    for path in _modules():
        rel = path.relative_to(PACKAGE).parts
        here = _stage(rel)
        for target, names in _imports(path):
            parts = target if target else tuple(names[:1])
            if not parts:
                continue
            there = _stage(parts)
            if there > here:
                upward.append(f"{'/'.join(rel)} imports {'.'.join(target) or names}")
    assert not upward, "imports that climb back up the pipeline:\n" + "\n".join(upward)


def test_no_module_imports_another_modules_private_names():
    private = []
    for path in _modules():
        for target, names in _imports(path):
            private += [f"{path.relative_to(PACKAGE)}: {'.'.join(target)}.{n}" for n in names
                        if n.startswith("_") and not n.startswith("__")]
    assert not private, "\n".join(private)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_short(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {n} lines; split it along an idea"


def test_at_least_four_stage_packages():
    assert sum((PACKAGE / s / "__init__.py").exists() for s in STAGES) >= 4


def _module_name(parts: tuple[str, ...]) -> str | None:
    """The module a dotted target names: ``a/b.py`` or the package ``a/b/__init__.py``."""
    if (PACKAGE.joinpath(*parts).with_suffix(".py")).exists():
        return ".".join(parts)
    if (PACKAGE.joinpath(*parts, "__init__.py")).exists():
        return ".".join(parts + ("__init__",))
    return None


def _import_graph() -> dict[str, set[str]]:
    """Module -> the library modules it imports, at the top or inside a function alike.

    ``from pkg import name`` counts as an import of ``pkg.name`` where that is a module,
    else of the package's ``__init__``.
    """
    graph = {}
    for path in _modules():
        here = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        edges = set()
        for target, names in _imports(path):
            for name in names:
                sub = _module_name(target + (name,))
                found = sub or _module_name(target)
                if found and found != here:
                    edges.add(found)
        graph[here] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle for each strongly connected group of two or more modules (Tarjan)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def test_cycle_finder_finds_a_circle_and_only_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_import_graph_sees_imports_inside_functions():
    graph = _import_graph()
    # cli/course.py imports the runner only inside cmd_course (torch loads after the checks)
    assert "course.runner" in graph["cli.course"]


def test_no_import_circle_between_modules():
    circles = _cycles(_import_graph())
    assert not circles, "modules that import each other, directly or around a circle (move what they share " \
                        "into a lower module):\n" + "\n".join(" <-> ".join(c) for c in circles)
