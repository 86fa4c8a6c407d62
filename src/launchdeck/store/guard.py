"""A tenant's guard as stored: spend records, alerts raised once each, its state (tier, override, enforced
action) and the history of who changed it.

Alerts are inserted under a unique (tenant, key): the key says what makes an alert the same one (a budget
threshold in a month), so two workers checking at once raise it once, and ``raise_alerts`` returns only
the ones this call inserted. Each alert's deliveries to its channels are inserted with it
(``store.guard_delivery`` follows them to the end).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from launchdeck.errors import StoreError
from launchdeck.store.repo import Store, now_utc
from launchdeck.store.tables import (
    GuardAlertDeliveryRow,
    GuardAlertRow,
    GuardHistoryRow,
    GuardSpendRow,
    GuardStateRow,
    ReleaseRow,
)


@dataclass(frozen=True)
class GuardState:
    tenant: str
    tier: int | None = None
    tier_reason: str = ""
    override_until: datetime | None = None
    override_by: str | None = None
    override_reason: str = ""
    action: str = "none"
    action_pending: bool = False
    action_reason: str = ""
    action_at: datetime | None = None


@dataclass(frozen=True)
class Alert:
    tenant: str
    kind: str
    key: str
    page: bool
    reason: str
    at: datetime
    id: int | None = None
    """Its row's id once stored (``raise_alerts``, ``alerts``)."""


def add_spend(store: Store, *, tenant: str, source: str, records: Iterable[tuple[datetime, float]]) -> int:
    """Keep spend records; one already kept (same tenant, source and time) is replaced. Returns how many."""
    n = 0
    with store.session() as s:
        for at, amount in records:
            row = s.scalars(select(GuardSpendRow).where(GuardSpendRow.tenant == tenant, GuardSpendRow.source == source,
                                                        GuardSpendRow.at == at)).first()
            if row is None:
                s.add(GuardSpendRow(tenant=tenant, source=source, at=at, amount=amount))
            else:
                row.amount = amount
            n += 1
    return n


def spend_since(store: Store, *, tenant: str, since: datetime) -> list[tuple[str, datetime, float]]:
    """(source, at, amount) of the tenant's spend records since ``since``, oldest first."""
    with store.session() as s:
        rows = s.execute(select(GuardSpendRow.source, GuardSpendRow.at, GuardSpendRow.amount)
                         .where(GuardSpendRow.tenant == tenant, GuardSpendRow.at >= since)
                         .order_by(GuardSpendRow.at))
        return [(source, at, amount) for source, at, amount in rows]


def raise_alerts(store: Store, alerts: Iterable[Alert],
                 channels: Callable[[Alert], Iterable[str]] = lambda a: ()) -> list[Alert]:
    """Insert each alert unless its (tenant, key) is already there, with a delivery to be made to each of
    its ``channels`` (in the same transaction: an alert raised is never left without them); returns those
    inserted now, with their ids."""
    new = []
    for alert in alerts:
        with store.session() as s:
            if s.scalars(select(GuardAlertRow.id).where(GuardAlertRow.tenant == alert.tenant,
                                                        GuardAlertRow.key == alert.key)).first() is not None:
                continue
        try:
            with store.session() as s:
                row = GuardAlertRow(tenant=alert.tenant, kind=alert.kind, key=alert.key, page=alert.page,
                                    reason=alert.reason, at=alert.at)
                s.add(row)
                s.flush()
                for name in dict.fromkeys(channels(alert)):
                    s.add(GuardAlertDeliveryRow(alert_id=row.id, channel=name, attempts=0, next_at=alert.at))
                alert = replace(alert, id=row.id)
        except (IntegrityError, StoreError) as e:  # raised at the same moment by another check: once is enough
            if isinstance(e, StoreError) and not isinstance(e.__cause__, IntegrityError):
                raise
            continue
        new.append(alert)
    return new


def alerts(store: Store, *, tenant: str, since: datetime | None = None) -> list[Alert]:
    with store.session() as s:
        q = select(GuardAlertRow).where(GuardAlertRow.tenant == tenant)
        if since is not None:
            q = q.where(GuardAlertRow.at >= since)
        return [Alert(r.tenant, r.kind, r.key, r.page, r.reason, r.at, r.id) for r in s.scalars(q.order_by(GuardAlertRow.id))]


def fired_keys(store: Store, *, tenant: str, prefix: str) -> frozenset[str]:
    with store.session() as s:
        return frozenset(s.scalars(select(GuardAlertRow.key).where(GuardAlertRow.tenant == tenant,
                                                                   GuardAlertRow.key.startswith(prefix))))


def state(store: Store, *, tenant: str) -> GuardState:
    with store.session() as s:
        row = s.get(GuardStateRow, tenant)
        return _state(row) if row is not None else GuardState(tenant)


def states(store: Store) -> list[GuardState]:
    with store.session() as s:
        return [_state(r) for r in s.scalars(select(GuardStateRow).order_by(GuardStateRow.tenant))]


def update(store: Store, *, tenant: str, who: str, kind: str, reason: str, **changes: object) -> GuardState:
    """Change the tenant's state and record who did it and why, in one transaction."""
    with store.session() as s:
        row = s.get(GuardStateRow, tenant, with_for_update=True)
        if row is None:
            row = GuardStateRow(tenant=tenant, tier=None, tier_reason="", override_reason="", action="none",
                                action_pending=False, action_reason="", updated_at=now_utc())
            s.add(row)
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_at = now_utc()
        s.add(GuardHistoryRow(tenant=tenant, at=now_utc(), kind=kind, who=who, reason=reason[:4000]))
        s.flush()
        return _state(row)


def mark(store: Store) -> tuple[object, int]:
    """Changes whenever any tenant's guard state changes: (newest update, rows)."""
    with store.session() as s:
        newest, rows = s.execute(select(func.max(GuardStateRow.updated_at), func.count()).select_from(GuardStateRow)).one()
        return newest, int(rows)


def history(store: Store, *, tenant: str, limit: int = 50) -> list[tuple[datetime, str, str, str]]:
    with store.session() as s:
        rows = s.scalars(select(GuardHistoryRow).where(GuardHistoryRow.tenant == tenant)
                         .order_by(GuardHistoryRow.id.desc()).limit(limit))
        return [(r.at, r.kind, r.who, r.reason) for r in rows]


def tenants(store: Store) -> list[str]:
    """Every tenant the store knows: of releases, of guard state."""
    with store.session() as s:
        names = set(s.scalars(select(ReleaseRow.tenant).distinct()))
        names |= set(s.scalars(select(GuardStateRow.tenant)))
        return sorted(names)


def finished(store: Store, *, tenant: str, since: datetime) -> list[tuple[datetime, str]]:
    """(when, outcome) of the tenant's releases that finished since ``since``."""
    with store.session() as s:
        rows = s.execute(select(ReleaseRow.updated_at, ReleaseRow.outcome)
                         .where(ReleaseRow.tenant == tenant, ReleaseRow.outcome.is_not(None),
                                ReleaseRow.updated_at >= since))
        return [(at, outcome) for at, outcome in rows]


def count_spend(store: Store, *, tenant: str) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(GuardSpendRow).where(GuardSpendRow.tenant == tenant)) or 0)


def _state(row: GuardStateRow) -> GuardState:
    return GuardState(row.tenant, row.tier, row.tier_reason, row.override_until, row.override_by, row.override_reason,
                      row.action, row.action_pending, row.action_reason, row.action_at)
