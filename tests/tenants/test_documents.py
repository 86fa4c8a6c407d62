"""Tenant documents are read like plans: every problem at once, each with file:line and what to write."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from launchdeck.errors import PlanError
from launchdeck.tenants.documents import json_schema, load_file, load_text

TENANT = textwrap.dedent("""
    apiVersion: launchdeck/v1
    kind: Tenant
    metadata: {tenant: acme}
    spec:
      people:
        - {name: sam, email: sam@acme.example, slack: U01SAM, roles: [sre]}
        - {name: kim, slack: U01KIM}
      slack: {team: T01ACME, channels: [C01LAUNCH]}
""").lstrip()


def test_a_tenant_document_gives_its_people_and_workspace() -> None:
    d = load_text(TENANT, "acme.yaml")
    assert (d.kind, d.tenant, d.file) == ("Tenant", "acme", "acme.yaml")
    assert [(p.name, p.slack, p.roles) for p in d.doc.spec.people] == [("sam", "U01SAM", ["sre"]), ("kim", "U01KIM", [])]
    assert d.doc.spec.slack is not None and d.doc.spec.slack.team == "T01ACME"
    assert d.digest.startswith("sha256:") and d.line_of("spec", "people", 1) == 7


def test_every_problem_is_located_with_what_to_write() -> None:
    broken = TENANT.replace("slack: U01KIM", "slack: U01SAM").replace("email: sam@acme.example", "emial: x")
    with pytest.raises(PlanError) as e:
        load_text(broken, "acme.yaml")
    found = {(p.line, p.path): (p.message, p.fix) for p in e.value.problems}
    assert found[(6, "spec.people[0].emial")] == ("unknown field 'emial'", "did you mean 'email'?")
    assert "1 problem in the tenant document" in str(e.value)
    with pytest.raises(PlanError) as dup:
        load_text(TENANT.replace("slack: U01KIM", "slack: U01SAM"), "acme.yaml")
    assert [(p.line, p.message) for p in dup.value.problems] == [(7, "slack 'U01SAM' is given to two people")]


def test_a_document_of_an_unknown_kind_names_the_kinds_there_are() -> None:
    with pytest.raises(PlanError) as e:
        load_text(TENANT.replace("kind: Tenant", "kind: Release"), "x.yaml")
    (p,) = e.value.problems
    assert (p.line, p.message, p.fix) == (2, "kind 'Release' is not a tenant document", "write one of: Tenant, TenantPolicy")


def test_an_unreadable_or_empty_file_is_a_located_problem(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read the tenant document"):
        load_file(tmp_path / "missing.yaml")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(PlanError) as e:
        load_file(tmp_path / "empty.yaml")
    assert "kind: Tenant" in e.value.problems[0].fix


def test_the_schema_covers_both_kinds() -> None:
    schema = json_schema()
    kinds = {d["properties"]["kind"]["const"] for d in schema["$defs"].values() if "kind" in d.get("properties", {})}
    assert kinds == {"Tenant", "TenantPolicy"}
