"""Tenant documents as applied, one row per version of each (tenant, kind).

Applying the same text again changes nothing; a changed text is the next version. Releases and checks
read the newest version, and name it (the evidence says which policy version a release ran under).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from launchdeck.errors import Conflict
from launchdeck.store.repo import Store, now_utc
from launchdeck.store.tables import TenantDocumentRow


@dataclass(frozen=True)
class StoredDocument:
    tenant: str
    kind: str
    version: int
    text: str
    digest: str
    file: str
    """Where the admin's copy was read from (policy problems name it with a line)."""
    applied_by: str
    applied_at: datetime


def apply(store: Store, *, tenant: str, kind: str, text: str, digest: str, file: str,
          by: str) -> tuple[StoredDocument, bool]:
    """Keep this text as the newest version of the tenant's document of this kind; returns it and whether
    it is new (False: the newest version already has this text)."""
    try:
        return _apply(store, tenant=tenant, kind=kind, text=text, digest=digest, file=file, by=by)
    except IntegrityError:  # another admin applied a version at the same moment
        raise Conflict(f"another version of tenant {tenant}'s {kind} was applied at the same moment",
                       hint="look at it with `launchdeck tenant show`, then apply yours again") from None


def _apply(store: Store, *, tenant: str, kind: str, text: str, digest: str, file: str,
           by: str) -> tuple[StoredDocument, bool]:
    with store.session() as s:
        newest = s.scalars(select(TenantDocumentRow).where(TenantDocumentRow.tenant == tenant,
                                                           TenantDocumentRow.kind == kind)
                           .order_by(TenantDocumentRow.version.desc()).limit(1).with_for_update()).first()
        if newest is not None and newest.digest == digest:
            return _doc(newest), False
        row = TenantDocumentRow(tenant=tenant, kind=kind, version=(newest.version + 1) if newest else 1, text=text,
                                digest=digest, file=file[:300], applied_by=by, applied_at=now_utc())
        s.add(row)
        s.flush()
        return _doc(row), True


def latest(store: Store, *, tenant: str, kind: str) -> StoredDocument | None:
    """The newest version of the tenant's document of this kind; None when none was ever applied."""
    with store.session() as s:
        row = s.scalars(select(TenantDocumentRow).where(TenantDocumentRow.tenant == tenant,
                                                        TenantDocumentRow.kind == kind)
                        .order_by(TenantDocumentRow.version.desc()).limit(1)).first()
        return _doc(row) if row is not None else None


def documents(store: Store, *, tenant: str | None = None) -> list[StoredDocument]:
    """The newest version of each document (of one tenant, or of every tenant), by tenant and kind."""
    with store.session() as s:
        newest = (select(func.max(TenantDocumentRow.id))
                  .group_by(TenantDocumentRow.tenant, TenantDocumentRow.kind))
        if tenant is not None:
            newest = newest.where(TenantDocumentRow.tenant == tenant)
        rows = s.scalars(select(TenantDocumentRow).where(TenantDocumentRow.id.in_(newest))
                         .order_by(TenantDocumentRow.tenant, TenantDocumentRow.kind))
        return [_doc(row) for row in rows]


def _doc(row: TenantDocumentRow) -> StoredDocument:
    return StoredDocument(row.tenant, row.kind, row.version, row.text, row.digest, row.file, row.applied_by,
                          row.applied_at)
