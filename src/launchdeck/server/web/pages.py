"""The dashboard's pages: sign-in, the releases list, a release's room, a train; and the fragments the pages
swap in live (the list's rows, the room's panels, the audit result).

Reads go through ``services``: a release of another tenant is NotFound (404), exactly as in the API.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from launchdeck.server.routes_releases import ReleaseName
from launchdeck.server.web import PREFIX, render, session
from launchdeck.services import dashboard, details
from launchdeck.store import queries
from launchdeck.store.tokens import Token

router = APIRouter(prefix=PREFIX, include_in_schema=False)
SignedIn = Annotated[tuple[session.Session, Token], Depends(session.signed_in)]
Show = Literal["all", "active", "recent"]


@router.get("/login", response_class=HTMLResponse)
async def login(request: Request, next: Annotated[str, Query(max_length=300)] = "") -> HTMLResponse:
    current = await session.current(request)
    page = render(request, "login.html", {"csrf": current.csrf, "next": next, "who": current.who, "error": None})
    session.keep(request, page, current)
    return page


def _list(request: Request, who: Token, csrf: str, show: str, q: str) -> dict[str, object]:
    store = request.app.state.store
    return {"who": who, "csrf": csrf, "show": show, "q": q,
            "overview": dashboard.overview(store, tenant=who.tenant, show=show, text=q),
            "trains": dashboard.trains(store, tenant=who.tenant)}


@router.get("/releases", response_class=HTMLResponse)
async def releases(request: Request, signed: SignedIn, show: Show = "all",
                   q: Annotated[str, Query(max_length=100)] = "") -> HTMLResponse:
    """Active and recent releases, what waits on a person, freezes in force; htmx asks for the rows alone."""
    current, who = signed
    context = await run_in_threadpool(_list, request, who, current.csrf, show, q)
    fragment = "hx-request" in request.headers
    return render(request, "_list_body.html" if fragment else "releases.html", context)


def _room(request: Request, who: Token, csrf: str, name: str) -> dict[str, object]:
    store = request.app.state.store
    found = details.find(store, name=name, tenant=who.tenant)
    room = dashboard.room(store, found, person=who.person, may_act=who.allows("operator"))
    return {"who": who, "csrf": csrf, "name": found.name, "room": room,
            "lastSeq": queries.last_seq(store, release_id=found.id)}


@router.get("/releases/{name}", response_class=HTMLResponse)
async def release(request: Request, name: ReleaseName, signed: SignedIn,
                  done: Annotated[str, Query(max_length=500)] = "") -> HTMLResponse:
    current, who = signed
    context = await run_in_threadpool(_room, request, who, current.csrf, name)
    return render(request, "release.html", {**context, "done": done})


@router.get("/releases/{name}/panels", response_class=HTMLResponse)
async def panels(request: Request, name: ReleaseName, signed: SignedIn) -> HTMLResponse:
    """The room's live parts, rendered again when the event stream says something changed."""
    current, who = signed
    context = await run_in_threadpool(_room, request, who, current.csrf, name)
    return render(request, "_room.html", context)


@router.get("/releases/{name}/audit", response_class=HTMLResponse)
async def audit(request: Request, name: ReleaseName, signed: SignedIn) -> HTMLResponse:
    """`launchdeck audit verify` for the evidence panel (asked once the page shows)."""
    _, who = signed
    store = request.app.state.store

    def verify() -> dict[str, object]:
        return details.audit(store, details.find(store, name=name, tenant=who.tenant))

    return render(request, "_audit.html", {"audit": await run_in_threadpool(verify)})


@router.get("/trains/{name}", response_class=HTMLResponse)
async def train(request: Request, name: ReleaseName, signed: SignedIn) -> HTMLResponse:
    """A train's services as a graph in dependency order, each with its release's state."""
    current, who = signed
    found = await run_in_threadpool(dashboard.train, request.app.state.store, tenant=who.tenant, name=name)
    return render(request, "train.html", {"who": who, "csrf": current.csrf, "train": found,
                                          "graph": layout(found["services"])})


def layout(services: list[dict[str, object]]) -> dict[str, object]:
    """Where each service sits in the train's SVG: one column per dependency layer, edges from what it comes
    after. Pure arithmetic, so the page needs no graph library."""
    width, height, gap_x, gap_y = 180, 58, 70, 24
    columns: dict[int, list[dict[str, object]]] = {}
    for svc in services:
        columns.setdefault(int(svc["layer"]), []).append(svc)  # type: ignore[call-overload]
    at: dict[str, tuple[int, int]] = {}
    nodes = []
    for layer, members in sorted(columns.items()):
        for i, svc in enumerate(members):
            x, y = 20 + layer * (width + gap_x), 20 + i * (height + gap_y)
            at[str(svc["name"])] = (x, y)
            nodes.append({**svc, "x": x, "y": y})
    edges = [{"x1": at[a][0] + width, "y1": at[a][1] + height // 2, "x2": at[str(s["name"])][0],
              "y2": at[str(s["name"])][1] + height // 2}
             for s in services for a in s["after"] if a in at]  # type: ignore[attr-defined]
    tallest = max((len(m) for m in columns.values()), default=1)
    return {"nodes": nodes, "edges": edges, "w": width, "h": height,
            "width": 40 + len(columns) * (width + gap_x) - gap_x, "height": 40 + tallest * (height + gap_y) - gap_y}
