"""``GET /api/v1/releases/{name}/events``: a release live, as Server-Sent Events.

Events: ``decision`` for each decision (its provenance object; the event id is its sequence number, so
a client reconnecting with ``Last-Event-ID`` misses none), ``snapshot`` each time the release was saved
(the status object), and ``outcome`` once it finished (its wrap-up done: final evidence, last messages;
or, for a release that ended before wrap-ups were recorded, its outcome alone), which ends the stream. The store has no
notifications: each stream reads it every ``poll_seconds`` (one indexed query for the release, one
for the decisions after the last sent), and a comment goes out every ``ping_seconds`` to keep proxies
from closing a quiet stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from sse_starlette import EventSourceResponse, ServerSentEvent

from launchdeck.server import problems
from launchdeck.server.auth import StoreDep, Viewer
from launchdeck.server.routes_releases import ReleaseName
from launchdeck.services import details
from launchdeck.services.reading import finite, provenance, status_object
from launchdeck.store import queries
from launchdeck.store.repo import Store, StoredRelease
from launchdeck.store.tables import DecisionRow

router = APIRouter(prefix="/api/v1/releases", tags=["releases"], responses=problems.responses(401, 403, 404, 422, 503))
#: Decisions sent per read, so a long release's history streams in steps.
BATCH = 500


@router.get("/{name}/events", response_class=EventSourceResponse,
            responses={200: {"description": "The event stream", "content": {"text/event-stream": {}}}})
async def events(name: ReleaseName, who: Viewer, store: StoreDep, request: Request,
                 after: Annotated[int, Query(ge=0, le=2**62, description="Send decisions after this sequence number.")] = 0,
                 last_event_id: Annotated[str | None, Header(max_length=20)] = None) -> EventSourceResponse:
    """Follow the release: each decision, a snapshot of its state at each change, and its outcome."""
    found = await run_in_threadpool(details.find, store, name=name, tenant=who.tenant)
    if last_event_id and last_event_id.isdigit():
        after = max(after, int(last_event_id))
    state = request.app.state
    return EventSourceResponse(stream(store, found.id, after=after, poll_seconds=state.poll_seconds),
                               ping=state.ping_seconds)


async def stream(store: Store, release_id: int, *, after: int = 0, poll_seconds: float = 0.5) -> AsyncIterator[ServerSentEvent]:
    """The release's events until it finished (the release is followed by id: a later run of the same plan
    is another release)."""
    seq, saved_at = after, None
    while True:
        found, rows, signed = await run_in_threadpool(_read, store, release_id, seq)
        if found is None:
            return
        for d in rows:
            seq = d.seq
            yield ServerSentEvent(event="decision", id=str(d.seq), data=_json(provenance(d, stage_signoffs=signed)))
        if len(rows) == BATCH:
            continue  # more history to send before the state is current
        if found.updated_at != saved_at:
            saved_at = found.updated_at
            yield ServerSentEvent(event="snapshot", data=_json(status_object(found)))
        if finished(found):
            engine = found.state.get("engine", {})
            yield ServerSentEvent(event="outcome", data=_json({"release": found.name, "outcome": found.outcome,
                                                                "reason": engine.get("reason") or None,
                                                                "weight": engine.get("weight")}))
            return
        await anyio.sleep(poll_seconds)


def finished(found: StoredRelease) -> bool:
    """The release has its outcome and its wrap-up is done: the final evidence written and the last messages
    sent (finished means finished). A release that ended before wrap-ups were recorded has no wrap-up record
    at all, and is finished with its outcome; one being wrapped up has ``{"done": false}`` from the outcome's
    commit on (``controller.session``)."""
    if not found.outcome:
        return False
    wrapup = found.state.get("wrapup")
    return wrapup is None or bool(wrapup.get("done"))


def _read(store: Store, release_id: int,
          after: int) -> tuple[StoredRelease | None, list[DecisionRow], dict[int, list[tuple[str, str]]]]:
    """The release, its decisions after ``after``, and (when a stage passed among them) who signed each stage."""
    # The release first, then its decisions: a tick commits both together, so whatever the release row
    # says (its outcome included) is covered by the decisions read after it.
    found = queries.release_by_id(store, release_id)
    rows = queries.decisions_after(store, release_id=release_id, after_seq=after, limit=BATCH)
    signed: dict[int, list[tuple[str, str]]] = {}
    if any(d.kind == "stage.passed" for d in rows):
        for s in store.signoffs(release_id=release_id):
            if s.stage is not None:
                signed.setdefault(s.stage, []).append((s.who, s.role))
    return found, rows, signed


def _json(value: Any) -> str:
    return json.dumps(finite(value), separators=(",", ":"), allow_nan=False, default=str)

