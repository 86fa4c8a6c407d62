"""Every error the API answers is an RFC 9457 problem document (``application/problem+json``): ``type``,
``title``, ``status``, ``detail``, and launchdeck's ``hint`` (what to do) and ``problems`` (located plan
problems, or the request's invalid fields).

launchdeck's errors map to statuses by kind: NotFound 404, Refused 403, Conflict 409, Unauthenticated 401,
a PlanError or any other UsageError 422, StoreError 503. A request FastAPI cannot validate (bad JSON,
a wrong type, a missing field) is 422 too; anything unexpected is a 500 that says nothing of its cause
(which is logged), never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from launchdeck.errors import (Conflict, LaunchdeckError, NotFound, PlanError, Refused, StoreError, Unauthenticated,
                               UsageError)

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("launchdeck.server")


class ProblemItem(BaseModel):
    """One located problem: a plan's (file, line, path in the document) or a request field's (path)."""

    file: str | None = None
    line: int | None = None
    path: str = ""
    message: str
    fix: str = ""


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str = Field(description="What went wrong, for a person.")
    hint: str | None = Field(default=None, description="What to do about it.")
    problems: list[ProblemItem] | None = None


#: (status, type slug, title) by error kind, most specific first.
_KINDS: tuple[tuple[type[LaunchdeckError], int, str, str], ...] = (
    (Unauthenticated, 401, "unauthenticated", "Not authenticated"),
    (NotFound, 404, "not-found", "Not found"),
    (Refused, 403, "refused", "Refused"),
    (Conflict, 409, "conflict", "Conflict"),
    (PlanError, 422, "invalid-input", "Invalid plan or approvals"),
    (UsageError, 422, "invalid-request", "Invalid request"),
    (StoreError, 503, "store-unavailable", "Release store unavailable"),
)
_HTTP = {401: ("unauthenticated", "Not authenticated"),
         404: ("not-found", "Not found"), 405: ("method-not-allowed", "Method not allowed"),
         413: ("too-large", "Request too large"), 415: ("unsupported-media-type", "Unsupported media type"),
         500: ("internal", "Internal error"), 503: ("unavailable", "Unavailable")}


def type_uri(slug: str) -> str:
    return f"urn:launchdeck:problem:{slug}"


def problem(status: int, slug: str, title: str, detail: str, *, hint: str | None = None,
            problems: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = Problem(type=type_uri(slug), title=title, status=status, detail=detail, hint=hint or None,
                   problems=[ProblemItem(**p) for p in problems] if problems is not None else None)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, media_type=MEDIA_TYPE,
                        headers=headers)


def from_error(e: LaunchdeckError) -> JSONResponse:
    status, slug, title = next(((s, k, t) for cls, s, k, t in _KINDS if isinstance(e, cls)),
                               (422 if e.exit_code == 2 else 500, "launchdeck-error", "launchdeck error"))
    items = None
    if isinstance(e, PlanError):
        items = [{"file": p.file, "line": p.line, "path": p.path, "message": p.message, "fix": p.fix}
                 for p in e.problems]
    detail = e.message.split("\n", 1)[0].rstrip(":") if isinstance(e, PlanError) else e.message
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status >= 500:
        log.warning("%s: %s", title, e.message)
    return problem(status, slug, title, detail, hint=e.hint, problems=items, headers=headers)


def install(app: FastAPI) -> None:
    """Answer every error as a problem document."""

    @app.exception_handler(LaunchdeckError)
    async def _launchdeck(_: Request, e: LaunchdeckError) -> JSONResponse:
        return from_error(e)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        return invalid_request(e)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        return http_error(e)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, e: Exception) -> JSONResponse:
        # The server logs the traceback itself (Starlette re-raises after this answer is sent).
        return problem(500, "internal", "Internal error", "the server failed on this request; it is logged",
                       hint="try again; if it persists, report it with the server's log")


def invalid_request(e: RequestValidationError) -> JSONResponse:
    """A request whose parameters or body do not fit its schema: every problem, each with where and what."""
    items = [{"path": ".".join(str(p) for p in err.get("loc", ())), "message": str(err.get("msg", "invalid")),
              "fix": _fix(err)} for err in e.errors()]
    noun = "problem" if len(items) == 1 else "problems"
    return problem(422, "invalid-request", "Invalid request", f"{len(items)} {noun} in the request",
                   hint="see `problems`, and the request's schema at /docs", problems=items)


def http_error(e: StarletteHTTPException) -> JSONResponse:
    """An error Starlette raised itself (no such route, wrong method, a body it could not decode)."""
    if e.status_code == 400:  # a body FastAPI could not decode (not UTF-8): invalid, like bad JSON
        return problem(422, "invalid-request", "Invalid request", "the body is not JSON text (UTF-8)",
                       hint="send a JSON body; see the request's schema at /docs")
    slug, title = _HTTP.get(e.status_code, ("http-error", "HTTP error"))
    detail = e.detail if isinstance(e.detail, str) else title
    if e.status_code == 404:
        detail, hint = "no such route", "the API is under /api/v1; see /docs"
    else:
        hint = None
    return problem(e.status_code, slug, title, detail, hint=hint, headers=dict(e.headers or {}) or None)


def _fix(err: Any) -> str:
    kind = str(err.get("type", ""))
    if kind == "missing":
        return "add it"
    if kind == "extra_forbidden":
        return "remove it"
    if kind == "json_invalid":
        return "send a JSON body"
    return ""


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries for these error statuses, each a problem document."""
    described = {401: "No API token, or one unknown or revoked", 403: "The token's person may not do this",
                 404: "No such release or plan in the token's tenant", 409: "The release's state does not allow it",
                 422: "The request (or the plan in it) is invalid", 503: "The release store is unreachable"}
    return {s: {"model": Problem, "description": described.get(s, "Problem")} for s in statuses}


def fix_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Problem responses are documented as ``application/problem+json``, which is what they are sent as."""
    ref = "#/components/schemas/Problem"
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                if content.get("application/json", {}).get("schema", {}).get("$ref") == ref:
                    content[MEDIA_TYPE] = content.pop("application/json")
    return schema
