"""The repository holds sources, not what runs leave behind (charts, stores, bundles, message logs)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
GENERATED = (".png", ".db", ".db-wal", ".db-shm", ".jsonl", ".bundle.json", ".key", ".pub", ".log")


def _git(*args: str) -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return [line for line in done.stdout.splitlines() if line]


def test_no_tracked_file_is_one_gitignore_calls_generated() -> None:
    tracked_but_ignored = _git("ls-files", "--cached", "--ignored", "--exclude-standard")
    assert not tracked_but_ignored, (
        "these tracked files match .gitignore (output of a run?): " + ", ".join(tracked_but_ignored)
        + "; remove them with `git rm --cached FILE`")


def test_no_generated_artefact_is_tracked_at_the_root() -> None:
    at_root = [name for name in _git("ls-files") if "/" not in name]
    generated = [name for name in at_root if name.endswith(GENERATED)]
    assert not generated, (
        "generated files are tracked at the repository root: " + ", ".join(generated)
        + "; `git rm --cached` them and write such output under out/ (ignored)")
