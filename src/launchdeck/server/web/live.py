"""The release page's live data, for a signed-in browser (its session cookie, not a bearer token): the charts'
series so far, and the API's event stream (``server.events.stream``, the same reads) with each
evaluation also given as a step of every chart, so the page draws it without asking again.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from launchdeck.server import events
from launchdeck.server.routes_releases import ReleaseName
from launchdeck.server.web import PREFIX, session
from launchdeck.services import details, series
from launchdeck.store.repo import Store

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/releases/{name}/series")
async def chart_data(request: Request, name: ReleaseName) -> JSONResponse:
    """Every evaluation as a chart step, with the weight changes and decisions to mark."""
    _, who = await session.signed_in(request)
    store: Store = request.app.state.store

    def read() -> dict[str, Any]:
        return series.timeline(store, details.find(store, name=name, tenant=who.tenant))

    return JSONResponse(await run_in_threadpool(read))


@router.get("/releases/{name}/events")
async def live(request: Request, name: ReleaseName,
               after: Annotated[int, Query(ge=0, le=2**62)] = 0) -> EventSourceResponse:
    """The release's events from ``after`` on, as the API streams them; evaluations carry ``point``."""
    _, who = await session.signed_in(request)
    store: Store = request.app.state.store

    def read() -> tuple[int, list[str], dict[str, str | None]]:
        found = details.find(store, name=name, tenant=who.tenant)
        gates = details.gates(store, found)
        return found.id, series.metrics_of(gates), {g["name"]: g.get("metric") for g in gates}

    release_id, metrics, by_gate = await run_in_threadpool(read)
    state = request.app.state
    return EventSourceResponse(_charted(events.stream(store, release_id, after=after, poll_seconds=state.poll_seconds),
                                        metrics, by_gate), ping=state.ping_seconds)


async def _charted(stream: AsyncIterator[ServerSentEvent], metrics: list[str],
                   by_gate: dict[str, str | None]) -> AsyncIterator[ServerSentEvent]:
    async for event in stream:
        if event.event == "decision":
            d = json.loads(str(event.data))
            if d.get("kind") == "evaluation":
                d["point"] = series.point(d.pop("inputs", None) or {}, d["planAt"], metrics, by_gate)
            elif d.get("kind") in series.MARKED:
                d["marker"] = series.marker(d["kind"], d["planAt"], d.get("reason", ""), d.get("inputs") or {})
            event = ServerSentEvent(event="decision", id=event.id, data=json.dumps(d, separators=(",", ":")))
        yield event


@router.get("/releases/{name}/evidence/{bundle}")
async def evidence(request: Request, name: ReleaseName,
                   bundle: Annotated[str, Path(max_length=300, pattern=r"^[A-Za-z0-9._#-]+$")]) -> Response:
    """A bundle, byte for byte as signed, for a signed-in browser (the API's download, by session)."""
    _, who = await session.signed_in(request)
    store: Store = request.app.state.store

    def read() -> str:
        return details.evidence_body(store, details.find(store, name=name, tenant=who.tenant), bundle)

    body = await run_in_threadpool(read)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in bundle)
    return Response(body, media_type="application/json", headers={"Content-Disposition": f'attachment; filename="{safe}"'})
