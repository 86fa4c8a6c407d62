"""The operator commands over the API, for the token's tenant: budget status, protect and spend records,
autonomy status and override, safety check. The same objects as the CLI's ``--output json``
(``services.operators``); writes are admin's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from launchdeck.server import problems
from launchdeck.server.auth import Admin, StoreDep, Viewer
from launchdeck.services import operators

router = APIRouter(prefix="/api/v1", tags=["guard"], responses=problems.responses(401, 403, 422, 503))


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProtectBody(_Body):
    lift: bool = False


class SpendBody(_Body):
    text: str = Field(max_length=4_000_000, description="CSV `at,amount` or JSON [{at, amount}]")
    source: str = Field(default="api", min_length=1, max_length=200)


class OverrideBody(_Body):
    duration: str = Field(default="1h", max_length=20, description="30m, 1h…; `off` ends the override")
    reason: str = Field(default="", max_length=2000)


class Items(BaseModel):
    items: list[dict[str, Any]]


@router.get("/budget/status", response_model=Items)
def budget_status(who: Viewer, store: StoreDep) -> Items:
    """The tenant's spend, forecast, this month's alerts and enforced action (checked now)."""
    return Items(items=operators.budget_status(store, tenant=who.tenant))


@router.post("/budget/protect", response_model=dict[str, Any])
def budget_protect(body: ProtectBody, who: Admin, store: StoreDep) -> dict[str, Any]:
    """Take the policy's enforcement now (or lift it)."""
    return operators.budget_protect(store, tenant=who.tenant, who=who.person, lift=body.lift)


@router.post("/budget/spend", response_model=dict[str, Any])
def budget_spend(body: SpendBody, who: Admin, store: StoreDep) -> dict[str, Any]:
    """Keep spend records and check the budget at once."""
    return operators.budget_record(store, tenant=who.tenant, text=body.text, source=body.source, who=who.person)


@router.get("/autonomy/status", response_model=Items)
def autonomy_status(who: Viewer, store: StoreDep) -> Items:
    return Items(items=operators.autonomy_status(store, tenant=who.tenant))


@router.post("/autonomy/override", response_model=dict[str, Any])
def autonomy_override(body: OverrideBody, who: Admin, store: StoreDep) -> dict[str, Any]:
    """Hold every autonomous action of the tenant for ``duration``."""
    return operators.autonomy_override(store, tenant=who.tenant, duration=body.duration, who=who.person,
                                       reason=body.reason)


@router.get("/safety/check", response_model=Items)
def safety_check(who: Viewer, store: StoreDep) -> Items:
    """The tenant's tier, safety figures against targets (a breach drops a tier) and isolation."""
    return Items(items=operators.safety_check(store, tenant=who.tenant))
