"""``/api/v1/plans``: validate a plan (problems with file:line, what is wrong and what to write), register it
(admin), and read the tenant's registered plans."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from launchdeck.server import problems
from launchdeck.server.auth import Admin, StoreDep, Viewer
from launchdeck.server.schemas import PlanBody, PlanDetail, PlanList, PlanOut, Validated
from launchdeck.services import plans
from launchdeck.store import plans as stored
from launchdeck.store.plans import RegisteredPlan

router = APIRouter(prefix="/api/v1/plans", tags=["plans"], responses=problems.responses(401, 403, 422, 503))
PlanName = Annotated[str, Path(max_length=200, pattern=r"^[a-z0-9][a-z0-9._-]*$", description="The plan's metadata.name.")]


@router.post("/validate", response_model=Validated)
def validate(body: PlanBody, who: Viewer, store: StoreDep) -> Validated:
    """Check a plan: 200 with its warnings when valid, else a 422 problem document whose ``problems`` each
    have file, line, message and fix, as `launchdeck validate` prints them."""
    checked = plans.check(body.plan, tenant=who.tenant, store=store)
    return Validated(valid=True, name=checked.plan.name, kind=checked.kind, digest=checked.plan.digest,
                     warnings=checked.warnings)


@router.post("", response_model=PlanOut, status_code=201,
             responses={200: {"model": PlanOut, "description": "The same text was registered before: nothing changed"}})
def register(body: PlanBody, who: Admin, store: StoreDep, response: Response) -> PlanOut:
    """Register a plan (or a new version of it) for the token's tenant."""
    kept, checked, new = plans.register(store, body.plan, tenant=who.tenant, by=who.person)
    if not new:
        response.status_code = 200
    return _out(kept, checked.kind).model_copy(update={"changed": new})


@router.get("", response_model=PlanList)
def plan_list(who: Viewer, store: StoreDep) -> PlanList:
    """The newest version of each of the tenant's registered plans."""
    return PlanList(tenant=who.tenant,
                    items=[_out(p, plans.kind_of(p.text)) for p in stored.plans(store, tenant=who.tenant)])


@router.get("/{name}", response_model=PlanDetail, responses=problems.responses(404))
def plan_detail(name: PlanName, who: Viewer, store: StoreDep) -> PlanDetail:
    """The newest version of the plan, with its text."""
    found = plans.registered(store, tenant=who.tenant, name=name)
    return PlanDetail(**_out(found, plans.kind_of(found.text)).model_dump(), text=found.text)


def _out(p: RegisteredPlan, kind: str) -> PlanOut:
    return PlanOut(name=p.name, tenant=p.tenant, digest=p.digest, kind=kind, version=p.version,
                   registered_by=p.registered_by, registered_at=p.registered_at)
