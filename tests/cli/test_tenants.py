"""`launchdeck tenant apply FILE…` and `tenant show`, locally and through a server; `schema tenant`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PEOPLE = "apiVersion: launchdeck/v1\nkind: Tenant\nmetadata: {tenant: acme}\nspec:\n  people: [{name: sam, slack: U01SAM}]\n"
POLICY = "apiVersion: launchdeck/v1\nkind: TenantPolicy\nmetadata: {tenant: acme}\n"


def launchdeck(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "LAUNCHDECK_DB": f"sqlite:///{cwd / 'launchdeck.db'}", **env}
    return subprocess.run([sys.executable, "-m", "launchdeck", *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=60)


def test_apply_keeps_versions_and_show_lists_the_newest(tmp_path: Path) -> None:
    (tmp_path / "people.yaml").write_text(PEOPLE)
    (tmp_path / "policy.yaml").write_text(POLICY)
    first = launchdeck(tmp_path, "tenant", "apply", "people.yaml", "policy.yaml")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ["tenant acme: Tenant version 1, from people.yaml",
                                         "tenant acme: TenantPolicy version 1, from policy.yaml"]
    (tmp_path / "people.yaml").write_text(PEOPLE.replace("U01SAM", "U02SAM"))
    second = launchdeck(tmp_path, "tenant", "apply", "people.yaml", "policy.yaml")
    assert "Tenant version 2" in second.stdout and "TenantPolicy unchanged (version 1)" in second.stdout
    shown = json.loads(launchdeck(tmp_path, "tenant", "show", "--output", "json").stdout)
    assert [(d["kind"], d["version"]) for d in shown] == [("Tenant", 2), ("TenantPolicy", 1)]
    assert "U02SAM" in shown[0]["text"]


def test_a_broken_document_names_its_line_and_nothing_is_kept(tmp_path: Path) -> None:
    (tmp_path / "people.yaml").write_text(PEOPLE)
    (tmp_path / "policy.yaml").write_text(POLICY.replace("kind: TenantPolicy", "kind: TenantPolicyy"))
    refused = launchdeck(tmp_path, "tenant", "apply", "people.yaml", "policy.yaml")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "policy.yaml:2: kind: kind 'TenantPolicyy' is not a tenant document" in refused.stderr, refused.stderr
    assert "no tenant documents yet" in launchdeck(tmp_path, "tenant", "show").stdout


def test_the_schema_of_tenant_documents(tmp_path: Path) -> None:
    printed = launchdeck(tmp_path, "schema", "tenant")
    assert printed.returncode == 0 and json.loads(printed.stdout)["title"] == "launchdeck tenant document"
