"""Who is looking at the dashboard: a signed session cookie made when a person signs in with an API token,
and the CSRF token every form carries.

The cookie holds the token's SHA-256 (never the token) and a random CSRF value, signed with the
server's session secret (itsdangerous): it is HttpOnly, SameSite=Strict, and Secure when the request
came over https (directly or through a proxy saying ``X-Forwarded-Proto: https``). Each request looks
the token up again, so a revoked token ends its sessions at once. The secret is
``LAUNCHDECK_SESSION_SECRET`` (the same on every server behind one address), else one made at start:
then a restart signs everyone out.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from itsdangerous import BadSignature, URLSafeTimedSerializer

from launchdeck.errors import Refused, Unauthenticated
from launchdeck.store import tokens
from launchdeck.store.tokens import Token

COOKIE = "launchdeck_session"
SECRET_ENV = "LAUNCHDECK_SESSION_SECRET"
#: A session lasts a working day and a night shift; then the person signs in again.
MAX_AGE_SECONDS = 16 * 3600
_SALT = "launchdeck.web.session"


@dataclass(frozen=True)
class Session:
    """A browser's session: the CSRF value its forms must send, and the signed-in token's holder (None:
    not signed in)."""

    csrf: str
    who: Token | None = None


def signer(secret: str | None = None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret or os.environ.get(SECRET_ENV) or secrets.token_urlsafe(32), salt=_SALT)


def _signer(request: Request) -> URLSafeTimedSerializer:
    found: URLSafeTimedSerializer = request.app.state.web_signer
    return found


def _payload(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 4096:
        return None
    try:
        data = _signer(request).loads(raw, max_age=MAX_AGE_SECONDS)
    except BadSignature:  # forged, from another secret, or expired (SignatureExpired is a BadSignature)
        return None
    return data if isinstance(data, dict) and isinstance(data.get("c"), str) else None


async def current(request: Request) -> Session:
    """The request's session; a fresh, signed-out one (with a new CSRF value) when it has none."""
    data = _payload(request)
    if data is None:
        return Session(csrf=secrets.token_urlsafe(24))
    who = None
    if isinstance(data.get("t"), str):
        who = await run_in_threadpool(tokens.holder, request.app.state.store, data["t"])
    return Session(csrf=data["c"], who=who)


async def signed_in(request: Request) -> tuple[Session, Token]:
    """The session and its person; Unauthenticated (the page sends them to sign in) otherwise."""
    session = await current(request)
    if session.who is None:
        raise Unauthenticated("not signed in to the dashboard", hint="sign in at /ui/login with an API token")
    return session, session.who


def check_csrf(session: Session, sent: str | None) -> None:
    """A form's CSRF value must be the session's: a forged cross-site POST does not know it (403)."""
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise Refused("the form's CSRF token is missing or does not match this session",
                      hint="reload the page and submit the form again")


def keep(request: Request, response: Response, session: Session, *, token_hash: str | None = None,
         sign_out: bool = False) -> None:
    """Set the session cookie: signed in as ``token_hash``, kept as it is, or signed out."""
    data: dict[str, str] = {"c": session.csrf}
    if not sign_out:
        current_hash = token_hash or (_payload(request) or {}).get("t")
        if current_hash:
            data["t"] = current_hash
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"
    response.set_cookie(COOKIE, _signer(request).dumps(data), max_age=MAX_AGE_SECONDS, httponly=True,
                        samesite="strict", secure=secure, path="/")


def new_csrf() -> str:
    return secrets.token_urlsafe(24)
