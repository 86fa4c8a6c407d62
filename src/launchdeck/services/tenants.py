"""Tenant documents (``kind: Tenant``, ``kind: TenantPolicy``): applied by admins from the CLI or the API,
read by whatever needs the tenant's people or guard rails.

Every document given at once is checked before any is kept, so a batch is applied whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from launchdeck.errors import PlanError, Refused
from launchdeck.store import tenant_docs
from launchdeck.store.repo import Store
from launchdeck.store.tenant_docs import StoredDocument
from launchdeck.tenants.documents import TenantDocument, load_text


@dataclass(frozen=True)
class Applied:
    stored: StoredDocument
    new: bool
    """False when the newest version already had this text (nothing changed)."""


@dataclass(frozen=True)
class Current:
    """The newest applied version of a tenant's document, checked again as it is read."""

    document: TenantDocument
    version: int
    applied_by: str


def apply_documents(store: Store, texts: list[tuple[str, str]], *, by: str, tenant: str | None = None) -> list[Applied]:
    """Check each (text, file) and keep each as its tenant's newest version of its kind.

    ``tenant``: the caller's tenant (an API token's); a document for another tenant is refused. None (the
    local CLI, which has the store's keys anyway) applies documents for any tenant.
    """
    documents: list[TenantDocument] = []
    problems = []
    for text, file in texts:
        try:
            documents.append(load_text(text, file))
        except PlanError as e:
            problems.extend(e.problems)
    if problems:
        raise PlanError(problems, what="the tenant documents")
    for d in documents:
        if tenant is not None and d.tenant != tenant:
            raise Refused(f"{d.file} is tenant {d.tenant}'s {d.kind}, not your tenant {tenant}'s",
                          hint=f"set metadata.tenant to '{tenant}', or use a token of tenant '{d.tenant}'")
    seen: set[tuple[str, str]] = set()
    for d in documents:
        if (d.tenant, d.kind) in seen:
            raise Refused(f"two of the documents are tenant {d.tenant}'s {d.kind}",
                          hint="apply one document of each kind per tenant")
        seen.add((d.tenant, d.kind))
    return [Applied(*tenant_docs.apply(store, tenant=d.tenant, kind=d.kind, text=d.text, digest=d.digest,
                                       file=d.file, by=by))
            for d in documents]


def current(store: Store, *, tenant: str, kind: str) -> Current | None:
    """The tenant's newest document of this kind, or None when none was applied."""
    stored = tenant_docs.latest(store, tenant=tenant, kind=kind)
    if stored is None:
        return None
    return Current(load_text(stored.text, stored.file), stored.version, stored.applied_by)


def documents(store: Store, *, tenant: str | None = None) -> list[StoredDocument]:
    """The newest version of each document, of one tenant or of all."""
    return tenant_docs.documents(store, tenant=tenant)
