"""Starting a canary from a one-line request (the seed's ``/approve canary VERSION → ENV (REGION, RESIDENCY)
steps: 5/25/50/100 kill-switch:NAME``): the tenant's registered plan for that environment (and service) is
found, checked to agree with the line (region, residency, kill switch, number of steps), given the line's
version and weights, and submitted like any other release (``services.submitting``).

A plan is *for* an environment when its ``metadata.labels.environment`` (or ``env``) names it; its region and
residency are ``metadata.labels.region`` / ``residency`` (the region may also come from
``preflight.supplyChain.residency.region``); its kill switch is ``spec.killSwitch.flag``. A line that
disagrees is refused naming each difference, and nothing starts. The request is the parsed line itself
(``chat.grammar.StartCanary``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from launchdeck.chat.grammar import StartCanary
from launchdeck.errors import NotFound, Refused, UsageError
from launchdeck.plan import LoadedPlan, model, yamlsrc
from launchdeck.services import plans as plan_texts
from launchdeck.services import submitting
from launchdeck.store import plans
from launchdeck.store.repo import Store, StoredRelease


def _labels(plan: LoadedPlan) -> dict[str, str]:
    return dict(plan.doc.metadata.labels)


def environment_of(plan: LoadedPlan) -> str | None:
    labels = _labels(plan)
    return labels.get("environment") or labels.get("env")


def region_of(plan: LoadedPlan) -> str | None:
    region = _labels(plan).get("region")
    if region is None and isinstance(plan.doc, model.ReleaseDoc):
        chain = plan.doc.spec.preflight.supply_chain
        if chain is not None and chain.residency is not None:
            region = chain.residency.region
    return region


def find_plan(store: Store, request: StartCanary, *, tenant: str) -> LoadedPlan:
    """The tenant's registered release plan for the request's environment (and service)."""
    found: list[LoadedPlan] = []
    for registered in plans.plans(store, tenant=tenant):
        if plan_texts.kind_of(registered.text) != "Release":
            continue
        loaded = plan_texts.check(registered.text, tenant=tenant).plan
        if environment_of(loaded) != request.environment:
            continue
        if request.service and loaded.doc.metadata.service != request.service:
            continue
        found.append(loaded)
    where = f"environment {request.environment}" + (f" and service {request.service}" if request.service else "")
    if not found:
        raise NotFound(f"tenant {tenant} has no registered release plan for {where}",
                       hint=f"register one whose metadata.labels has environment: {request.environment}")
    if len(found) > 1:
        names = ", ".join(f"{p.name} (service {p.doc.metadata.service or 'none'})" for p in found)
        raise UsageError(f"several registered plans are for {where}: {names}",
                         hint="name the service at the end of the line: service:NAME")
    return found[0]


def differences(plan: LoadedPlan, request: StartCanary) -> list[str]:
    """Where the line and the plan disagree, one readable phrase each."""
    assert isinstance(plan.doc, model.ReleaseDoc)
    spec = plan.doc.spec
    out = []
    said = {"region": (region_of(plan), request.region), "residency": (_labels(plan).get("residency"), request.residency),
            "kill switch": (spec.kill_switch.flag if spec.kill_switch else None, request.kill_switch)}
    for what, (theirs, line) in said.items():
        if theirs is None:
            out.append(f"the plan names no {what} (the line says {line})")
        elif theirs.casefold() != line.casefold():
            out.append(f"{what}: the plan says {theirs}, the line {line}")
    weights = [s.weight for s in spec.stages]
    if len(weights) != len(request.steps):
        plan_steps = "/".join(f"{w:g}" for w in weights)
        out.append(f"steps: the plan has {len(weights)} stages ({plan_steps}), the line {len(request.steps)}")
    return out


def release_name(plan: LoadedPlan, version: str) -> str:
    """The release's name: the plan's, with its version replaced by the line's when it carries it."""
    old = plan.doc.metadata.version
    if version == old:
        return plan.name
    name = plan.name.replace(old, version) if old in plan.name else f"{plan.name}-{version}"
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.") or "release"


def canary_text(plan: LoadedPlan, request: StartCanary) -> str:
    """The plan's text with the line's version and stage weights."""
    data: dict[str, Any] = yamlsrc.load(plan.text, str(plan.path)).data
    data["metadata"]["name"] = release_name(plan, request.version)
    data["metadata"]["version"] = request.version
    for stage, weight in zip(data["spec"]["stages"], request.steps, strict=True):
        stage["weight"] = f"{weight:g}%"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def start_canary(store: Store, request: StartCanary, *, tenant: str, person: str, data_dir: Path,
                 time_scale: float = 1.0) -> StoredRelease:
    """Start the release the line describes, as ``person`` of ``tenant``; refused (nothing starts) when the line
    and the plan disagree or the person holds no role in the plan."""
    plan = find_plan(store, request, tenant=tenant)
    assert isinstance(plan.doc, model.ReleaseDoc)
    held = sorted(role for role, people in plan.doc.spec.roles.items() if person in people)
    if not held:
        raise Refused(f"{person} holds no role in {plan.name}'s plan, so may not start it",
                      hint="a release is started by one of the people its plan's roles list")
    wrong = differences(plan, request)
    if wrong:
        raise Refused(f"the line does not agree with the plan {plan.name}: " + "; ".join(wrong),
                      hint="correct the line, or register a plan that says so")
    text = canary_text(plan, request)
    return submitting.submit(store, submitting.Submission(plan_text=text, time_scale=time_scale), tenant=tenant,
                             person=person, data_dir=data_dir)
