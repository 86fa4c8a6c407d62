"""The API server's application: ``create_app(db_url, embedded_worker=…)``.

It opens the release store (bringing its schema to the newest revision), answers every error as a
problem document, mounts the REST routes under ``/api/v1``, the event streams, ``/graphql``,
``/metrics``, ``/healthz`` and ``/readyz``, the dashboard under ``/ui`` (``server.web``), the Slack app's
``/slack/commands`` and ``/slack/interactions``, and documents itself at ``/openapi.json`` and ``/docs``.
With ``embedded_worker`` one worker (``controller.worker.Worker``) drives releases in a thread of its
own, with its own event loop, so a slow tick never holds up an API answer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from launchdeck import __version__
from launchdeck.server import (events, graphql, metrics, problems, routes_actions, routes_plans, routes_releases,
                               routes_guard, routes_tenants, slack, web)
from launchdeck.store import migrations
from launchdeck.store.repo import Store

log = logging.getLogger("launchdeck.server")
#: A request body larger than this is refused (413) before it is read: a plan is a few KB, 1 MB at most.
MAX_BODY_BYTES = 4_000_000
#: How long shutting down waits for the embedded worker to finish its tick and let go of its leases.
WORKER_STOP_SECONDS = 30.0


class Health(BaseModel):
    status: str


def create_app(db_url: str, *, embedded_worker: bool, data_dir: Path | None = None, poll_seconds: float = 0.5,
               ping_seconds: float = 15.0, slack_signing_secret: str | None = None) -> FastAPI:
    """The API on the store at ``db_url``. Releases it starts work in ``data_dir/<tenant>/<name>/``
    (default: ``./launchdeck-data``). Event streams read the store every ``poll_seconds``. The Slack app's
    endpoint checks requests with ``slack_signing_secret`` (default: ``LAUNCHDECK_SLACK_SIGNING_SECRET``)."""
    store = Store(db_url)  # opened now: a bad --db is said before the server starts listening
    data_dir = (data_dir or Path.cwd() / "launchdeck-data").resolve()
    worker = EmbeddedWorker(db_url, home=data_dir) if embedded_worker else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await run_in_threadpool(worker.stop, WORKER_STOP_SECONDS)
            store.close()

    app = FastAPI(title="launchdeck", version=__version__, lifespan=lifespan,
                  description="Releases, plans, people's actions and provenance. Authenticate with "
                              "`Authorization: Bearer <token>` (`launchdeck tokens create`).")
    app.state.store = store
    app.state.data_dir = data_dir
    app.state.poll_seconds = poll_seconds
    app.state.ping_seconds = ping_seconds
    app.state.metrics = metrics.registry_for(store)
    app.state.worker = worker
    app.state.slack_signing_secret = slack_signing_secret or os.environ.get(slack.SIGNING_SECRET_ENV)
    problems.install(app)
    app.add_middleware(BodyLimit)
    for module in (routes_plans, routes_actions, routes_releases, routes_tenants, routes_guard, events, metrics,
                   slack):
        app.include_router(module.router)
    app.include_router(graphql.router(), prefix="/graphql")
    web.install(app)  # the dashboard under /ui (after problems.install: its pages answer errors as pages)

    @app.get("/healthz", response_model=Health, tags=["operations"])
    async def healthz() -> Health:
        """The process is up."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["operations"], responses=problems.responses(503))
    async def readyz(request: Request) -> Health | Response:
        """The store is reachable with its schema at the newest revision (and the embedded worker runs)."""
        problem = await run_in_threadpool(_not_ready, store, request.app.state.worker)
        if problem:
            return problems.problem(503, "not-ready", "Not ready", problem)
        return Health(status="ready")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems.fix_openapi(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _not_ready(store: Store, worker: EmbeddedWorker | None) -> str | None:
    try:
        with store.engine.connect() as conn:
            at, head = migrations.current(conn), migrations.heads()
    except Exception as e:  # noqa: BLE001 - any failure to reach the store means not ready
        return f"the release store is unreachable ({type(e).__name__})"
    if at != head:
        return f"the store's schema is at {', '.join(sorted(at)) or 'nothing'}, not {', '.join(sorted(head))}"
    if worker is not None and not worker.alive():
        return "the embedded worker stopped; see the server's log"
    return None


class BodyLimit:
    """Refuse a body whose Content-Length is over ``MAX_BODY_BYTES`` (413) before reading it (plain ASGI,
    so streamed answers pass untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length", b"")
            if length.isdigit() and int(length) > MAX_BODY_BYTES:
                refused = problems.problem(413, "too-large", "Request too large",
                                           f"the body is {int(length):,} bytes, over the limit of {MAX_BODY_BYTES:,}",
                                           hint="a plan is a few KB")
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


class EmbeddedWorker:
    """One ``Worker`` in a thread with its own event loop, started and stopped with the app."""

    def __init__(self, db_url: str, *, home: Path) -> None:
        self.db_url, self.home = db_url, home
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="launchdeck-worker", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float) -> None:
        if self._loop is not None and self._stop is not None and self.alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:  # noqa: BLE001 - said in the log; /readyz then answers 503
            log.exception("the embedded worker stopped")
        finally:
            self._ready.set()

    async def _main(self) -> None:
        from launchdeck.controller.worker import Worker

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        await Worker(self.db_url, home=self.home).run(self._stop)
