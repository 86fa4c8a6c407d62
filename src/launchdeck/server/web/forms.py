"""The dashboard's forms: signing in and out, and people's actions on a release (sign-off, decide, go / no-go,
pause, resume, kill switch).

Every form carries the session's CSRF token (a POST without it is refused, 403). An action needs the
API role operator, as in the API, and then the plan role the person acts in, checked by
``services.actions`` exactly as for the API and the CLI; the page then shows what was recorded.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from launchdeck.errors import Refused, UsageError
from launchdeck.server.routes_releases import ReleaseName
from launchdeck.server.web import PREFIX, render, session
from launchdeck.services import actions, details
from launchdeck.store import tokens
from launchdeck.store.repo import Store
from launchdeck.store.tokens import Token

router = APIRouter(prefix=PREFIX, include_in_schema=False)
SOURCE = "web"
Text = Annotated[str, Form(max_length=500)]
Action = Literal["signoff", "decide", "go", "no-go", "pause", "resume", "kill"]


@router.post("/login")
async def login(request: Request, token: Annotated[str, Form(max_length=200)], csrf: Text = "",
                next: Text = "") -> Response:
    current = await session.current(request)
    session.check_csrf(current, csrf)
    token = token.strip()
    who = await run_in_threadpool(tokens.authenticate, request.app.state.store, token) \
        if token.isascii() and token else None
    if who is None:
        page = render(request, "login.html", {"csrf": current.csrf, "next": next, "who": None,
                                              "error": "That token is not valid, or it was revoked."},
                      status_code=401)
        session.keep(request, page, current)
        return page
    target = next if next.startswith(f"{PREFIX}/") and "//" not in next else f"{PREFIX}/releases"
    answer = RedirectResponse(target, status_code=303)
    # A new CSRF value at sign-in: one learnt before it (a planted cookie) is worth nothing after.
    session.keep(request, answer, session.Session(csrf=session.new_csrf()), token_hash=tokens.digest(token))
    return answer


@router.post("/logout")
async def logout(request: Request, csrf: Text = "") -> Response:
    current = await session.current(request)
    session.check_csrf(current, csrf)
    answer = RedirectResponse(f"{PREFIX}/login", status_code=303)
    session.keep(request, answer, session.Session(csrf=session.new_csrf()), sign_out=True)
    return answer


@router.post("/releases/{name}/act")
async def act(request: Request, name: ReleaseName, action: Annotated[Action, Form()], csrf: Text = "",
              role: Annotated[str, Form(max_length=120)] = "", stage: Annotated[int | None, Form(ge=1, le=1000)] = None,
              checklist: Annotated[str, Form(max_length=120)] = "",
              decision: Annotated[Literal["", "continue", "rollback"], Form()] = "", reason: Text = "") -> Response:
    """Record an action by the signed-in person and go back to the release's page, saying what was recorded."""
    current, who = await session.signed_in(request)
    session.check_csrf(current, csrf)
    if not who.allows("operator"):
        raise Refused(f"{who.person}'s API role is {who.role}: only operator or above may act on releases",
                      hint=f"ask an admin of tenant {who.tenant} for a token with role operator")
    recorded = await run_in_threadpool(_record, request.app.state.store, who, name, action, role, stage,
                                       checklist or None, decision or None, reason)
    return RedirectResponse(f"{PREFIX}/releases/{quote(name)}?done={quote(recorded.message)}", status_code=303)


def _record(store: Store, who: Token, name: str, action: str, role: str, stage: int | None, checklist: str | None,
            decision: str | None, reason: str) -> actions.Recorded:
    found = details.find(store, name=name, tenant=who.tenant)
    if action in ("go", "no-go"):
        return actions.go_decision(store, found, who=who.person, choice=action, reason=reason,
                                   source=SOURCE)
    if not role:
        raise UsageError("choose the plan role you act in", hint="pick one of your roles in the form")
    if action in ("signoff", "decide"):
        if action == "decide" and not decision:
            raise UsageError("a decision is continue or rollback", hint="press Continue or Roll back")
        return actions.approve(store, found, who=who.person, role=role, stage=stage, checklist=checklist,
                               decision=decision if action == "decide" else None, reason=reason, source=SOURCE)
    done: actions.Action = {"pause": actions.pause, "resume": actions.resume, "kill": actions.request_kill}[action]
    return done(store, found, who=who.person, role=role, reason=reason or f"from the dashboard by {who.person}",
                source=SOURCE)
