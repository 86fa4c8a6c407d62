"""A tenant's guard alerts on their way to its channels: one row per (alert, channel), written with the
alert itself, kept until the channel took it or the attempts ran out.

A worker claims a row by a compare-and-set on its (``next_at``, ``attempts``): it moves ``next_at`` a lease
ahead, and only the one whose update matched sends, so two workers checking the same tenant at once never
send an alert twice. A worker killed while sending leaves the row to be sent again when the lease ends (at
least once, never lost); the idempotency key ``alert:<id>:<channel>`` lets receivers drop the repeat.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from launchdeck.store.guard import Alert
from launchdeck.store.repo import Store
from launchdeck.store.tables import GuardAlertDeliveryRow, GuardAlertRow


@dataclass(frozen=True)
class Delivery:
    alert_id: int
    channel: str
    attempts: int
    last_error: str | None
    next_at: datetime
    delivered_at: datetime | None = None
    gave_up_at: datetime | None = None

    @property
    def status(self) -> str:
        """``delivered``, ``given up`` or ``pending``."""
        if self.delivered_at is not None:
            return "delivered"
        return "given up" if self.gave_up_at is not None else "pending"

    @property
    def key(self) -> str:
        """The idempotency key: the same at every attempt, by any worker."""
        return f"alert:{self.alert_id}:{self.channel}"


def due(store: Store, *, tenant: str, now: datetime) -> list[tuple[Alert, Delivery]]:
    """The tenant's deliveries to try now (neither delivered nor given up, their time come), oldest first."""
    with store.session() as s:
        rows = s.execute(select(GuardAlertRow, GuardAlertDeliveryRow)
                         .join(GuardAlertDeliveryRow, GuardAlertDeliveryRow.alert_id == GuardAlertRow.id)
                         .where(GuardAlertRow.tenant == tenant, GuardAlertDeliveryRow.delivered_at.is_(None),
                                GuardAlertDeliveryRow.gave_up_at.is_(None), GuardAlertDeliveryRow.next_at <= now)
                         .order_by(GuardAlertRow.id, GuardAlertDeliveryRow.channel)).all()
        return [(Alert(a.tenant, a.kind, a.key, a.page, a.reason, a.at, a.id), _delivery(d)) for a, d in rows]


def claim(store: Store, d: Delivery, *, until: datetime) -> bool:
    """Take the delivery for this worker until ``until``: True when no other worker changed it since it was read."""
    with store.session() as s:
        done = s.execute(update(GuardAlertDeliveryRow)
                         .where(*_same(d), GuardAlertDeliveryRow.next_at == d.next_at,
                                GuardAlertDeliveryRow.attempts == d.attempts,
                                GuardAlertDeliveryRow.delivered_at.is_(None), GuardAlertDeliveryRow.gave_up_at.is_(None))
                         .values(next_at=until).execution_options(synchronize_session=False))
        return done.rowcount == 1


def delivered(store: Store, d: Delivery, *, at: datetime) -> None:
    with store.session() as s:
        s.execute(update(GuardAlertDeliveryRow).where(*_same(d))
                  .values(attempts=d.attempts + 1, delivered_at=at).execution_options(synchronize_session=False))


def failed(store: Store, d: Delivery, *, error: str, at: datetime, retry_at: datetime | None) -> None:
    """The channel refused: try again at ``retry_at``, or give up (None)."""
    with store.session() as s:
        s.execute(update(GuardAlertDeliveryRow).where(*_same(d))
                  .values(attempts=d.attempts + 1, last_error=error[:2000], next_at=retry_at or at,
                          gave_up_at=None if retry_at else at).execution_options(synchronize_session=False))


def of_alerts(store: Store, alert_ids: Iterable[int]) -> dict[int, tuple[Delivery, ...]]:
    """Each alert's deliveries, by channel."""
    ids = sorted(set(alert_ids))
    found: dict[int, list[Delivery]] = {i: [] for i in ids}
    if not ids:
        return {}
    with store.session() as s:
        for row in s.scalars(select(GuardAlertDeliveryRow).where(GuardAlertDeliveryRow.alert_id.in_(ids))
                             .order_by(GuardAlertDeliveryRow.alert_id, GuardAlertDeliveryRow.channel)):
            found[row.alert_id].append(_delivery(row))
    return {i: tuple(ds) for i, ds in found.items()}


def _same(d: Delivery) -> tuple[object, ...]:
    return GuardAlertDeliveryRow.alert_id == d.alert_id, GuardAlertDeliveryRow.channel == d.channel


def _delivery(r: GuardAlertDeliveryRow) -> Delivery:
    return Delivery(r.alert_id, r.channel, r.attempts, r.last_error, r.next_at, r.delivered_at, r.gave_up_at)
