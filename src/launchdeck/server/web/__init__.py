"""The dashboard: server-rendered pages under ``/ui`` for the release room a war room keeps open.

``pages`` answers the pages and their live fragments, ``forms`` signing in and people's actions,
``live`` the cookie-authenticated event stream and chart data; ``session`` the signed session cookie
and CSRF. Each handler is a thin adapter over ``services`` (``dashboard``, ``series``, ``details``,
``actions``) with the API's role checks. Templates are Jinja2 (``server/templates``); htmx and uPlot
are vendored under ``server/static`` (no build step, no Node.js).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from launchdeck.errors import LaunchdeckError, Unauthenticated
from launchdeck.server import problems
from launchdeck.server.web import session

HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=HERE / "templates")
PREFIX = "/ui"


def install(app: FastAPI, *, session_secret: str | None = None) -> None:
    """Mount the dashboard on ``app``: its pages, forms, event stream and static files; errors on its pages
    answered as pages (the API's stay problem documents)."""
    from launchdeck.server.web import filters, forms, live, pages

    filters.install(templates.env)
    app.state.web_signer = session.signer(session_secret)
    app.add_middleware(ServerTiming)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (pages, forms, live):
        app.include_router(module.router)

    @app.exception_handler(LaunchdeckError)
    async def _error(request: Request, e: LaunchdeckError) -> Response:
        if not request.url.path.startswith(f"{PREFIX}/"):
            return problems.from_error(e)
        return error_page(request, e)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> Response:
        if not request.url.path.startswith(f"{PREFIX}/"):
            return problems.invalid_request(e)
        return invalid_page(request, e)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> Response:
        if not request.url.path.startswith(f"{PREFIX}/") or request.url.path.startswith(f"{PREFIX}/static/"):
            return problems.http_error(e)
        detail = "no such page" if e.status_code == 404 else e.detail if isinstance(e.detail, str) else "HTTP error"
        return render(request, "error.html", {"status": e.status_code, "detail": detail, "problems": [],
                                              "hint": "open the releases list and go from there", "who": None},
                      status_code=e.status_code)

    @app.get("/", include_in_schema=False)
    @app.get(PREFIX, include_in_schema=False)
    @app.get(f"{PREFIX}/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/releases", status_code=303)


class ServerTiming:
    """Say in each dashboard answer how long the server took to make it (``Server-Timing: app;dur=MS``, shown by
    a browser's developer tools): from the request's arrival to the answer's first byte, the store read and
    the template included. Plain ASGI, so the event stream passes untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(f"{PREFIX}/"):
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - began) * 1000
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"server-timing", f"app;dur={took:.1f}".encode())]}
            await send(message)

        await self.app(scope, receive, timed)


def error_page(request: Request, e: LaunchdeckError) -> Response:
    """A dashboard error: signed out → the sign-in page (a page) or 401 (a fragment or form); otherwise the
    status the API gives the same error, with what went wrong and what to do."""
    status = problems.from_error(e).status_code
    if isinstance(e, Unauthenticated) and request.method == "GET" and "hx-request" not in request.headers:
        return RedirectResponse(f"{PREFIX}/login?next={request.url.path}", status_code=303)
    return render(request, "error.html", {"status": status, "detail": e.message, "hint": e.hint, "who": None,
                                          "problems": []}, status_code=status)


#: Where a field comes from, as a person filling the page's form or its address would say it.
_WHERE = {"body": "the form's field", "query": "the address's parameter", "path": "the address's part"}


def invalid_page(request: Request, e: RequestValidationError) -> Response:
    """A form or address the dashboard cannot take (a stage of 0, an unknown action, a filter too long): a page
    saying which field and what is wrong with it (422), not the API's JSON."""
    said = []
    for err in e.errors():
        loc = [str(p) for p in err.get("loc", ())]
        where = f"{_WHERE.get(loc[0], 'the field')} '{'.'.join(loc[1:])}'" if len(loc) > 1 else "the request"
        said.append(f"{where}: {str(err.get('msg', 'invalid')).rstrip('.')}"
                    + (" (it is missing)" if err.get("type") == "missing" else ""))
    noun = "problem" if len(said) == 1 else "problems"
    return render(request, "error.html", {"status": 422, "detail": f"{len(said)} {noun} in what the page sent",
                                          "problems": said, "who": None,
                                          "hint": "go back, correct it and send it again; the page's own forms and "
                                                  "links send valid values, so reload the page if it is old"},
                  status_code=422)


def render(request: Request, name: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"prefix": PREFIX, **context}, status_code=status_code)
