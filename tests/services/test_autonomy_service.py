"""Autonomy through its service: the tier in force, a compensation rate over target dropping one tier
(recorded, an alert for the tenant's admins), and what a release's tick is asked to respect."""

from __future__ import annotations

from launchdeck.core.policy import DecisionPolicy, Policy, Stage
from launchdeck.services import autonomy, tenants
from launchdeck.store import guard as stored
from launchdeck.store.repo import Store

POLICY = """apiVersion: launchdeck/v1
kind: TenantPolicy
metadata: {tenant: mc}
spec:
  autonomy: {tier: 3, safety: {minSuccess: 99%, maxCompensation: 0.5%}}
"""


def finish(store: Store, n: int, outcome: str, start: int = 0) -> None:
    for i in range(start, start + n):
        r = store.create(tenant="mc", name=f"r{i}", plan_path="p.yaml", plan_digest="sha256:0", state={"engine": {}})
        store.save(release_id=r.id, state={"engine": {}}, plan_clock=1.0, outcome=outcome, decisions=[], messages=[])


def test_compensation_over_half_a_percent_drops_a_tier_3_tenant_to_tier_2(store: Store) -> None:
    tenants.apply_documents(store, [(POLICY, "mc.yaml")], by="root")
    finish(store, 199, "promoted")
    finish(store, 1, "rolled_back", start=199)
    within = autonomy.check_safety(store, tenant="mc")
    assert within.tier == 3 and within.dropped is None  # exactly 0.5%: within
    finish(store, 1, "rolled_back", start=200)
    report = autonomy.check_safety(store, tenant="mc")
    assert report.tier == 2 and report.dropped and "compensation 1.00% over 24h" in report.dropped
    assert stored.state(store, tenant="mc").tier == 2
    assert [a.kind for a in stored.alerts(store, tenant="mc")] == ["autonomy"]
    assert autonomy.check_safety(store, tenant="mc").tier == 1  # still breaching at the next check: one more down


def test_runtime_for_each_tier() -> None:
    policy = Policy(stages=(Stage(10, 60), Stage(100, 60)), roles={"sre": frozenset({"sam"})},
                    urgent=DecisionPolicy(60, ("lead",), "rollback"))
    three = autonomy.Runtime(3, None, False, person_acts=False, stage_signoff=False)
    assert three.policy(policy) is policy
    two = autonomy.Runtime(2, None, False, person_acts=True, stage_signoff=False).policy(policy)
    assert two.rollback_authority == ("lead",) and two.stages == policy.stages
    one = autonomy.Runtime(1, None, False, person_acts=True, stage_signoff=True, approvers=("sre",)).policy(policy)
    assert one.rollback_authority == ("sre",) and all(s.approve == ("sre",) for s in one.stages)


def test_an_override_holds_and_makes_rollbacks_wait(store: Store) -> None:
    tenants.apply_documents(store, [(POLICY, "mc.yaml")], by="root")
    autonomy.override(store, tenant="mc", duration="1h", who="dana", reason="incident")
    rt = autonomy.runtime(store, "mc")
    assert rt is not None and rt.person_acts and "emergency override by dana" in (rt.hold or "")
    autonomy.override(store, tenant="mc", duration="off", who="dana")
    rt = autonomy.runtime(store, "mc")
    assert rt is not None and rt.hold is None and not rt.person_acts


def test_isolation_finds_a_release_driven_from_another_tenants_plan(store: Store) -> None:
    tenants.apply_documents(store, [(POLICY, "mc.yaml")], by="root")
    ok = store.create(tenant="mc", name="ours", plan_path="p.yaml", plan_digest="sha256:0", state={"engine": {}})
    store.submit(release_id=ok.id, submitted_by="kim", plan_text="metadata:\n  tenant: mc\n")
    assert autonomy.check_safety(store, tenant="mc").isolation == ()
    stray = store.create(tenant="mc", name="theirs", plan_path="p.yaml", plan_digest="sha256:0", state={"engine": {}})
    store.submit(release_id=stray.id, submitted_by="kim", plan_text="metadata:\n  tenant: ig\n")
    assert autonomy.check_safety(store, tenant="mc").isolation == (
        "release theirs belongs to mc but its plan names tenant ig",)
