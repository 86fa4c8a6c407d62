"""``/api/v1/releases`` read side: the tenant's releases a page at a time, and one release's state, stages, gates,
decisions and their provenance (why), messages, evidence bundles and audit.

Every handler is a thin adapter over ``services``; a release of another tenant is answered 404, exactly
like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import TypeAdapter

from launchdeck.server import problems
from launchdeck.server.auth import StoreDep, Viewer
from launchdeck.server.schemas import (AuditOut, BundleOut, DecisionOut, GateOut, MessageOut, Page, StageOut, Status,
                                       WhyOut)
from launchdeck.services import details
from launchdeck.services.reading import status_object

#: Lists of hundreds of decisions: validated against their models and written as JSON in one pass of
#: pydantic-core (``answer``), not validated again and encoded by FastAPI and the json module.
_DECISIONS, _WHY = TypeAdapter(list[DecisionOut]), TypeAdapter(list[WhyOut])


def answer(shape: TypeAdapter[Any], items: list[dict[str, Any]]) -> Response:
    """``items`` as the route's ``response_model`` would answer them (camelCase, checked), already encoded."""
    return Response(shape.dump_json(shape.validate_python(items), by_alias=True), media_type="application/json")


router = APIRouter(prefix="/api/v1/releases", tags=["releases"], responses=problems.responses(401, 403, 404, 422, 503))

#: A release name as plans spell it (metadata.name), or an earlier run kept as NAME#ID.
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]*(#[0-9]+)?$"
ReleaseName = Annotated[str, Path(max_length=220, pattern=NAME_PATTERN, description="The release's name (metadata.name).")]
Phase = Literal["starting", "stage", "deciding", "held", "rolling_back", "done"]
Outcome = Literal["promoted", "rolled_back", "held", "refused", "aborted", "none"]
AllDecisions = Annotated[bool, Query(alias="all", description="Include every evaluation.")]


@router.get("", response_model=Page)
def release_list(who: Viewer, store: StoreDep,
                 phase: Annotated[Phase | None, Query(description="Only releases in this phase.")] = None,
                 outcome: Annotated[Outcome | None, Query(description="Only this outcome (`none`: unfinished).")] = None,
                 service: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9._-]+$")] = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 50,
                 cursor: Annotated[str | None, Query(max_length=40, description="The `next` of the previous page.")] = None,
                 ) -> Page:
    """The tenant's releases, newest first, a page at a time."""
    items, after = details.page(store, tenant=who.tenant, limit=limit, cursor=cursor, phase=phase, outcome=outcome,
                                service=service)
    return Page.model_validate({"items": items, "next": after})


@router.get("/{name}", response_model=Status)
def release(name: ReleaseName, who: Viewer, store: StoreDep) -> Status:
    """Where the release is: the same object as `launchdeck status --output json`."""
    return Status.model_validate(status_object(details.find(store, name=name, tenant=who.tenant)))


@router.get("/{name}/stages", response_model=list[StageOut])
def stages(name: ReleaseName, who: Viewer, store: StoreDep) -> list[StageOut]:
    """Each stage: weight, hold, the roles that sign it off, and where the release is with it."""
    found = details.find(store, name=name, tenant=who.tenant)
    return [StageOut.model_validate(s) for s in details.stages(store, found)]


@router.get("/{name}/gates", response_model=list[GateOut])
def gates(name: ReleaseName, who: Viewer, store: StoreDep) -> list[GateOut]:
    """Each gate: metric, threshold, its live values and verdict at the last evaluation, and the reason."""
    found = details.find(store, name=name, tenant=who.tenant)
    return [GateOut.model_validate(g) for g in details.gates(store, found)]


@router.get("/{name}/decisions", response_model=list[DecisionOut])
def decisions(name: ReleaseName, who: Viewer, store: StoreDep, all_: AllDecisions = False) -> list[DecisionOut]:
    """The decisions in order: the same objects as `launchdeck why --output json`."""
    found = details.find(store, name=name, tenant=who.tenant)
    return answer(_DECISIONS, details.decisions(store, found, all_=all_))  # type: ignore[return-value]


@router.get("/{name}/why", response_model=list[WhyOut])
def why(name: ReleaseName, who: Viewer, store: StoreDep, all_: AllDecisions = False) -> list[WhyOut]:
    """Provenance: every decision with the rule it follows, its inputs, its verdict and the people in it."""
    found = details.find(store, name=name, tenant=who.tenant)
    return answer(_WHY, details.why(store, found, all_=all_))  # type: ignore[return-value]


@router.get("/{name}/messages", response_model=list[MessageOut])
def messages(name: ReleaseName, who: Viewer, store: StoreDep) -> list[MessageOut]:
    """Every message the release decided to send, delivered or still in its outbox."""
    found = details.find(store, name=name, tenant=who.tenant)
    return [MessageOut.model_validate(m) for m in details.messages(store, found)]


@router.get("/{name}/evidence", response_model=list[BundleOut])
def evidence(name: ReleaseName, who: Viewer, store: StoreDep) -> list[BundleOut]:
    """The release's signed evidence bundles."""
    found = details.find(store, name=name, tenant=who.tenant)
    return [BundleOut.model_validate(b) for b in details.evidence(store, found)]


@router.get("/{name}/evidence/{bundle}", response_class=Response,
            responses={200: {"description": "The bundle (a DSSE envelope)", "content": {"application/json": {}}}})
def evidence_bundle(name: ReleaseName, bundle: Annotated[str, Path(max_length=300, pattern=r"^[A-Za-z0-9._#-]+$")], who: Viewer,
                    store: StoreDep) -> Response:
    """Download one bundle, byte for byte as it was signed (check it with `launchdeck evidence verify`)."""
    found = details.find(store, name=name, tenant=who.tenant)
    body = details.evidence_body(store, found, bundle)
    return Response(body, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{_safe_name(bundle)}"'})


@router.get("/{name}/audit", response_model=AuditOut)
def audit(name: ReleaseName, who: Viewer, store: StoreDep) -> AuditOut:
    """`launchdeck audit verify` on the server: the decision log against its chain, signed heads, final
    bundle and release row."""
    found = details.find(store, name=name, tenant=who.tenant)
    return AuditOut.model_validate(details.audit(store, found))


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
