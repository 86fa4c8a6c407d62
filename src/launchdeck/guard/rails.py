"""Is a plan within its tenant's guard rails? Locked SLO gates and plan limits compared with a plan.

A locked gate may be made stricter by a plan, never looser: a higher threshold (for ``>``/``>=``
gates; lower for ``<``/``<=``), a longer ``for``, a weaker severity, or the gate left out are each a
:class:`Violation` naming what the policy allows. Limits bound the plan's shape: the largest first
step, the shortest hold, roles that must sign off, the regions and the residency a release may use.
"""

from __future__ import annotations

from dataclasses import dataclass

from launchdeck.core.policy import Gate, Stage

SEVERITY_STRENGTH = {"immediate": 3, "urgent": 2, "conditional": 1}
"""How hard a gate acts when it fires: immediate rolls back at once, conditional only asks."""


@dataclass(frozen=True)
class Violation:
    """One way a plan bends a rail. ``plan_path`` / ``policy_path`` are dotted paths the edge turns
    into ``file:line`` (``spec.gates[2].threshold``, ``spec.lockedSlos[0].threshold``)."""

    rule: str
    message: str
    allowed: str
    plan_path: str
    policy_path: str


@dataclass(frozen=True)
class LockedGate:
    """A gate the tenant's policy locks, and where the policy states it."""

    gate: Gate
    policy_path: str


@dataclass(frozen=True)
class PlanLimits:
    """A tenant's limits on plans; None means no limit."""

    max_first_step: float | None = None
    """Largest weight (percent) of the first stage."""
    min_hold: float | None = None
    """Shortest hold (plan seconds) of any stage."""
    required_roles: tuple[str, ...] = ()
    """Roles that must sign off at least one stage."""
    allowed_regions: tuple[str, ...] = ()
    allowed_residency: tuple[str, ...] = ()
    policy_path: str = "spec.limits"


@dataclass(frozen=True)
class PlanShape:
    """What of a plan the rails look at, already compiled."""

    stages: tuple[Stage, ...]
    gates: tuple[Gate, ...]
    region: str | None = None
    """``metadata.labels.region``."""
    residency_region: str | None = None
    """``spec.preflight.supplyChain.residency.region``."""
    residency_stores: tuple[tuple[str, str], ...] = ()


def _looser_threshold(op: str, plan: float, locked: float) -> bool:
    return plan > locked if op in (">", ">=") else plan < locked


def _op_looser(plan_op: str, locked_op: str) -> bool:
    # ">" fires on fewer values than ">=" at the same threshold: looser.
    return (locked_op, plan_op) in ((">=", ">"), ("<=", "<"))


def compare_gate(plan: Gate, index: int, locked: LockedGate) -> list[Violation]:
    """How ``plan`` (the plan's gate of the same name, at ``spec.gates[index]``) loosens ``locked``."""
    lock = locked.gate
    where = f"spec.gates[{index}]"
    found: list[Violation] = []
    if plan.metric != lock.metric or plan.test == "event" or lock.test == "event":
        if plan.metric != lock.metric:
            found.append(Violation("locked-slo-metric", f"gate {plan.name!r} watches {plan.metric}, but the tenant "
                                   f"locks it on {lock.metric}", f"metric: {lock.metric}", f"{where}.metric",
                                   f"{locked.policy_path}.metric"))
        return found
    same_side = (plan.op in (">", ">=")) == (lock.op in (">", ">="))
    if not same_side or _op_looser(plan.op, lock.op):
        found.append(Violation("locked-slo-op", f"gate {plan.name!r} fires on {plan.op}, looser than the locked {lock.op}",
                               f"op: \"{lock.op}\"", f"{where}.op", f"{locked.policy_path}.op"))
    if plan.relative != lock.relative:
        found.append(Violation("locked-slo-threshold", f"gate {plan.name!r} has threshold {plan.threshold_text}, "
                               f"but the tenant locks {lock.threshold_text} (a different kind of limit)",
                               f"threshold: {lock.threshold_text} or stricter", f"{where}.threshold",
                               f"{locked.policy_path}.threshold"))
    elif same_side and _looser_threshold(lock.op, plan.threshold, lock.threshold):
        better = "lower" if lock.op in (">", ">=") else "higher"
        found.append(Violation("locked-slo-threshold", f"gate {plan.name!r} raises the locked threshold "
                               f"{lock.threshold_text} to {plan.threshold_text}" if better == "lower" else
                               f"gate {plan.name!r} lowers the locked threshold {lock.threshold_text} to "
                               f"{plan.threshold_text}", f"threshold: {lock.threshold_text} or {better}",
                               f"{where}.threshold", f"{locked.policy_path}.threshold"))
    lock_for = lock.for_seconds or 0.0
    plan_for = plan.for_seconds or 0.0
    if plan_for > lock_for:
        found.append(Violation("locked-slo-for", f"gate {plan.name!r} waits for: {plan_for:g}s before firing, longer "
                               f"than the locked {lock_for:g}s", f"for: {lock_for:g}s or shorter",
                               f"{where}.for", f"{locked.policy_path}.for"))
    if SEVERITY_STRENGTH[plan.severity] < SEVERITY_STRENGTH[lock.severity]:
        found.append(Violation("locked-slo-severity", f"gate {plan.name!r} is {plan.severity}, weaker than the "
                               f"locked {lock.severity}", f"severity: {lock.severity}"
                               + (" or immediate" if lock.severity != "immediate" else ""),
                               f"{where}.severity", f"{locked.policy_path}.severity"))
    return found


def check_locked_gates(plan_gates: tuple[Gate, ...], locked: tuple[LockedGate, ...]) -> list[Violation]:
    """Every locked gate is in the plan (by name) and no looser. A plan without the gate is refused:
    removing a locked SLO is the loosest change of all (the edge may instead merge it in; see
    :func:`merged_gates`)."""
    found: list[Violation] = []
    by_name = {gate.name: (i, gate) for i, gate in enumerate(plan_gates)}
    for lock in locked:
        if lock.gate.name not in by_name:
            found.append(Violation("locked-slo-removed", f"the tenant locks gate {lock.gate.name!r} and the plan "
                                   "leaves it out", f"keep gate {lock.gate.name!r} ({lock.gate.metric} "
                                   f"{lock.gate.op} {lock.gate.threshold_text}) or a stricter one",
                                   "spec.gates", lock.policy_path))
            continue
        index, gate = by_name[lock.gate.name]
        found += compare_gate(gate, index, lock)
    return found


def merged_gates(plan_gates: tuple[Gate, ...], locked: tuple[LockedGate, ...]) -> tuple[Gate, ...]:
    """The gates a release carries: the plan's, plus every locked gate the plan does not name (a plan
    that names one keeps its own, which :func:`check_locked_gates` has found no looser)."""
    names = {gate.name for gate in plan_gates}
    return plan_gates + tuple(lock.gate for lock in locked if lock.gate.name not in names)


def check_limits(plan: PlanShape, limits: PlanLimits) -> list[Violation]:
    found: list[Violation] = []
    where = limits.policy_path
    if limits.max_first_step is not None and plan.stages and plan.stages[0].weight > limits.max_first_step:
        found.append(Violation("limit-first-step", f"the first stage sends {plan.stages[0].weight:g}% to the canary, "
                               f"more than the tenant's {limits.max_first_step:g}%",
                               f"weight: {limits.max_first_step:g}% or less", "spec.stages[0].weight",
                               f"{where}.maxFirstStep"))
    if limits.min_hold is not None:
        for i, stage in enumerate(plan.stages):
            if stage.hold < limits.min_hold:
                found.append(Violation("limit-hold", f"stage {i + 1} holds {stage.hold:g}s, shorter than the tenant's "
                                       f"{limits.min_hold:g}s", f"hold: {limits.min_hold:g}s or longer",
                                       f"spec.stages[{i}].hold", f"{where}.minHold"))
    approving = {role for stage in plan.stages for role in stage.approve}
    for role in limits.required_roles:
        if role not in approving:
            found.append(Violation("limit-required-role", f"no stage needs a sign-off from {role!r}, which the "
                                   "tenant requires", f"approve: [{role}] on at least one stage", "spec.stages",
                                   f"{where}.requiredRoles"))
    if limits.allowed_regions and plan.region not in limits.allowed_regions:
        shown = plan.region or "no region"
        found.append(Violation("limit-region", f"the release names {shown}, outside the tenant's regions",
                               f"metadata.labels.region: one of {', '.join(limits.allowed_regions)}",
                               "metadata.labels.region" if plan.region else "metadata",
                               f"{where}.allowedRegions"))
    if limits.allowed_residency:
        if plan.residency_region is None:
            found.append(Violation("limit-residency", "the plan declares no data residency, which the tenant requires",
                                   f"preflight.supplyChain.residency with region in {', '.join(limits.allowed_residency)}",
                                   "spec", f"{where}.residency"))
        else:
            places = [("region", plan.residency_region)] + [(f"dataStores.{k}", v) for k, v in plan.residency_stores]
            for key, region in places:
                if region not in limits.allowed_residency:
                    found.append(Violation("limit-residency", f"residency {key} is {region}, outside the tenant's "
                                           "residency", f"one of {', '.join(limits.allowed_residency)}",
                                           f"spec.preflight.supplyChain.residency.{key}", f"{where}.residency"))
    return found
