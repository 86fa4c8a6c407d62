"""The quick commands a user meets first: validate, schema, bad flags, unknown releases."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from launchdeck.store.repo import Store
from ld_integration import EXAMPLES, Launchdeck

pytestmark = pytest.mark.integration

PLANS = sorted(p for p in EXAMPLES.glob("*.yaml") if p.name != "media-gateway-approvals.yaml")


def test_examples_are_all_found() -> None:
    names = {p.name for p in PLANS}
    assert {"intelgraph-canary.yaml", "media-gateway-train.yaml"} <= names, names


# The plan format's own example watches p95 only against the stable version, which serves nothing at 100%.
WARNED = {"mc-platform-v034.yaml": "warning: at 100% the canary serves everyone and 'graphql-p95' compares it "
                                   "with a version that serves nothing"}


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.name)
def test_every_example_plan_validates(ld: Launchdeck, plan: Path) -> None:
    result = ld("validate", plan)
    assert result.returncode == 0, result.explain()
    assert "valid" in result.stdout, result.explain()
    if plan.name in WARNED:
        assert result.stderr.startswith(WARNED[plan.name]) and result.stderr.count("warning:") == 1, result.explain()
    else:
        assert result.stderr == "", result.explain()


THREE_MISTAKES = """\
apiVersion: launchdeck/v1
kind: Release
metadata: {name: three-mistakes, version: v2}
spec:
  roles:
    sre: [sam, lee]
  stages:
    - weight: 10%
      hold: 5 minutes
    - weight: 50%
      hold: 10m
      approve: [sre, qa-lead]
    - {weight: 100%, hold: 10m}
  gates:
    - {name: errors, metric: error_rate, op: ">=", threshold: 2%}
    - name: slow
      metric: latency_p95_msec
      op: ">"
      threshold: 300ms
"""


def test_three_mistakes_are_reported_at_once_with_their_lines(ld: Launchdeck) -> None:
    ld.write("three.yaml", THREE_MISTAKES)
    lines = THREE_MISTAKES.splitlines()
    expected = {
        lines.index("      hold: 5 minutes") + 1: "'5 minutes' is not a duration",
        lines.index("      approve: [sre, qa-lead]") + 1: "role 'qa-lead' is not defined",
        lines.index("      metric: latency_p95_msec") + 1: "metric 'latency_p95_msec' is not defined",
    }
    assert sorted(expected) == [9, 12, 17]
    result = ld("validate", "three.yaml")
    assert result.returncode == 2, result.explain()
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert "3 problems in the plan" in result.stderr, result.stderr
    located = re.findall(r"^three\.yaml:(\d+): (.*)$", result.stderr, re.MULTILINE)
    assert len(located) == 3, result.stderr
    found = {int(line): text for line, text in located}
    assert sorted(found) == sorted(expected), result.stderr
    for line, words in expected.items():
        assert words in found[line], (line, found[line])
    # each problem says what to write instead
    assert "did you mean 'latency_p95_ms'" in result.stderr
    assert "30s, 5m, 1h" in result.stderr
    assert result.stderr.count("fix:") == 3


def test_run_refuses_an_invalid_plan_before_starting_anything(ld: Launchdeck) -> None:
    ld.write("three.yaml", THREE_MISTAKES)
    result = ld("run", "three.yaml", "--time-scale", "60", "--output", "json")
    assert result.returncode == 2, result.explain()
    assert "3 problems in the plan" in result.stderr and "Traceback" not in result.stderr
    assert not (ld.cwd / "evidence").exists()


def test_yaml_syntax_error_is_located(ld: Launchdeck) -> None:
    text = """\
apiVersion: launchdeck/v1
kind: Release
metadata: {name: bad-indent, version: v2}
spec:
  stages:
    - {weight: 100%, hold: 1m}
  gates:
    - name: errors
      metric: error_rate
     op: ">="
      threshold: 5%
"""
    ld.write("syntax.yaml", text)
    result = ld("validate", "syntax.yaml")
    assert result.returncode == 2, result.explain()
    assert "Traceback" not in result.stderr
    assert re.search(r"^syntax\.yaml:10: not valid YAML", result.stderr, re.MULTILINE), result.stderr


def test_schema_is_json_schema(ld: Launchdeck) -> None:
    result = ld("schema")
    assert result.returncode == 0, result.explain()
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    text = json.dumps(schema)
    for field in ("apiVersion", "stages", "gates", "minRequests", "holdTimeout"):
        assert f'"{field}"' in text, field


@pytest.mark.parametrize("argv", [
    ("run", "plan.yaml", "--time-scal", "60"),
    ("run", "plan.yaml", "--time-scale", "fast"),
    ("validate",),
    ("kill", "some-release", "--as", "sam"),
    ("status", "x", "--what"),
], ids=["misspelt-flag", "bad-number", "missing-argument", "missing-option", "unknown-option"])
def test_wrong_usage_exits_2_without_traceback(ld: Launchdeck, argv: tuple[str, ...]) -> None:
    result = ld(*argv)
    assert result.returncode == 2, result.explain()
    assert "Traceback" not in result.stderr, result.explain()
    assert "Error:" in result.stderr and "--help" in result.stderr, result.explain()


def test_approve_needs_exactly_one_of_stage_or_decision(ld: Launchdeck) -> None:
    result = ld("approve", "some-release", "--role", "sre", "--as", "sam")
    assert result.returncode == 2, result.explain()
    assert re.search(r"exactly one of --stage N.* or --decision", result.stderr), result.explain()
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["status", "why", "approve", "audit"])
def test_unknown_release_exits_2_with_a_hint(ld: Launchdeck, command: str) -> None:
    argv = {"status": ("status", "no-such-release"), "why": ("why", "no-such-release"),
            "approve": ("approve", "no-such-release", "--role", "sre", "--as", "sam", "--stage", "1"),
            "audit": ("audit", "verify", "no-such-release")}[command]
    if ld.backend == "sqlite":  # a missing database is a missing file; a PostgreSQL schema always exists
        assert ld.db_url == f"sqlite:///{ld.cwd / 'launchdeck.db'}"
        no_database = ld(*argv)
        assert no_database.returncode == 2, no_database.explain()
        assert "no launchdeck database" in no_database.stderr and "Traceback" not in no_database.stderr
        assert not (ld.cwd / "launchdeck.db").exists()  # asking about a release never creates a database
    Store(ld.db_url).close()  # an empty store: launchdeck's tables, no release in them
    result = ld(*argv)
    assert result.returncode == 2, result.explain()
    assert "Traceback" not in result.stderr
    assert "no release named 'no-such-release'" in result.stderr
    assert "hint:" in result.stderr and "metadata.name" in result.stderr


def test_missing_plan_file_is_bad_input(ld: Launchdeck) -> None:
    result = ld("run", "nowhere.yaml", "--time-scale", "60")
    assert result.returncode == 2, result.explain()
    assert "nowhere.yaml" in result.stderr and "cannot read the plan" in result.stderr
    assert "Traceback" not in result.stderr
