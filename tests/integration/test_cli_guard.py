"""Guard rails per tenant through the CLI on the local fleet: a plan raising a locked p95 is refused with
both locations; an enforced pause holds a running release at its weight; a tier-2 tenant's rollback waits
for a person while a tier-3 tenant's does not; an override holds every release of the tenant."""

from __future__ import annotations

import pytest
from ld_integration import Launchdeck, bundle_statement, wait_for

pytestmark = pytest.mark.integration

PLAN = """
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: NAME, tenant: TENANT, version: v3, previousVersion: v2}
    spec:
      target:
        versions:
          stable: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
          canary: {errorRate: CANARY_ERRORS, latency: {median: 20ms, p95: 60ms}}
        load: {rps: 200, users: 1000}
      roles: {sre: [sam]}
      stages:
        - {weight: 25%, hold: 3m}
        - {weight: 100%, hold: 30s}
      analysis: {interval: 10s, window: 2m, minRequests: 20, holdTimeout: 1h}
      gates:
        - {name: error-rate, metric: error_rate, op: ">=", threshold: 10%, for: 20s, severity: immediate}
        - {name: p95, metric: latency_p95_ms, op: ">", threshold: P95, for: 1m, severity: immediate}
"""
POLICY = """
    apiVersion: launchdeck/v1
    kind: TenantPolicy
    metadata: {tenant: TENANT}
    spec:
      lockedSlos:
        - {name: p95, metric: latency_p95_ms, op: ">", threshold: 2000ms, for: 1m, severity: immediate}
      autonomy: {tier: TIER, approvers: [sre]}
"""
# A window is 2 s of wall time at --time-scale 60, ~100 canary requests at 25%: a loaded CI machine once
# stalled 1 s windows under minRequests three times running, and a release was held for thin data.
RUN = ("--time-scale", "60", "--output", "json", "--seed", "8")


def setup(ld: Launchdeck, tenant: str, *, tier: int = 3, name: str = "api-v3", errors: str = "0.1%",
          p95: str = "1500ms", hold: str = "3m") -> str:
    ld.write(f"{tenant}-policy.yaml", POLICY.replace("TENANT", tenant).replace("TIER", str(tier)))
    applied = ld("tenant", "apply", f"{tenant}-policy.yaml")
    assert applied.returncode == 0, applied.explain()
    plan = f"{name}.yaml"
    ld.write(plan, PLAN.replace("NAME", name).replace("TENANT", tenant).replace("CANARY_ERRORS", errors)
             .replace("P95", p95).replace("hold: 3m", f"hold: {hold}"))
    return plan


def test_a_plan_raising_a_locked_p95_is_refused_with_both_locations(ld: Launchdeck) -> None:
    plan = setup(ld, "mc", p95="2500ms")
    for args in (("validate", plan, "--db", ld.db_url), ("run", plan, *RUN)):
        refused = ld(*args)
        assert refused.returncode == 2, refused.explain()
        assert f"{plan}:17: spec.gates[1].threshold" in refused.stderr, refused.explain()
        assert "mc-policy.yaml:6" in refused.stderr and "threshold: 2000ms or lower" in refused.stderr
    assert ld.release("api-v3") is None  # nothing was recorded
    stricter = setup(ld, "mc", p95="1s")
    ok = ld("validate", stricter, "--db", ld.db_url)
    assert ok.returncode == 0 and "within tenant mc's guard rails (policy v1)" in ok.stdout, ok.explain()


@pytest.mark.alone  # like the override test below: an absolute p95 judged over half a minute of wall time
def test_an_enforced_pause_holds_a_running_release_at_its_weight(ld: Launchdeck) -> None:
    plan = setup(ld, "ig", hold="30m")
    run = ld.start("run", plan, *RUN)
    wait_for(lambda: "evaluation" in ld.kinds("api-v3"), timeout=60, what="stage 1 evaluated", alive=run)
    protected = ld("budget", "protect", "--tenant", "ig")
    assert protected.returncode == 0 and "pause in force" in protected.stdout, protected.explain()
    wait_for(lambda: "release.paused" in ld.kinds("api-v3"), timeout=30, what="the guard's pause", alive=run)
    wait_for(lambda: ld.release("api-v3")["plan_clock"] > 31 * 60, timeout=90, what="plan time past the hold", alive=run)
    assert "stage.passed" not in ld.kinds("api-v3") and ld.release("api-v3")["engine"]["weight"] == 25
    assert ld("budget", "protect", "--tenant", "ig", "--lift").returncode == 0
    result = run.wait()
    assert result.returncode == 0 and result.summary["outcome"] == "promoted", result.explain()
    kinds = ld.kinds("api-v3")
    assert kinds.index("release.paused") < kinds.index("release.resumed") < kinds.index("stage.passed")


def test_a_tier_2_rollback_waits_for_a_person_and_a_tier_3_one_does_not(ld: Launchdeck) -> None:
    alone = setup(ld, "t3", tier=3, name="alone-v3", errors="30%")
    result = ld("run", alone, *RUN)
    assert result.returncode == 3 and result.summary["outcome"] == "rolled_back", result.explain()
    predicate = bundle_statement(ld.cwd / result.summary["evidence"])["predicate"]
    assert predicate["tenantPolicy"]["tenant"] == "t3" and predicate["tenantPolicy"]["version"] == 1

    asks = setup(ld, "t2", tier=2, name="asks-v3", errors="30%")
    run = ld.start("run", asks, *RUN)
    wait_for(lambda: "decision.requested" in ld.kinds("asks-v3"), timeout=60, what="a question", alive=run)
    assert ld.release("asks-v3")["engine"]["phase"] == "deciding"
    assert "rollback.started" not in ld.kinds("asks-v3")
    decided = ld("approve", "asks-v3", "--role", "sre", "--as", "sam", "--decision", "rollback", "--reason", "bad")
    assert decided.returncode == 0, decided.explain()
    result = run.wait()
    assert result.returncode == 3 and result.summary["outcome"] == "rolled_back", result.explain()


@pytest.mark.alone  # two releases judge an absolute p95 for 45 s: CI's other worker once made both versions' 2.5 s
def test_an_override_holds_the_tenants_releases_until_it_ends(ld: Launchdeck) -> None:
    first = setup(ld, "ov", name="one-v3", hold="45m")
    second = setup(ld, "ov", name="two-v3", hold="45m")
    runs = [ld.start("run", first, *RUN), ld.start("run", second, *RUN)]
    for name, run in zip(("one-v3", "two-v3"), runs):  # running, with most of the first hold (45 s) ahead
        wait_for(lambda n=name: "stage.started" in ld.kinds(n), timeout=60, what=f"{name} started", alive=run)
    held = ld("autonomy", "override", "--tenant", "ov", "--duration", "1h", "--reason", "incident")
    assert held.returncode == 0 and "people can still act" in held.stdout, held.explain()
    for name, run in zip(("one-v3", "two-v3"), runs):
        wait_for(lambda n=name: "release.paused" in ld.kinds(n), timeout=30, what=f"{name} held", alive=run)
    status = ld("autonomy", "status", "--tenant", "ov", "--output", "json")
    assert "emergency override" in status.stdout, status.explain()
    assert ld("autonomy", "override", "--tenant", "ov", "--duration", "off").returncode == 0
    for run in runs:
        result = run.wait()
        assert result.summary["outcome"] == "promoted", result.explain()


GATED = """
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: NAME, tenant: TENANT, service: graphql, version: v3, previousVersion: v2}
    spec:
      target:
        versions:
          stable: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}, costPerRequest: 0.0010}
          canary: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}, costPerRequest: COST}
        load: {rps: 200, users: 1000}
      stages:
        - {weight: 25%, hold: 2m}
        - {weight: 100%, hold: 30s}
      analysis: {interval: 10s, window: 1m, minRequests: 20}
      gates:
        - {name: cost-delta, metric: cost_per_request, op: ">", threshold: +10%, vs: baseline, severity: immediate}
        - {name: error-budget, metric: error_budget_remaining, op: "<", threshold: 25%, severity: immediate}
"""
BUDGETED = """
    apiVersion: launchdeck/v1
    kind: TenantPolicy
    metadata: {tenant: TENANT}
    spec:
      errorBudgets: [{service: graphql, objective: 99.9%, window: 1h, file: FILE}]
"""


def _budgeted(ld: Launchdeck, tenant: str, bad_ratio: float) -> None:
    import json
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    counts = [{"at": (now - timedelta(minutes=m)).isoformat(), "total": 1000, "bad": 1000 * bad_ratio}
              for m in range(60)]
    (ld.cwd / f"{tenant}-requests.json").write_text(json.dumps(counts))
    ld.write(f"{tenant}.yaml", BUDGETED.replace("TENANT", tenant).replace("FILE", str(ld.cwd / f"{tenant}-requests.json")))
    assert ld("tenant", "apply", f"{tenant}.yaml").returncode == 0


def test_a_costlier_canary_fails_its_cost_delta_gate(ld: Launchdeck) -> None:
    _budgeted(ld, "cd", 0.0)
    ld.write("costly.yaml", GATED.replace("NAME", "costly-v3").replace("TENANT", "cd").replace("COST", "0.0013"))
    result = ld("run", "costly.yaml", *RUN)
    assert result.returncode == 3 and result.summary["firedGate"] == "cost-delta", result.explain()
    ld.write("same.yaml", GATED.replace("NAME", "same-v3").replace("TENANT", "cd").replace("COST", "0.00105"))
    result = ld("run", "same.yaml", *RUN)
    assert result.returncode == 0 and result.summary["outcome"] == "promoted", result.explain()


def test_an_error_budget_gate_fires_when_the_budget_is_spent_and_needs_the_policy(ld: Launchdeck) -> None:
    ld.write("nobudget.yaml", GATED.replace("NAME", "nb-v3").replace("TENANT", "none").replace("COST", "0.001"))
    refused = ld("run", "nobudget.yaml", *RUN)
    assert refused.returncode == 2 and "does not keep" in refused.stderr, refused.explain()
    _budgeted(ld, "eb", 0.0009)  # 90% of the hour's budget spent: 10% left, under 25%
    ld.write("spent.yaml", GATED.replace("NAME", "spent-v3").replace("TENANT", "eb").replace("COST", "0.001"))
    result = ld("run", "spent.yaml", *RUN)
    assert result.returncode == 3 and result.summary["firedGate"] == "error-budget", result.explain()


def test_autonomy_restore_lifts_a_capped_tier_with_a_reason(ld: Launchdeck) -> None:
    import json

    setup(ld, "rs", tier=3)
    bare = ld("autonomy", "restore", "--tenant", "rs")
    assert bare.returncode == 2 and "say why the tier is restored" in bare.stderr and "Traceback" not in bare.stderr
    capped = ld("autonomy", "restore", "--tenant", "rs", "--tier", "2", "--reason", "after the outage")
    assert capped.returncode == 0 and "tier 2 in force (policy 3)" in capped.stdout, capped.explain()
    restored = ld("autonomy", "restore", "--tenant", "rs", "--reason", "figures back", "--output", "json")
    assert restored.returncode == 0 and json.loads(restored.stdout)["tier"] == 3, restored.explain()
    status = json.loads(ld("autonomy", "status", "--tenant", "rs", "--output", "json").stdout)
    assert [(r["tenant"], r["tier"]) for r in status] == [("rs", 3)]
    unknown = ld("autonomy", "restore", "--tenant", "nobody", "--reason", "x")
    assert unknown.returncode == 2 and "has no TenantPolicy" in unknown.stderr, unknown.explain()
