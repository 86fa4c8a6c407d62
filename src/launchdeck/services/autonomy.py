"""Autonomy per tenant: its tier, the emergency override, its safety figures, and what a release's next tick
must respect (``runtime``).

The tier in force is the lower of the policy's ``autonomy.tier`` and the tier the tenant dropped to on a
safety breach (kept in the guard state until ``set_tier`` clears it: `launchdeck autonomy restore`). An
override holds every autonomous action of the tenant until it ends: releases hold at their weight and a
rollback waits for a person; people can still act.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from launchdeck.core.policy import Policy
from launchdeck.errors import Refused, UsageError
from launchdeck.guard import autonomy
from launchdeck.services import alerting
from launchdeck.services.guardrails import TenantRails, rails_of
from launchdeck.store import guard as stored
from launchdeck.store import guard_delivery
from launchdeck.store.repo import Store, now_utc

log = logging.getLogger("launchdeck.guard")
#: A release's tick reads its tenant's guard at most this often (seconds): the breach-to-action budget is 1 s.
RUNTIME_TTL = 0.2
_runtime: dict[tuple[str, str], tuple[float, Runtime | None]] = {}
#: The reads under way for ``runtime_aside``, by event loop, store, tenant and ``forget`` generation.
_reading: dict[tuple[asyncio.AbstractEventLoop, str, str, int], asyncio.Future[Runtime | None]] = {}
_generation = 0


@dataclass(frozen=True)
class Runtime:
    """What the guard asks of a release's next tick."""

    tier: int
    hold: str | None
    """Why the release must hold at its weight (None: it may go on)."""
    shrink: bool
    person_acts: bool
    """Rollbacks wait for a person (tiers 1-2, an override)."""
    stage_signoff: bool
    """Every stage waits for a person (tier 1)."""
    approvers: tuple[str, ...] = ()

    def policy(self, policy: Policy) -> Policy:
        """The release's policy as the tier allows it to act."""
        if not self.person_acts and not self.stage_signoff:
            return policy
        who = self.approvers or _authority(policy)
        changed = replace(policy, rollback_authority=who if self.person_acts else None)
        if self.stage_signoff and who:
            changed = replace(changed, stages=tuple(s if s.approve else replace(s, approve=(who[0],))
                                                    for s in policy.stages))
        return changed


def _authority(policy: Policy) -> tuple[str, ...]:
    roles: list[str] = []
    for d in (policy.urgent, policy.conditional):
        if d is not None:
            roles += [r for r in d.authority if r not in roles]
    return tuple(roles) or tuple(policy.roles)


def tier_of(rails: TenantRails | None, st: stored.GuardState) -> int:
    if rails is None:
        return 3
    configured = rails.spec.autonomy.tier
    return min(st.tier, configured) if st.tier is not None else configured


def runtime(store: Store, tenant: str, *, now: float | None = None) -> Runtime | None:
    """The guard's demands on the tenant's releases now; None when the tenant has no policy and no state."""
    cached = _runtime.get((store.url, tenant))
    if cached is not None and time.monotonic() - cached[0] < RUNTIME_TTL:
        return cached[1]
    return _read(store, tenant)


def _read(store: Store, tenant: str) -> Runtime | None:
    t, generation = time.monotonic(), _generation
    rails = rails_of(store, tenant)
    st = stored.state(store, tenant=tenant)
    value = _compute(rails, st, now_utc()) if rails is not None or st.override_until or st.action != "none" else None
    if generation == _generation:  # read on a thread (``runtime_aside``) while ``forget`` ran: do not keep it
        _runtime[(store.url, tenant)] = (t, value)
    return value


async def runtime_aside(store: Store, tenant: str) -> Runtime | None:
    """``runtime`` for a release's tick, with the store read on a thread (a worker's event loop drives its
    other releases meanwhile), once for all the releases of the tenant that tick meanwhile. The read starts
    when the cached view is half its ``RUNTIME_TTL`` old, so ticks rarely wait for it; a view older than
    that is never used, and a read under way when ``forget`` ran is not used by the ticks after it."""
    cached = _runtime.get((store.url, tenant))
    if cached is not None:
        age = time.monotonic() - cached[0]
        if age < RUNTIME_TTL:
            if age >= RUNTIME_TTL / 2:
                _reading_of(store, tenant)
            return cached[1]
    return await asyncio.shield(_reading_of(store, tenant))


def _reading_of(store: Store, tenant: str) -> asyncio.Future[Runtime | None]:
    """The read of the tenant's view under way in this loop since the last ``forget``, started if none is."""
    key = (asyncio.get_running_loop(), store.url, tenant, _generation)
    reading = _reading.get(key)
    if reading is None:
        reading = _reading[key] = asyncio.ensure_future(asyncio.to_thread(_read, store, tenant))
        reading.add_done_callback(lambda done: (_reading.pop(key, None), done.cancelled() or done.exception()))
    return reading


def forget() -> None:
    """Drop the cached guard views (tests, and a process that just changed a tenant's state)."""
    global _generation
    _generation += 1
    _runtime.clear()


def _compute(rails: TenantRails | None, st: stored.GuardState, now: datetime) -> Runtime:
    tier = tier_of(rails, st)
    override = st.override_until is not None and st.override_until > now
    hold = None
    if override:
        hold = (f"emergency override by {st.override_by} until {st.override_until:%H:%M:%S} UTC"
                + (f": {st.override_reason}" if st.override_reason else ""))
    elif st.action in ("pause", "shrink") and not st.action_pending:
        hold = f"budget guard ({st.action}): {st.action_reason}"
    approvers = tuple(rails.spec.autonomy.approvers) if rails is not None else ()
    return Runtime(tier, hold, st.action == "shrink" and not st.action_pending and not override,
                   person_acts=tier <= 2 or override, stage_signoff=tier == 1, approvers=approvers)


# -- operator actions -------------------------------------------------------------------------------------

def parse_duration(text: str) -> float:
    from launchdeck.plan import units

    try:
        seconds = units.parse_duration(text)
    except ValueError as e:
        raise UsageError(str(e), hint="write a duration like 30m, 1h or 2h") from None
    if seconds <= 0 or seconds > 7 * 86400:
        raise UsageError(f"an override of {text} is out of range", hint="between 1s and 7d")
    return seconds


def override(store: Store, *, tenant: str, duration: str, who: str, reason: str = "") -> stored.GuardState:
    """Hold every autonomous action of the tenant for ``duration``; ``0`` or ``off`` ends it."""
    if duration in ("0", "off"):
        st = stored.update(store, tenant=tenant, who=who, kind="override-ended", reason=f"ended by {who}",
                           override_until=None, override_by=None, override_reason="")
    else:
        until = now_utc() + timedelta(seconds=parse_duration(duration))
        st = stored.update(store, tenant=tenant, who=who, kind="override",
                           reason=f"override until {until.isoformat(timespec='seconds')}" + (f": {reason}" if reason else ""),
                           override_until=until, override_by=who, override_reason=reason)
    forget()
    return st


def set_tier(store: Store, *, tenant: str, tier: int | None, who: str, reason: str = "") -> stored.GuardState:
    """Put the tenant back on its policy's tier (None), or cap it at ``tier``."""
    if tier is not None and tier not in (1, 2, 3):
        raise UsageError(f"tier {tier} does not exist", hint="tiers are 1, 2 and 3")
    said = (f"tier capped at {tier}" if tier is not None else "policy's tier restored") + f" by {who}" \
        + (f": {reason}" if reason else "")
    st = stored.update(store, tenant=tenant, who=who, kind="tier", reason=said, tier=tier,
                       tier_reason=said if tier is not None else "")
    forget()
    return st


# -- safety -------------------------------------------------------------------------------------------------

def outcomes(store: Store, tenant: str, now: datetime) -> tuple[autonomy.Outcome, ...]:
    """The tenant's finished releases over 30 days: promoted is a success; rolled back is a compensation;
    ended held (a person had to take over) is an escalation."""
    rows = stored.finished(store, tenant=tenant, since=now - timedelta(days=30))
    return tuple(autonomy.Outcome(at.timestamp(), outcome == "promoted", outcome == "rolled_back",
                                  1 if outcome == "held" else 0)
                 for at, outcome in rows if outcome in ("promoted", "rolled_back", "held"))


@dataclass(frozen=True)
class SafetyReport:
    tenant: str
    policy_version: int | None
    tier: int
    policy_tier: int
    figures: tuple[autonomy.SafetyFigures, ...]
    dropped: str | None
    override_until: datetime | None
    isolation: tuple[str, ...]
    """Cross-tenant findings (empty: isolated)."""
    alerts: tuple[stored.Alert, ...] = ()
    """The tenant's autonomy alerts (tier drops) of the last 30 days, oldest first."""
    deliveries: dict[int, tuple[guard_delivery.Delivery, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "policyVersion": self.policy_version, "tier": self.tier,
                "policyTier": self.policy_tier, "dropped": self.dropped,
                "overrideUntil": self.override_until.isoformat() if self.override_until else None,
                "safety": [{"window": f.window, "releases": f.releases, "successRate": f.success_rate,
                            "compensationRate": f.compensation_rate, "escalations": f.escalations,
                            "breaches": list(f.breaches)} for f in self.figures],
                "isolation": {"ok": not self.isolation, "problems": list(self.isolation)},
                "alerts": [alerting.alert_json(a, self.deliveries) for a in self.alerts]}


def check_safety(store: Store, *, tenant: str, now: datetime | None = None) -> SafetyReport:
    """The tenant's safety figures against its targets; a breach drops it one tier (recorded, and an alert
    for its admins)."""
    now = now or now_utc()
    rails = rails_of(store, tenant)
    st = stored.state(store, tenant=tenant)
    tier = tier_of(rails, st)
    policy_tier = rails.spec.autonomy.tier if rails is not None else 3
    dropped = None
    figures: tuple[autonomy.SafetyFigures, ...] = ()
    if rails is not None:
        s = rails.spec.autonomy.safety
        targets = autonomy.SafetyTargets(s.min_success, s.max_compensation, s.max_escalations_24h)
        figures = autonomy.safety(outcomes(store, tenant, now), now=now.timestamp(), targets=targets)
        decision = autonomy.next_tier(tier, figures)
        if decision.changed:
            dropped = decision.reason
            st = stored.update(store, tenant=tenant, who="launchdeck", kind="tier-drop", reason=decision.reason,
                               tier=decision.tier, tier_reason=decision.reason)
            stored.raise_alerts(store, [stored.Alert(tenant, "autonomy",
                                                            f"tier:{now:%Y-%m-%dT%H:%M}:{decision.tier}", True,
                                                            f"tenant {tenant}: {decision.reason}", now)],
                                       channels=lambda a: alerting.channels_of(rails, a))
            alerting.deliver(store, rails)
            log.warning("tenant %s: %s (its admins are told)", tenant, decision.reason)
            tier = decision.tier
            forget()
        else:
            alerting.deliver(store, rails)  # earlier alerts whose retry is due
    told_30d = tuple(a for a in stored.alerts(store, tenant=tenant, since=now - timedelta(days=30)) if a.kind == "autonomy")
    return SafetyReport(tenant, rails.version if rails else None, tier, policy_tier, figures, dropped,
                        st.override_until if st.override_until and st.override_until > now else None,
                        tuple(isolation(store, tenant)), told_30d,
                        guard_delivery.of_alerts(store, (a.id for a in told_30d if a.id is not None)))


def isolation(store: Store, tenant: str) -> list[str]:
    """Did anything cross tenants? Each of the tenant's releases is driven from a plan naming it (or none);
    its tokens act only in it; its messages belong to its own releases."""
    from sqlalchemy import select

    from launchdeck.store.tables import MessageRow, ReleaseRow, SignoffRow, TokenRow

    problems = []
    with store.session() as s:
        ids = dict(s.execute(select(ReleaseRow.id, ReleaseRow.name).where(ReleaseRow.tenant == tenant)).all())
        for rid, name, text in s.execute(select(ReleaseRow.id, ReleaseRow.name, ReleaseRow.plan_text)
                                         .where(ReleaseRow.tenant == tenant, ReleaseRow.plan_text.is_not(None))):
            named = _plan_tenant(text)
            if named is not None and named != tenant:
                problems.append(f"release {name} belongs to {tenant} but its plan names tenant {named}")
        people = set(s.scalars(select(TokenRow.person).where(TokenRow.tenant == tenant)))
        others = set(s.scalars(select(TokenRow.person).where(TokenRow.tenant != tenant)))
        for rid, who, source in s.execute(select(SignoffRow.release_id, SignoffRow.who, SignoffRow.source)
                                          .where(SignoffRow.release_id.in_(ids), SignoffRow.source == "api")):
            if who not in people and who in others:
                problems.append(f"{who}, a person of another tenant only, acted on release {ids[rid]} over the API")
        strays = s.scalar(select(MessageRow.id).where(MessageRow.release_id.not_in(
            select(ReleaseRow.id))).limit(1))
        if strays is not None:
            problems.append("a message belongs to no release")
    return problems


def _plan_tenant(text: str) -> str | None:
    import re

    m = re.search(r"^\s+tenant:\s*['\"]?([A-Za-z0-9._-]+)", text, re.MULTILINE)
    return m.group(1) if m else None


def autonomous_tenants(store: Store) -> list[str]:
    from launchdeck.services import tenants as docs

    found = []
    for d in docs.documents(store):
        if d.kind != "TenantPolicy":
            continue
        rails = rails_of(store, d.tenant)
        if rails is not None and rails.spec.autonomy.tier >= 2:
            found.append(d.tenant)
    return found


def require_policy(store: Store, tenant: str) -> TenantRails:
    rails = rails_of(store, tenant)
    if rails is None:
        raise Refused(f"tenant {tenant} has no TenantPolicy", hint="apply one with `launchdeck tenant apply FILE`")
    return rails
