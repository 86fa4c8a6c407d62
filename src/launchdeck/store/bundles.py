"""Evidence bundles kept in the store as they are written, so the API serves them wherever the run was."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from launchdeck.store.repo import Store, now_utc
from launchdeck.store.tables import EvidenceRow


@dataclass(frozen=True)
class StoredBundle:
    name: str
    label: str
    created_at: datetime
    size: int
    body: str | None = None
    """The bundle's JSON text (only when one bundle was asked for)."""


def keep(store: Store, *, release_id: int, name: str, label: str, body: str) -> None:
    """Keep the bundle's text; a bundle written again under the same name replaces the one kept."""
    with store.session() as s:
        row = s.scalars(select(EvidenceRow).where(EvidenceRow.release_id == release_id,
                                                  EvidenceRow.name == name)).first()
        if row is None:
            s.add(EvidenceRow(release_id=release_id, name=name, label=label, body=body, created_at=now_utc()))
        else:
            row.label, row.body, row.created_at = label, body, now_utc()


def listed(store: Store, *, release_id: int) -> list[StoredBundle]:
    """The release's bundles, in the order they were written, without their bodies."""
    with store.session() as s:
        rows = s.execute(select(EvidenceRow.name, EvidenceRow.label, EvidenceRow.created_at, EvidenceRow.body)
                         .where(EvidenceRow.release_id == release_id).order_by(EvidenceRow.id))
        return [StoredBundle(name, label, at, len(body.encode("utf-8"))) for name, label, at, body in rows]


def bundle(store: Store, *, release_id: int, name: str) -> StoredBundle | None:
    with store.session() as s:
        row = s.scalars(select(EvidenceRow).where(EvidenceRow.release_id == release_id,
                                                  EvidenceRow.name == name)).first()
        if row is None:
            return None
        return StoredBundle(row.name, row.label, row.created_at, len(row.body.encode("utf-8")), row.body)
