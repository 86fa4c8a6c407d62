"""API tokens: a person in a tenant with an API role (viewer, operator, admin).

A token is ``ld_<prefix>_<secret>``: the prefix names it in `tokens list` and `tokens revoke`; only the
SHA-256 of the whole token is stored, so the database never holds one, and the token is shown once,
when it is made. A token is looked up by its hash (a unique index), never by comparing secrets.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from launchdeck.errors import NotFound, UsageError
from launchdeck.store.repo import Store, now_utc
from launchdeck.store.tables import TokenRow

#: API roles, each allowed what the one before it is, and more.
ROLES = ("viewer", "operator", "admin")
#: A token's last use is written at most this often: reading the API must not write at every request.
TOUCH_EVERY = timedelta(minutes=1)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,119}$")


@dataclass(frozen=True)
class Token:
    """A token as stored (never its secret): who it is, where, and with which API role."""

    prefix: str
    tenant: str
    person: str
    role: str
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def allows(self, role: str) -> bool:
        """True when this token's role is ``role`` or above it."""
        return ROLES.index(self.role) >= ROLES.index(role)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).hexdigest()


def create(store: Store, *, tenant: str, person: str, role: str) -> tuple[str, Token]:
    """Make a token; returns the token itself (to show once) and what is stored about it."""
    if role not in ROLES:
        raise UsageError(f"'{role}' is not an API role", hint=f"use one of: {', '.join(ROLES)}")
    for what, value in (("tenant", tenant), ("person", person)):
        if not _NAME.match(value):
            raise UsageError(f"{what} {value!r} is not a name launchdeck takes",
                             hint="letters, digits and . _ @ - (up to 120), starting with a letter or digit")
    with store.session() as s:
        prefix = secrets.token_hex(4)
        while s.scalars(select(TokenRow.id).where(TokenRow.prefix == prefix)).first() is not None:
            prefix = secrets.token_hex(4)
        token = f"ld_{prefix}_{secrets.token_urlsafe(32)}"
        row = TokenRow(tenant=tenant, person=person, role=role, token_hash=digest(token), prefix=prefix,
                       created_at=now_utc())
        s.add(row)
        s.flush()
        return token, _token(row)


def authenticate(store: Store, token: str) -> Token | None:
    """The token's holder when it is known and not revoked, else None (the caller says 401). Its last
    use is recorded at most every ``TOUCH_EVERY``."""
    return holder(store, digest(token))


def holder(store: Store, token_hash: str) -> Token | None:
    """``authenticate`` by the token's SHA-256 (what a dashboard session keeps instead of the token)."""
    with store.session() as s:
        row = s.scalars(select(TokenRow).where(TokenRow.token_hash == token_hash)).first()
        if row is None or row.revoked_at is not None:
            return None
        now = now_utc()
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
            row.last_used_at = now
        return _token(row)


def tokens(store: Store, *, tenant: str | None = None) -> list[Token]:
    """Every token (of one tenant), oldest first, revoked ones included."""
    with store.session() as s:
        q = select(TokenRow)
        if tenant:
            q = q.where(TokenRow.tenant == tenant)
        return [_token(row) for row in s.scalars(q.order_by(TokenRow.id))]


def revoke(store: Store, prefix: str) -> Token:
    """Revoke the token with this prefix from now on (revoking it again changes nothing)."""
    with store.session() as s:
        row = s.scalars(select(TokenRow).where(TokenRow.prefix == prefix.removeprefix("ld_"))).first()
        if row is None:
            raise NotFound(f"no API token with prefix '{prefix}'", hint="`launchdeck tokens list` shows every prefix")
        if row.revoked_at is None:
            s.execute(update(TokenRow).where(TokenRow.id == row.id).values(revoked_at=now_utc()))
            s.refresh(row)
        return _token(row)


def _token(row: TokenRow) -> Token:
    return Token(row.prefix, row.tenant, row.person, row.role, row.created_at, row.revoked_at, row.last_used_at)
