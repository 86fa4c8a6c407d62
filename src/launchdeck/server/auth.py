"""Who is asking: the bearer token's person, tenant and API role, checked at every endpoint under /api/v1.

No token, or one unknown or revoked: 401. An API role too low for the endpoint: 403 with the reason
(viewer reads; operator also starts releases and acts on them; admin also registers plans and applies
tenant documents). The
plan roles a person acts in (sre, release-manager…) are checked by ``services.actions``, against the
plan, as the CLI checks them. The token itself is never logged nor echoed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from launchdeck.errors import Refused, Unauthenticated
from launchdeck.store import tokens
from launchdeck.store.repo import Store
from launchdeck.store.tokens import Token

_bearer = HTTPBearer(auto_error=False, scheme_name="token",
                     description="An API token from `launchdeck tokens create` (a person in a tenant, with a role).")
_MAKE_ONE = "send `Authorization: Bearer <token>`; an admin makes one with `launchdeck tokens create`"
#: What each API role may do, said when a lower one is refused.
_MAY = {"viewer": "read", "operator": "start releases and act on them", "admin": "register plans and apply tenant documents"}


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def principal(request: Request,
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Token:
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("no API token", hint=_MAKE_ONE)
    token = credentials.credentials
    if len(token) > 200 or not token.isascii():
        raise Unauthenticated("the API token is not valid", hint=_MAKE_ONE)
    found = await run_in_threadpool(tokens.authenticate, store_of(request), token)
    if found is None:
        raise Unauthenticated("the API token is not valid, or it was revoked", hint=_MAKE_ONE)
    return found


def at_least(role: str) -> Callable[..., object]:
    """A dependency giving the caller's token when its API role is ``role`` or above, else 403."""

    async def check(who: Annotated[Token, Depends(principal)]) -> Token:
        if not who.allows(role):
            raise Refused(f"{who.person}'s API role is {who.role}: only {role} or above may {_MAY[role]}",
                          hint=f"ask an admin of tenant {who.tenant} for a token with role {role}")
        return who

    return check


Viewer = Annotated[Token, Depends(at_least("viewer"))]
Operator = Annotated[Token, Depends(at_least("operator"))]
Admin = Annotated[Token, Depends(at_least("admin"))]
StoreDep = Annotated[Store, Depends(store_of)]
