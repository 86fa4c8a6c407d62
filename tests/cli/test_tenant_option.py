"""Commands about a release name it; names are unique per tenant only, so when two tenants have a release of
that name the CLI says which tenants and takes `--tenant` (or LAUNCHDECK_TENANT) to choose."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from launchdeck.store.repo import Store

ENGINE = {"phase": "stage", "stage": 0, "weight": 20.0, "gates": {}, "reason": "", "stages_passed": 0}


@pytest.fixture
def two_tenants(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'launchdeck.db'}"
    with Store(url) as store:
        for tenant, weight in (("acme", 20.0), ("globex", 50.0)):
            store.create(tenant=tenant, name="pay", plan_path="pay.yaml", plan_digest="sha256:" + "ab" * 32,
                         state={"engine": {**ENGINE, "weight": weight}, "timeScale": 1})
    return url


def launchdeck(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "launchdeck", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, check=False)


@pytest.mark.parametrize("command", ["status", "why", "messages list", "audit verify", "checklist"])
def test_a_name_two_tenants_use_is_refused_with_the_tenants(two_tenants: str, command: str) -> None:
    done = launchdeck(*command.split(), "pay", "--db", two_tenants)
    assert done.returncode == 2, done.stderr
    assert "release 'pay' exists in 2 tenants: acme, globex" in done.stderr
    assert "--tenant" in done.stderr and "Traceback" not in done.stderr


def test_tenant_option_picks_that_tenants_release(two_tenants: str) -> None:
    done = launchdeck("status", "pay", "--db", two_tenants, "--tenant", "globex", "--output", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["weight"] == 50.0


def test_tenant_from_the_environment(two_tenants: str) -> None:
    done = launchdeck("status", "pay", "--db", two_tenants, "--output", "json", env={"LAUNCHDECK_TENANT": "acme"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["weight"] == 20.0


def test_list_for_one_tenant(two_tenants: str) -> None:
    done = launchdeck("list", "--db", two_tenants, "--tenant", "acme", "--output", "json")
    assert [(r["name"], r["tenant"]) for r in json.loads(done.stdout)] == [("pay", "acme")]
