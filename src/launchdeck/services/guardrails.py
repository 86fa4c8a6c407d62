"""A plan against its tenant's guard rails: refused when it loosens a locked SLO or breaks a limit, with
the plan's ``file:line``, the policy's ``file:line`` and what is allowed; and the locked SLOs merged
into what every release of the tenant carries.

`launchdeck validate --db`, `launchdeck run`, the API's plan validation and release start, and workers
(the gates a release carries) all go through here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from launchdeck.errors import PlanError, PlanProblem
from launchdeck.guard import rails
from launchdeck.plan import LoadedPlan, limits, model, to_policy, yamlsrc
from launchdeck.services import tenants
from launchdeck.store.repo import Store
from launchdeck.tenants.documents import TenantDocument
from launchdeck.tenants.policy import TenantPolicyDoc, TenantPolicySpec

KIND = "TenantPolicy"


@dataclass(frozen=True)
class TenantRails:
    """A tenant's policy as applied: the document (with its lines) and its version."""

    document: TenantDocument
    version: int

    @property
    def spec(self) -> TenantPolicySpec:
        assert isinstance(self.document.doc, TenantPolicyDoc)
        return self.document.doc.spec

    @property
    def tenant(self) -> str:
        return self.document.tenant

    def where(self, dotted: str) -> str:
        """``file:line`` of a dotted policy path (``spec.lockedSlos[0].threshold``)."""
        return f"{self.document.file}:{self.document.line_of(*_path(dotted))}"


def rails_of(store: Store, tenant: str) -> TenantRails | None:
    """The tenant's newest TenantPolicy, or None when none was applied."""
    found = tenants.current(store, tenant=tenant, kind=KIND)
    return TenantRails(found.document, found.version) if found is not None else None


def _path(dotted: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", dotted):
        parts.append(int(index) if index else name)
    return tuple(parts)


def locked_gates(policy: TenantRails) -> tuple[rails.LockedGate, ...]:
    """The policy's locked SLOs compiled as plan gates are (same units, same judges)."""
    specs = policy.spec.locked_slos
    if not specs:
        return ()
    compiled = to_policy(model.ReleaseSpec(stages=[model.StageSpec(weight="100%")], gates=specs)).gates
    return tuple(rails.LockedGate(g, f"spec.lockedSlos[{i}]") for i, g in enumerate(compiled))


def plan_limits(policy: TenantRails) -> rails.PlanLimits:
    lim = policy.spec.limits
    return rails.PlanLimits(lim.max_first_step, lim.min_hold, tuple(lim.required_roles), tuple(lim.allowed_regions),
                            tuple(lim.residency))


def shape_of(spec: model.ReleaseSpec, metadata: model.Metadata) -> rails.PlanShape:
    compiled = to_policy(spec)
    residency = spec.preflight.supply_chain.residency if spec.preflight.supply_chain else None
    return rails.PlanShape(compiled.stages, compiled.gates, (metadata.labels or {}).get("region"),
                           residency.region if residency else None,
                           tuple(residency.data_stores.items()) if residency else ())


def violations(plan: LoadedPlan, policy: TenantRails) -> list[PlanProblem]:
    """Each way the plan bends the tenant's rails, located in the plan and naming the policy's line."""
    specs = [(f"spec.services[{i}]", spec) for i, (_, spec) in enumerate(plan.services)] if plan.is_train \
        else [("", plan.doc.spec)]
    src = yamlsrc.load(plan.text, str(plan.path), limits.limits_from_env()) if plan.text is not None else None
    locked, lims = locked_gates(policy), plan_limits(policy)
    problems = []
    tier = policy.spec.autonomy.tier
    approvers = policy.spec.autonomy.approvers
    for prefix, spec in specs:
        if tier <= 2:
            problems += _people_for_tier(plan, spec, prefix, policy, tier, approvers, src)
        found = rails.check_locked_gates(to_policy(spec).gates, locked)
        found += rails.check_limits(shape_of(spec, plan.doc.metadata), lims)
        for v in found:
            plan_path = v.plan_path if not prefix else prefix
            line = src.line_of(_path(plan_path)) if src is not None else 0
            problems.append(PlanProblem(
                str(plan.path), line, plan_path,
                f"{v.message} — tenant {policy.tenant}'s policy v{policy.version} at {policy.where(v.policy_path)}",
                f"{v.allowed} (stricter is always allowed)"))
    return problems


def budget_gate_problems(plan: LoadedPlan, policy: TenantRails | None) -> list[PlanProblem]:
    """A gate on ``error_budget_remaining`` needs the tenant to keep an error budget for the plan's service."""
    service = plan.doc.metadata.service
    kept = {e.service for e in policy.spec.error_budgets} if policy is not None else set()
    specs = [spec for _, spec in plan.services] if plan.is_train else [plan.doc.spec]
    problems = []
    for spec in specs:
        for i, gate in enumerate(spec.gates):
            if gate.metric == "error_budget_remaining" and service not in kept:
                problems.append(PlanProblem(
                    str(plan.path), 0, f"spec.gates[{i}].metric",
                    f"gate {gate.name!r} reads the error budget of service {service!r}, which tenant "
                    f"{plan.doc.metadata.tenant}'s policy does not keep",
                    f"add errorBudgets: [{{service: {service}, objective: 99.9%, file: …}}] to the TenantPolicy, "
                    "or drop the gate"))
    return problems


def _people_for_tier(plan: LoadedPlan, spec: model.ReleaseSpec, prefix: str, policy: TenantRails, tier: int,
                     approvers: list[str], src: yamlsrc.Located | None) -> list[PlanProblem]:
    """At tiers 1-2 a person decides rollbacks (tier 1: every stage too): the plan must name who."""
    where = f"{prefix}.roles" if prefix else "spec.roles"
    line = src.line_of(_path(where)) if src is not None else 0
    policy_at = policy.where("spec.autonomy")
    missing = [r for r in approvers if r not in spec.roles]
    if missing:
        return [PlanProblem(str(plan.path), line, where,
                            f"tenant {policy.tenant} is at autonomy tier {tier}: its approvers {', '.join(missing)} "
                            f"decide, but the plan gives nobody that role (policy v{policy.version} at {policy_at})",
                            f"roles: {{{missing[0]}: [someone]}}")]
    if not approvers and not spec.roles:
        return [PlanProblem(str(plan.path), line, where,
                            f"tenant {policy.tenant} is at autonomy tier {tier}: a person decides each rollback, but "
                            f"the plan names no roles (policy v{policy.version} at {policy_at})",
                            "roles: {sre: [sam]}, or autonomy.approvers in the tenant's policy")]
    return []


def require_within(store: Store, plan: LoadedPlan, tenant: str) -> TenantRails | None:
    """The tenant's rails when the plan keeps them (None: no policy); PlanError listing every breach."""
    policy = rails_of(store, tenant)
    budget_gates = budget_gate_problems(plan, policy)
    if policy is None:
        if budget_gates:
            raise PlanError(budget_gates, what=f"the plan, under tenant {tenant}'s guard rails")
        return None
    problems = violations(plan, policy) + budget_gates
    if problems:
        raise PlanError(problems, what=f"the plan, under tenant {tenant}'s guard rails",
                        hint=f"see the policy with `launchdeck tenant show --tenant {tenant}`")
    return policy


def with_locked(spec: model.ReleaseSpec, policy: TenantRails | None) -> model.ReleaseSpec:
    """The spec a release runs: the plan's gates, plus each locked SLO the plan does not name."""
    if policy is None or not policy.spec.locked_slos:
        return spec
    names = {g.name for g in spec.gates}
    extra = [g for g in policy.spec.locked_slos if g.name not in names]
    return spec.model_copy(update={"gates": [*spec.gates, *extra]}) if extra else spec
