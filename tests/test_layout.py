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
