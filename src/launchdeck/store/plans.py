"""Plans registered through the API, one row per version (tenant, name, digest).

Registering the same text again changes nothing; a changed text is a new version, and a release
started from a registered plan takes its newest version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from launchdeck.store.repo import Store, now_utc
from launchdeck.store.tables import PlanRow


@dataclass(frozen=True)
class RegisteredPlan:
    tenant: str
    name: str
    digest: str
    text: str
    registered_by: str
    registered_at: datetime
    version: int
    """1 for the first text registered under this name, then one more for each new text."""


def register(store: Store, *, tenant: str, name: str, digest: str, text: str, by: str) -> tuple[RegisteredPlan, bool]:
    """Keep this version of the plan; returns it and whether it is new (False: the same text was there)."""
    with store.session() as s:
        rows = list(s.scalars(select(PlanRow).where(PlanRow.tenant == tenant, PlanRow.name == name)
                              .order_by(PlanRow.id)))
        for i, row in enumerate(rows):
            if row.digest == digest:
                return _plan(row, i + 1), False
        row = PlanRow(tenant=tenant, name=name, digest=digest, text=text, registered_by=by, registered_at=now_utc())
        s.add(row)
        s.flush()
        return _plan(row, len(rows) + 1), True


def latest(store: Store, *, tenant: str, name: str) -> RegisteredPlan | None:
    """The newest version of the tenant's plan called ``name``; None when there is none."""
    with store.session() as s:
        q = select(PlanRow).where(PlanRow.tenant == tenant, PlanRow.name == name)
        count = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        row = s.scalars(q.order_by(PlanRow.id.desc()).limit(1)).first()
        return _plan(row, count) if row is not None else None


def plans(store: Store, *, tenant: str | None) -> list[RegisteredPlan]:
    """The newest version of each of the tenant's plans (every tenant's: None, for the local CLI), by name."""
    of = [PlanRow.tenant == tenant] if tenant is not None else []
    with store.session() as s:
        counts = {(t, n): c for t, n, c in s.execute(select(PlanRow.tenant, PlanRow.name, func.count()).where(*of)
                                                     .group_by(PlanRow.tenant, PlanRow.name))}
        newest = select(func.max(PlanRow.id)).where(*of).group_by(PlanRow.tenant, PlanRow.name)
        rows = s.scalars(select(PlanRow).where(PlanRow.id.in_(newest)).order_by(PlanRow.tenant, PlanRow.name))
        return [_plan(row, counts[row.tenant, row.name]) for row in rows]


def _plan(row: PlanRow, version: int) -> RegisteredPlan:
    return RegisteredPlan(row.tenant, row.name, row.digest, row.text, row.registered_by, row.registered_at, version)
