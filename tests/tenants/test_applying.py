"""Applying tenant documents: checked all before any is kept, one version per distinct text, per tenant."""

from __future__ import annotations

import pytest

from launchdeck.errors import PlanError, Refused
from launchdeck.services import tenants
from launchdeck.store.repo import Store

PEOPLE = """apiVersion: launchdeck/v1
kind: Tenant
metadata: {tenant: TENANT}
spec:
  people: [{name: sam, slack: U01SAM}]
"""
POLICY = "apiVersion: launchdeck/v1\nkind: TenantPolicy\nmetadata: {tenant: TENANT}\n"


def docs(tenant: str = "acme", people: str = PEOPLE) -> list[tuple[str, str]]:
    return [(people.replace("TENANT", tenant), "people.yaml"), (POLICY.replace("TENANT", tenant), "policy.yaml")]


def test_each_kind_gets_a_new_version_only_when_its_text_changes(store: Store) -> None:
    first = tenants.apply_documents(store, docs(), by="sam")
    assert [(a.stored.kind, a.stored.version, a.new) for a in first] == [("Tenant", 1, True), ("TenantPolicy", 1, True)]
    again = tenants.apply_documents(store, docs(people=PEOPLE.replace("U01SAM", "U01SAM2")), by="kim")
    assert [(a.stored.kind, a.stored.version, a.new) for a in again] == [("Tenant", 2, True), ("TenantPolicy", 1, False)]
    now = tenants.current(store, tenant="acme", kind="Tenant")
    assert now is not None and now.version == 2 and now.applied_by == "kim"
    assert now.document.doc.spec.people[0].slack == "U01SAM2"
    assert tenants.current(store, tenant="globex", kind="Tenant") is None


def test_a_batch_with_one_bad_document_keeps_none(store: Store) -> None:
    bad = [docs()[0], (POLICY.replace("TENANT", "acme") + "spec: {nonsense: 1}\n", "policy.yaml")]
    with pytest.raises(PlanError) as e:
        tenants.apply_documents(store, bad, by="sam")
    assert [(p.file, p.line) for p in e.value.problems] == [("policy.yaml", 4)]
    assert tenants.documents(store) == []


def test_an_admin_applies_only_their_own_tenants_documents(store: Store) -> None:
    with pytest.raises(Refused, match="tenant globex's Tenant, not your tenant acme's"):
        tenants.apply_documents(store, docs("globex"), by="sam", tenant="acme")
    assert tenants.documents(store) == []
    tenants.apply_documents(store, docs("globex"), by="gus", tenant="globex")
    tenants.apply_documents(store, docs("acme"), by="root")
    assert {(d.tenant, d.kind) for d in tenants.documents(store, tenant="acme")} == {("acme", "Tenant"),
                                                                                      ("acme", "TenantPolicy")}
