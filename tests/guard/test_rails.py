from launchdeck.core.policy import Gate, Stage
from launchdeck.guard.rails import (
    LockedGate,
    PlanLimits,
    PlanShape,
    check_limits,
    check_locked_gates,
    merged_gates,
)

P95 = Gate("graphql-p95", "latency_p95_ms", ">", 350.0, "350ms", for_seconds=300.0, severity="urgent")
LOCK = (LockedGate(P95, "spec.lockedSlos[0]"),)


def with_(**changes: object) -> Gate:
    fields = {"name": P95.name, "metric": P95.metric, "op": P95.op, "threshold": P95.threshold,
              "threshold_text": P95.threshold_text, "for_seconds": P95.for_seconds, "severity": P95.severity}
    fields.update(changes)
    return Gate(**fields)  # type: ignore[arg-type]


def rules(gate: Gate) -> list[str]:
    return [v.rule for v in check_locked_gates((Gate("err", "error_rate", ">=", 0.02, "2%"), gate), LOCK)]


def test_raised_threshold_is_refused_with_both_paths_and_what_is_allowed() -> None:
    [found] = check_locked_gates((with_(threshold=400.0, threshold_text="400ms"),), LOCK)
    assert found.rule == "locked-slo-threshold"
    assert found.plan_path == "spec.gates[0].threshold" and found.policy_path == "spec.lockedSlos[0].threshold"
    assert "350ms or lower" in found.allowed


def test_stricter_everything_is_allowed() -> None:
    assert rules(with_(threshold=300.0, threshold_text="300ms", for_seconds=60.0, severity="immediate",
                       op=">=")) == []


def test_longer_for_weaker_severity_and_looser_op_are_each_refused() -> None:
    assert rules(with_(for_seconds=600.0)) == ["locked-slo-for"]
    assert rules(with_(severity="conditional")) == ["locked-slo-severity"]
    lock_ge = (LockedGate(with_(op=">="), "spec.lockedSlos[0]"),)
    assert [v.rule for v in check_locked_gates((with_(op=">"),), lock_ge)] == ["locked-slo-op"]


def test_removed_gate_is_refused_and_merging_puts_it_back() -> None:
    plan = (Gate("err", "error_rate", ">=", 0.02, "2%"),)
    assert [v.rule for v in check_locked_gates(plan, LOCK)] == ["locked-slo-removed"]
    assert [g.name for g in merged_gates(plan, LOCK)] == ["err", "graphql-p95"]


def test_lower_bound_gate_is_looser_when_lowered() -> None:
    avail = Gate("avail", "availability", "<", 0.999, "99.9%")
    lock = (LockedGate(avail, "spec.lockedSlos[1]"),)
    low = Gate("avail", "availability", "<", 0.99, "99%")
    assert [v.rule for v in check_locked_gates((low,), lock)] == ["locked-slo-threshold"]
    assert check_locked_gates((Gate("avail", "availability", "<", 0.9995, "99.95%"),), lock) == []


def test_limits_first_step_hold_roles_region_residency() -> None:
    shape = PlanShape(stages=(Stage(25.0, 60.0, ("qa",)), Stage(100.0, 600.0)), gates=(), region="eu-west-1",
                      residency_region="eu-west-1", residency_stores=(("db", "us-east-1"),))
    limits = PlanLimits(max_first_step=10.0, min_hold=300.0, required_roles=("sre",), allowed_regions=("us-west-2",),
                        allowed_residency=("eu-west-1",))
    found = check_limits(shape, limits)
    assert [v.rule for v in found] == ["limit-first-step", "limit-hold", "limit-required-role", "limit-region",
                                       "limit-residency"]
    assert found[0].plan_path == "spec.stages[0].weight" and found[1].plan_path == "spec.stages[0].hold"
    assert found[4].plan_path == "spec.preflight.supplyChain.residency.dataStores.db"


def test_plan_within_limits_passes() -> None:
    shape = PlanShape(stages=(Stage(5.0, 600.0, ("sre",)),), gates=(), region="us-west-2")
    assert check_limits(shape, PlanLimits(max_first_step=10.0, min_hold=300.0, required_roles=("sre",),
                                          allowed_regions=("us-west-2",))) == []
