"""The operator commands over the API, for the token's tenant: budget status, protect and spend records,
autonomy status, override and restore, safety check. The same objects as the CLI's ``--output json``
(``services.operators``); writes are admin's. A token acts in its own tenant only: a request naming another
(``?tenant=`` or ``"tenant"`` in the body, as the CLI's ``--tenant`` sends it) is refused, never ignored."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from launchdeck.errors import Refused
from launchdeck.server import problems
from launchdeck.server.auth import Admin, StoreDep, Token, Viewer
from launchdeck.services import operators

router = APIRouter(prefix="/api/v1", tags=["guard"], responses=problems.responses(401, 403, 422, 503))


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str | None = Field(default=None, max_length=200, description="The token's tenant (any other is refused)")


class ProtectBody(_Body):
    lift: bool = False


class SpendBody(_Body):
    text: str = Field(max_length=4_000_000, description="CSV `at,amount` or JSON [{at, amount}]")
    source: str = Field(default="api", min_length=1, max_length=200)


class OverrideBody(_Body):
    duration: str = Field(default="1h", max_length=20, description="30m, 1h…; `off` ends the override")
    reason: str = Field(default="", max_length=2000)


class RestoreBody(_Body):
    tier: int | None = Field(default=None, ge=1, le=3, description="Cap at this tier (default: the policy's)")
    reason: str = Field(min_length=1, max_length=2000)


class Items(BaseModel):
    items: list[dict[str, Any]]

TenantQuery = Annotated[str | None, Query(max_length=200, description="The token's tenant (any other is refused)")]


def _own(who: Token, tenant: str | None) -> str:
    """The token's tenant, refusing a request that names another (rather than answering for the token's)."""
    if tenant is not None and tenant != who.tenant:
        raise Refused(f"tenant {tenant}: this API token acts in tenant {who.tenant} only, never in another",
                      hint=f"leave out the tenant, or use a token of tenant {tenant}")
    return who.tenant


@router.get("/budget/status", response_model=Items)
def budget_status(who: Viewer, store: StoreDep, tenant: TenantQuery = None) -> Items:
    """The tenant's spend, forecast, this month's alerts and enforced action (checked now)."""
    return Items(items=operators.budget_status(store, tenant=_own(who, tenant)))


@router.post("/budget/protect", response_model=dict[str, Any])
def budget_protect(body: ProtectBody, who: Admin, store: StoreDep) -> dict[str, Any]:
    """Take the policy's enforcement now (or lift it)."""
    return operators.budget_protect(store, tenant=_own(who, body.tenant), who=who.person, lift=body.lift)


@router.post("/budget/spend", response_model=dict[str, Any])
def budget_spend(body: SpendBody, who: Admin, store: StoreDep) -> dict[str, Any]:
    """Keep spend records and check the budget at once."""
    return operators.budget_record(store, tenant=_own(who, body.tenant), text=body.text, source=body.source, who=who.person)


@router.get("/autonomy/status", response_model=Items)
def autonomy_status(who: Viewer, store: StoreDep, tenant: TenantQuery = None) -> Items:
    return Items(items=operators.autonomy_status(store, tenant=_own(who, tenant)))


@router.post("/autonomy/override", response_model=dict[str, Any])
def autonomy_override(body: OverrideBody, who: Admin, store: StoreDep) -> dict[str, Any]:
    """Hold every autonomous action of the tenant for ``duration``."""
    return operators.autonomy_override(store, tenant=_own(who, body.tenant), duration=body.duration, who=who.person,
                                       reason=body.reason)


@router.post("/autonomy/restore", response_model=dict[str, Any])
def autonomy_restore(body: RestoreBody, who: Admin, store: StoreDep) -> dict[str, Any]:
    """Undo a tier dropped on a safety breach (back to the policy's tier, or capped at ``tier``); audited."""
    return operators.autonomy_restore(store, tenant=_own(who, body.tenant), who=who.person, reason=body.reason,
                                      tier=body.tier)


@router.get("/safety/check", response_model=Items)
def safety_check(who: Viewer, store: StoreDep, tenant: TenantQuery = None) -> Items:
    """The tenant's tier, safety figures against targets (a breach drops a tier) and isolation."""
    return Items(items=operators.safety_check(store, tenant=_own(who, tenant)))
