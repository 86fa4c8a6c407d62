"""The dashboard: server-rendered pages under ``/ui`` for the release room a war room keeps open.

``pages`` answers the pages and their live fragments, ``forms`` signing in and people's actions,
``live`` the cookie-authenticated event stream and chart data; ``session`` the signed session cookie
and CSRF. Each handler is a thin adapter over ``services`` (``dashboard``, ``series``, ``details``,
``actions``) with the API's role checks. Templates are Jinja2 (``server/templates``); htmx and uPlot
are vendored under ``server/static`` (no build step, no Node.js).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

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
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (pages, forms, live):
        app.include_router(module.router)

    @app.exception_handler(LaunchdeckError)
    async def _error(request: Request, e: LaunchdeckError) -> Response:
        if not request.url.path.startswith(f"{PREFIX}/"):
            return problems.from_error(e)
        return error_page(request, e)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/releases", status_code=303)


def error_page(request: Request, e: LaunchdeckError) -> Response:
    """A dashboard error: signed out → the sign-in page (a page) or 401 (a fragment or form); otherwise the
    status the API gives the same error, with what went wrong and what to do."""
    status = problems.from_error(e).status_code
    if isinstance(e, Unauthenticated) and request.method == "GET" and "hx-request" not in request.headers:
        return RedirectResponse(f"{PREFIX}/login?next={request.url.path}", status_code=303)
    return render(request, "error.html", {"status": status, "detail": e.message, "hint": e.hint, "who": None},
                  status_code=status)


def render(request: Request, name: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"prefix": PREFIX, **context}, status_code=status_code)
