"""The quick commands stay quick: `--help`, `--version` and `validate` import nothing heavy.

Start-up time itself is measured by `bench/startup.py` (timings do not belong in tests); what can be
checked here is the cause of a slow start: a module-level import of the store, the engine, the
message renderer or the live view creeping back into the path of these commands, or Typer into the
path of `validate PLAN` and `--version`, which are answered before it (`cli/quick.py`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[2] / "examples" / "intelgraph-canary.yaml"

#: Imported by commands that run releases, never by the quick ones.
HEAVY = ("asyncio", "sqlalchemy", "alembic", "cryptography", "jinja2", "numpy", "scipy", "aiohttp", "httpx",
         "rich", "launchdeck.store.repo", "launchdeck.controller", "launchdeck.core.engine", "launchdeck.core.policy",
         "launchdeck.comms.render")

_PROBE = """
import contextlib, io, json, sys
from launchdeck.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def modules_after(*argv: str) -> tuple[int, set[str]]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, check=True, timeout=60)
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    return probe["code"], set(probe["modules"])


@pytest.mark.parametrize("argv", [("--help",), ("--version",), ("validate", str(EXAMPLE))],
                         ids=["help", "version", "validate"])
def test_quick_commands_import_nothing_heavy(argv: tuple[str, ...]) -> None:
    code, modules = modules_after(*argv)
    assert code == 0
    heavy = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == [], f"`launchdeck {' '.join(argv)}` imported {heavy}"


@pytest.mark.parametrize("argv", [("--version",), ("validate", str(EXAMPLE))], ids=["version", "validate"])
def test_validate_and_version_answer_before_typer_is_imported(argv: tuple[str, ...]) -> None:
    code, modules = modules_after(*argv)
    assert code == 0
    late = sorted(m for m in modules if m.split(".")[0] in ("typer", "click"))
    assert late == [], f"`launchdeck {' '.join(argv)}` imported {late}"


def test_validate_skips_pydantic_plugin_scan_when_plugins_are_off() -> None:
    # The plugin loader imports importlib.metadata (and email, zipfile...) even with plugins off.
    code, modules = modules_after("validate", str(EXAMPLE))
    assert code == 0
    assert "importlib.metadata" not in modules


def test_validate_keeps_pydantic_plugin_loader_when_user_turns_plugins_on() -> None:
    probe = [sys.executable, "-c", _PROBE, "validate", str(EXAMPLE)]
    env = {**os.environ, "PYDANTIC_DISABLE_PLUGINS": "0"}
    done = subprocess.run(probe, capture_output=True, text=True, check=True, timeout=60, env=env)
    modules = set(json.loads(done.stdout.strip().splitlines()[-1])["modules"])
    assert "pydantic.plugin._loader" in modules
    assert "importlib.metadata" in modules


def test_help_does_not_import_the_click_package() -> None:
    # Typer carries its own click (typer._click); the separate package is an annotation in cli/messages.py.
    code, modules = modules_after("--help")
    assert code == 0
    assert "click" not in modules
