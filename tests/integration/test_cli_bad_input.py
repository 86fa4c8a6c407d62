"""Bad input through the real CLI: exit 2, one clear message with a hint, never a traceback.

Covers the inputs that once took the machine down or crashed (a billion laughs, /dev/zero, deep
nesting, an oversized plan, `sample-app --port 99999`) and the exit codes the README promises for
a `--db` that cannot be opened, a missing bundle and a key path already taken. Time and memory of
the worst of them are measured by `bench/bounded_input.py`, not here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from ld_integration import EXAMPLES, Launchdeck, Result

pytestmark = pytest.mark.integration

LAUGHS = "\n".join(["lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                   + [f"lol{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]) + "\n"


def assert_bad_input(result: Result, *needles: str) -> None:
    assert result.returncode == 2, result.explain()
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.explain()
    for needle in needles:
        assert needle in result.stderr, result.explain()


def bad_plan(ld: Launchdeck, kind: str) -> str:
    """The path of a plan of the given kind, made in the test's directory."""
    if kind == "billion-laughs":
        ld.write("laughs.yaml", LAUGHS)
    elif kind == "deep-nesting":
        ld.write("deep.yaml", "spec: " + "[" * 100_000 + "]" * 100_000 + "\n")
    elif kind == "oversized":
        (ld.cwd / "big.yaml").write_bytes(b"# padding\n" * 150_000)
    elif kind == "fifo":
        os.mkfifo(ld.cwd / "pipe.yaml")
    return {"billion-laughs": "laughs.yaml", "deep-nesting": "deep.yaml", "oversized": "big.yaml",
            "dev-zero": "/dev/zero", "fifo": "pipe.yaml"}[kind]


@pytest.mark.parametrize(("kind", "message", "fix"), [
    ("billion-laughs", "laughs.yaml:5: more than 20,000 values with aliases expanded", "aliases"),
    ("deep-nesting", "deep.yaml:1: nested more than 64 levels deep", "indentation"),
    ("oversized", "big.yaml: the plan is 1,500,000 bytes, over the limit of 1,000,000", "LAUNCHDECK_MAX_PLAN_BYTES"),
    ("dev-zero", "/dev/zero: the plan is not a regular file", "check the path"),
    ("fifo", "pipe.yaml: the plan is not a regular file", "check the path"),
])
def test_a_plan_past_the_limits_is_refused_by_validate(ld: Launchdeck, kind: str, message: str, fix: str) -> None:
    result = ld("validate", bad_plan(ld, kind), timeout=30)
    assert_bad_input(result, message, "fix:", fix)


def test_run_refuses_a_billion_laughs_before_anything_starts(ld: Launchdeck) -> None:
    result = ld("run", bad_plan(ld, "billion-laughs"), "--time-scale", "60", timeout=30)
    assert_bad_input(result, "more than 20,000 values with aliases expanded")
    assert not (ld.cwd / "keys").exists() and not (ld.cwd / "evidence").exists()


def test_run_refuses_an_approvals_file_that_is_not_a_file(ld: Launchdeck) -> None:
    result = ld("run", EXAMPLES / "intelgraph-canary.yaml", "--approvals", "/dev/zero", "--time-scale", "60", timeout=60)
    assert_bad_input(result, "/dev/zero: the approvals file is not a regular file", "hint:")


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_sample_app_refuses_a_port_out_of_range(ld: Launchdeck, port: str) -> None:
    result = ld("sample-app", "--port", port, "--version", "v1", timeout=30)
    assert_bad_input(result, "Invalid value for '--port'")


def test_version_prints_the_installed_version(ld: Launchdeck) -> None:
    result = ld("--version")
    assert result.returncode == 0, result.explain()
    assert re.fullmatch(r"launchdeck \d+\.\d+\.\d+\S*\n", result.stdout), result.explain()


@pytest.mark.parametrize("url", ["nonsense://x", "not a url", "postgresql+psycopg://launchdeck@127.0.0.1:1/nowhere"],
                         ids=["unknown-scheme", "not-a-url", "nothing-listening"])
def test_a_database_url_that_cannot_be_opened_is_bad_input(ld: Launchdeck, url: str) -> None:
    result = ld("why", "some-release", "--db", url, timeout=60)
    assert_bad_input(result, "cannot open the database", "hint:", "--db")


def test_run_with_a_database_url_that_cannot_be_opened_is_bad_input(ld: Launchdeck) -> None:
    result = ld("run", EXAMPLES / "intelgraph-canary.yaml", "--db", "nonsense://x", "--time-scale", "60", timeout=60)
    assert_bad_input(result, "cannot open the database nonsense://x", "hint:")


def test_verifying_a_missing_bundle_is_bad_input(ld: Launchdeck) -> None:
    result = ld("evidence", "verify", "missing.bundle.json")
    assert_bad_input(result, "missing.bundle.json: file not found", "hint: check the path")


def test_generating_a_key_over_an_existing_file_is_bad_input_and_keeps_the_file(ld: Launchdeck) -> None:
    existing = ld.write("signing.key", "not to be lost\n")
    result = ld("keys", "generate", "signing.key")
    assert_bad_input(result, "refusing to overwrite existing key file signing.key", "hint:")
    assert existing.read_text() == "not to be lost\n"
    assert not Path(f"{existing}.pub").exists()
