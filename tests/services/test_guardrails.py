"""A plan against its tenant's guard rails: refused with both locations and what is allowed."""

from __future__ import annotations

import pytest

from launchdeck.errors import PlanError
from launchdeck.plan import load_plan_text, to_policy
from launchdeck.services import guardrails, tenants
from launchdeck.store.repo import Store

POLICY = """apiVersion: launchdeck/v1
kind: TenantPolicy
metadata: {tenant: mc}
spec:
  lockedSlos:
    - {name: graphql-p95, metric: latency_p95_ms, op: ">", threshold: 350ms, for: 5m, severity: urgent}
  limits: {maxFirstStep: 25%, minHold: 1m}
"""
PLAN = """apiVersion: launchdeck/v1
kind: Release
metadata: {name: mc-v1, tenant: mc, service: api, version: v1}
spec:
  roles: {sre: [sam]}
  rollback: {policy: {urgent: {window: 10m, authority: [sre], default: rollback}}}
  stages:
    - {weight: 10%, hold: 5m}
    - {weight: 100%, hold: 5m}
  gates:
    - {name: errors, metric: error_rate, op: ">=", threshold: 2%}
    - {name: graphql-p95, metric: latency_p95_ms, op: ">", threshold: THRESHOLD, for: 5m, severity: urgent}
"""


@pytest.fixture
def applied(store: Store) -> Store:
    tenants.apply_documents(store, [(POLICY, "policies/mc.yaml")], by="root")
    return store


def test_a_raised_locked_p95_is_refused_with_both_locations(applied: Store) -> None:
    plan = load_plan_text(PLAN.replace("THRESHOLD", "400ms"), "plans/mc.yaml")
    with pytest.raises(PlanError) as e:
        guardrails.require_within(applied, plan, "mc")
    [problem] = e.value.problems
    assert (problem.file, problem.line, problem.path) == ("plans/mc.yaml", 12, "spec.gates[1].threshold")
    assert "policies/mc.yaml:6" in problem.message and "v1" in problem.message
    assert problem.fix.startswith("threshold: 350ms or lower")


def test_a_stricter_plan_passes_and_names_the_policy_version(applied: Store) -> None:
    plan = load_plan_text(PLAN.replace("THRESHOLD", "300ms"), "plans/mc.yaml")
    rails = guardrails.require_within(applied, plan, "mc")
    assert rails is not None and rails.version == 1


def test_a_plan_without_the_locked_gate_is_refused_but_a_release_carries_it(applied: Store) -> None:
    text = "\n".join(line for line in PLAN.splitlines() if "graphql-p95" not in line) + "\n"
    plan = load_plan_text(text, "plans/mc.yaml")
    with pytest.raises(PlanError) as e:
        guardrails.require_within(applied, plan, "mc")
    assert e.value.problems[0].path == "spec.gates"
    rails = guardrails.rails_of(applied, "mc")
    carried = to_policy(guardrails.with_locked(plan.doc.spec, rails)).gates  # type: ignore[union-attr]
    assert [g.name for g in carried] == ["errors", "graphql-p95"]


def test_limits_first_step_is_refused(applied: Store) -> None:
    plan = load_plan_text(PLAN.replace("THRESHOLD", "300ms").replace("weight: 10%", "weight: 50%"), "p.yaml")
    with pytest.raises(PlanError) as e:
        guardrails.require_within(applied, plan, "mc")
    assert [(p.line, p.path) for p in e.value.problems] == [(8, "spec.stages[0].weight")]


def test_a_tenant_without_policy_has_no_rails(store: Store) -> None:
    plan = load_plan_text(PLAN.replace("THRESHOLD", "900ms"), "p.yaml")
    assert guardrails.require_within(store, plan, "mc") is None


def test_a_tier_2_tenant_needs_someone_in_its_approver_role(store: Store) -> None:
    tenants.apply_documents(store, [(POLICY.replace("  limits: {maxFirstStep: 25%, minHold: 1m}\n",
                                                    "  autonomy: {tier: 2, approvers: [release-manager]}\n"),
                                     "policies/mc.yaml")], by="root")
    plan = load_plan_text(PLAN.replace("THRESHOLD", "300ms"), "plans/mc.yaml")
    with pytest.raises(PlanError) as e:
        guardrails.require_within(store, plan, "mc")
    [problem] = e.value.problems
    assert problem.path == "spec.roles" and problem.line == 5 and "release-manager" in problem.message
    ok = load_plan_text(PLAN.replace("THRESHOLD", "300ms").replace("roles: {sre: [sam]}",
                                                                   "roles: {sre: [sam], release-manager: [dana]}"), "p.yaml")
    assert guardrails.require_within(store, ok, "mc") is not None
