"""The operator commands' objects, once for the CLI and the API: `budget status`, `budget protect`,
`budget record`, `autonomy status`, `autonomy override`, `autonomy restore`, `safety check`.

Each returns plain JSON-ready dicts; the CLI prints them as a table or as JSON, the API returns them.
Reads are for any role; writes (protect, record, override, restore) are admin's, checked by the caller's layer
exactly as tenant documents are (the API's ``Admin`` dependency; the local CLI holds the store's keys).
"""

from __future__ import annotations

from typing import Any

from launchdeck.errors import Refused, UsageError
from launchdeck.services import autonomy, budget
from launchdeck.store import guard as stored
from launchdeck.store.repo import Store, now_utc


def _scope(store: Store, tenant: str | None, all_tenants: bool, pick: Any = None) -> list[str]:
    if all_tenants:
        return (pick or budget.every_tenant)(store)
    if tenant is None:
        raise Refused("name a tenant (--tenant T) or ask for --all-tenants")
    return [tenant]


def budget_status(store: Store, *, tenant: str | None, all_tenants: bool = False) -> list[dict[str, Any]]:
    return [r.to_json() for r in budget.status(store, tenants=_scope(store, tenant, all_tenants))]


def budget_protect(store: Store, *, tenant: str, who: str, lift: bool = False) -> dict[str, Any]:
    st = budget.protect(store, tenant=tenant, who=who, lift=lift)
    autonomy.forget()
    return state_json(st)


def budget_record(store: Store, *, tenant: str, text: str, source: str, who: str) -> dict[str, Any]:
    n, report = budget.record(store, tenant=tenant, text=text, source=source, who=who)
    autonomy.forget()
    return {"recorded": n, "status": report.to_json()}


def autonomy_status(store: Store, *, tenant: str | None, all_tenants: bool = False) -> list[dict[str, Any]]:
    rows = []
    now = now_utc()
    for t in _scope(store, tenant, all_tenants):
        rails = autonomy.rails_of(store, t)
        st = stored.state(store, tenant=t)
        rt = autonomy.runtime(store, t)
        rows.append({"tenant": t, "policyVersion": rails.version if rails else None,
                     "tier": autonomy.tier_of(rails, st), "policyTier": rails.spec.autonomy.tier if rails else None,
                     "tierReason": st.tier_reason,
                     "override": bool(st.override_until and st.override_until > now),
                     "overrideUntil": st.override_until.isoformat() if st.override_until and st.override_until > now
                     else None, "overrideBy": st.override_by if st.override_until and st.override_until > now
                     else None, "hold": rt.hold if rt else None, "enforcement": state_json(st)["enforcement"]})
    return rows


def autonomy_override(store: Store, *, tenant: str, duration: str, who: str, reason: str = "") -> dict[str, Any]:
    return state_json(autonomy.override(store, tenant=tenant, duration=duration, who=who, reason=reason))


def autonomy_restore(store: Store, *, tenant: str, who: str, reason: str, tier: int | None = None) -> dict[str, Any]:
    """Undo a tier dropped on a safety breach: back to the policy's tier, or capped at ``tier``; the reason is
    kept in the tenant's guard history. The next safety check drops it again if the figures still breach."""
    if not reason.strip():
        raise UsageError("say why the tier is restored", hint="add --reason '…' (kept in the tenant's guard history)")
    rails = autonomy.require_policy(store, tenant)
    st = autonomy.set_tier(store, tenant=tenant, tier=tier, who=who, reason=reason.strip())
    return state_json(st) | {"tier": autonomy.tier_of(rails, st), "policyTier": rails.spec.autonomy.tier}


def safety_check(store: Store, *, tenant: str | None, all_autonomous: bool = False) -> list[dict[str, Any]]:
    tenants = autonomy.autonomous_tenants(store) if all_autonomous else _scope(store, tenant, False)
    return [autonomy.check_safety(store, tenant=t).to_json() for t in tenants]


def state_json(st: stored.GuardState) -> dict[str, Any]:
    return {"tenant": st.tenant, "tier": st.tier, "tierReason": st.tier_reason,
            "overrideUntil": st.override_until.isoformat() if st.override_until else None,
            "overrideBy": st.override_by, "overrideReason": st.override_reason,
            "enforcement": {"action": st.action, "pending": st.action_pending, "reason": st.action_reason}}
