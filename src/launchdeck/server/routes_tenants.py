"""``/api/v1/tenant/documents``: the token's tenant's documents (people, guard rails); admins apply them."""

from __future__ import annotations

from fastapi import APIRouter

from launchdeck.server import problems
from launchdeck.server.auth import Admin, StoreDep, Viewer
from launchdeck.server.schemas import TenantDocumentList, TenantDocumentOut, TenantDocumentsBody
from launchdeck.services import tenants
from launchdeck.store.tenant_docs import StoredDocument

router = APIRouter(prefix="/api/v1/tenant", tags=["tenant"], responses=problems.responses(401, 403, 422, 503))


@router.post("/documents", response_model=TenantDocumentList)
def apply(body: TenantDocumentsBody, who: Admin, store: StoreDep) -> TenantDocumentList:
    """Check every document, then keep each as the tenant's newest version of its kind (all or none); a
    document of another tenant is refused (403)."""
    applied = tenants.apply_documents(store, [(d.text, d.file) for d in body.documents], by=who.person,
                                      tenant=who.tenant)
    return TenantDocumentList(tenant=who.tenant, items=[_out(a.stored, a.new) for a in applied])


@router.get("/documents", response_model=TenantDocumentList)
def documents(who: Viewer, store: StoreDep) -> TenantDocumentList:
    """The newest version of each of the tenant's documents."""
    return TenantDocumentList(tenant=who.tenant, items=[_out(d, None).model_copy(update={"text": d.text})
                                     for d in tenants.documents(store, tenant=who.tenant)])


def _out(d: StoredDocument, changed: bool | None) -> TenantDocumentOut:
    return TenantDocumentOut(tenant=d.tenant, kind=d.kind, version=d.version, digest=d.digest, file=d.file,
                             applied_by=d.applied_by, applied_at=d.applied_at, changed=changed)
