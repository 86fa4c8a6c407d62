"""Arrows point inward: the pure core (`core/`, `runbook/`, `guard/`) imports nothing else from launchdeck."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "launchdeck"
PURE = ("core", "runbook", "guard")
ALLOWED = tuple(f"launchdeck.{p}" for p in PURE)
FORBIDDEN_STDLIB = ("asyncio", "socket", "subprocess", "time", "random", "sqlalchemy", "httpx", "aiohttp")


def imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("module", sorted(p for pkg in PURE for p in (SRC / pkg).glob("*.py")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_pure_modules_import_only_the_pure_core(module: Path) -> None:
    names = imports(module)
    outside = [n for n in names if n.startswith("launchdeck") and not n.startswith(ALLOWED)]
    assert outside == [], f"{module.name} imports {outside}"
    effects = [n for n in names if n.split(".")[0] in FORBIDDEN_STDLIB]
    assert effects == [], f"{module.name} imports clocks or I/O: {effects}"
