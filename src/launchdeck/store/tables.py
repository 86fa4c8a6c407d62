"""SQLAlchemy 2 tables: releases (with their leases), their decisions (a hash chain) and its signed heads,
sign-offs, the message outbox (with each delivery attempt and Slack threads), external effects, API tokens, registered plans, tenant documents and stored evidence.

The schema is created and changed only by the Alembic migrations in ``launchdeck/store/migrations``
(``Store(url)`` upgrades a database to the newest revision when it opens it); a change here needs a
new revision there (how to write one: the comment at the top of its alembic.ini).

Two column types keep SQLite and PostgreSQL interchangeable:

* ``JSONDoc`` is JSON on SQLite and JSONB on PostgreSQL. JSONB cannot hold NaN or ±Infinity and
  rewrites some floats (``1e+20`` comes back as the integer ``100000000000000000000``, ``-0.0`` as
  ``0.0``); the decision hash chain hashes the values as they were written, so on PostgreSQL such
  floats are stored as ``{"$float": "<repr>"}`` and turned back into the same float on reading.
* ``UTCDateTime`` is ``DateTime(timezone=True)`` that stores UTC and always reads back an aware UTC
  datetime (SQLite keeps no offset; PostgreSQL would answer in the session's time zone).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

FLOAT_KEY = "$float"


class JSONDoc(TypeDecorator[Any]):
    """JSON on SQLite, JSONB on PostgreSQL (``JSON().with_variant(JSONB(), "postgresql")``), with
    every float read back exactly as it was written on both."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        # On PostgreSQL the engine's JSON serializer (``dumps_exact``, set by ``store.connect``) wraps the floats
        # JSONB would change: it sees the text, so it walks the value only when there is one to wrap.
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        # On PostgreSQL the engine's JSON loader (``loads_exact``, set by ``store.connect``) already gave the
        # floats back: it sees the text, so it walks the value only when a wrapped float is in it.
        return value


def dumps_exact(value: Any) -> str:
    """A value as JSONB text that reads back exactly (``loads_exact``): plain ``json.dumps`` when no float in it
    needs wrapping, which the text tells without walking the value: a float JSONB would change is written
    ``NaN``, ``Infinity``, with an exponent (``1e+16``: 1e16 and above) or as ``-0.0``. Those letters inside a
    string only cost the walk."""
    text = json.dumps(value)
    return json.dumps(_wrap_floats(value)) if _INEXACT.search(text) else text


_INEXACT = re.compile(r"NaN|Infinity|e\+|-0\.0(?![0-9])")


def loads_exact(text: str | bytes) -> Any:
    """A JSONB value as ``JSONDoc`` wrote it: parsed, with its wrapped floats turned back into the floats."""
    value = json.loads(text)
    marker = _MARKER if isinstance(text, str) else _MARKER_BYTES
    return _unwrap_floats(value) if marker in text else value


_MARKER = f'"{FLOAT_KEY}"'
_MARKER_BYTES = _MARKER.encode()


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)``: written as UTC (a naive value is taken to be UTC), read back as
    an aware UTC datetime on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _jsonb_exact(f: float) -> bool:
    """True when JSONB gives this float back unchanged: finite, below 1e16 (larger ones come back as
    integers) and not -0.0 (comes back as 0.0)."""
    return math.isfinite(f) and abs(f) < 1e16 and not (f == 0.0 and math.copysign(1.0, f) < 0)


def _wrap_floats(value: Any) -> Any:
    # Exact types first: every state and decision written on PostgreSQL passes here.
    kind = type(value)
    if kind is dict:
        return {k: _wrap_floats(v) for k, v in value.items()}
    if kind is str or kind is int or value is None or kind is bool:
        return value
    if isinstance(value, float):
        return value if _jsonb_exact(value) else {FLOAT_KEY: repr(value)}
    if isinstance(value, dict):
        return {k: _wrap_floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wrap_floats(v) for v in value]
    return value


def _unwrap_floats(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        if len(value) == 1 and isinstance(value.get(FLOAT_KEY), str):
            try:
                return float(value[FLOAT_KEY])
            except ValueError:
                return value
        return {k: _unwrap_floats(v) for k, v in value.items()}
    if kind is list:
        return [_unwrap_floats(v) for v in value]
    return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONDoc, datetime: UTCDateTime}


class ReleaseRow(Base):
    __tablename__ = "releases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(200))
    plan_path: Mapped[str] = mapped_column(Text)
    plan_digest: Mapped[str] = mapped_column(String(80))
    state: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    plan_clock: Mapped[float] = mapped_column(Float, default=0.0)
    """Plan seconds elapsed when the state was last saved; a resumed run continues from here."""
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_holder: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """The process driving the release (``worker.holder_id``), while ``lease_until`` is in the future."""
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Raised by one at every change of holder: the fencing token every write is checked against."""
    submitted_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    plan_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The plan as submitted, so a worker on any machine can drive the release."""
    drive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Consecutive attempts to drive the release that failed (``leases.failed``); 0 after one that finished."""
    drive_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Why the last failed attempt failed."""
    gave_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When the workers stopped retrying the release; none claims it again until a person drives it."""
    __table_args__ = (UniqueConstraint("tenant", "name"), Index("ix_releases_due", "outcome", "lease_until"))


class DecisionRow(Base):
    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    plan_at: Mapped[float] = mapped_column(Float)
    wall_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    gate: Mapped[str | None] = mapped_column(String(120), nullable=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    __table_args__ = (UniqueConstraint("release_id", "seq"),)


class LogHeadRow(Base):
    """A signed checkpoint of a release's decision log (``store.chain.head_payload``), kept as the exact
    bytes that were signed: JSONB would reorder their keys."""

    __tablename__ = "log_heads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(Text)
    """Base64 Ed25519 signature over the DSSE encoding of ``payload``."""
    public_key: Mapped[str] = mapped_column(Text)
    """The signer's public key (PEM); whether it is trusted is decided by whoever verifies."""
    bundle: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The evidence bundle this head was signed for and embedded in (where `audit verify` looks)."""


class SignoffRow(Base):
    __tablename__ = "signoffs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    who: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(120))
    stage: Mapped[int | None] = mapped_column(Integer, nullable=True)
    checklist: Mapped[str | None] = mapped_column(String(120), nullable=True)
    decision: Mapped[str | None] = mapped_column(String(20), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(40), default="cli")
    consumed: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class MessageRow(Base):
    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    channel: Mapped[str] = mapped_column(String(120))
    event: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    epoch: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The lease epoch the message was decided under: with the release and the id, its idempotency key."""
    broadcast: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    """A threaded Slack channel also shows it in the channel (the route's ``broadcast``)."""


class MessageAttemptRow(Base):
    """One delivery attempt of an outbox message: when, and the (redacted) error when it was refused."""

    __tablename__ = "message_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ChatThreadRow(Base):
    """The parent message of a release on a threaded Slack channel: the release's messages go in its thread."""

    __tablename__ = "chat_threads"
    __table_args__ = (UniqueConstraint("release_id", "channel"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    channel: Mapped[str] = mapped_column(String(120))
    """The plan's channel name."""
    slack_channel: Mapped[str] = mapped_column(String(40))
    ts: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EffectRow(Base):
    """An external effect (router write, rollback step) a driver was allowed to send: recorded in the
    transaction that checked its lease epoch, keyed ``release:epoch:step``."""

    __tablename__ = "effects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    epoch: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(240), unique=True)
    holder: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class TokenRow(Base):
    """An API token: a person in a tenant with an API role. Only the SHA-256 of the token is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(120))
    person: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PlanRow(Base):
    """A plan registered through the API: one row per version."""

    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)
    registered_by: Mapped[str] = mapped_column(String(120))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("tenant", "name", "digest"),)


class TenantDocumentRow(Base):
    """A tenant document (``kind: Tenant`` or ``TenantPolicy``) as an admin applied it: one row per version."""

    __tablename__ = "tenant_documents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(80))
    file: Mapped[str] = mapped_column(String(300))
    applied_by: Mapped[str] = mapped_column(String(120))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("tenant", "kind", "version"),)


class EvidenceRow(Base):
    """A signed evidence bundle as written, kept so the API can serve it wherever the run was."""

    __tablename__ = "evidence"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    name: Mapped[str] = mapped_column(String(300))
    label: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("release_id", "name"),)


class GuardSpendRow(Base):
    """A tenant's spend over an hour (or any period ending ``at``), from one source."""

    __tablename__ = "guard_spend"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    amount: Mapped[float] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("tenant", "source", "at"), Index("ix_guard_spend_tenant_at", "tenant", "at"))


class GuardAlertRow(Base):
    """An alert the guard raised; ``key`` makes it fire once (a budget threshold: once a month)."""

    __tablename__ = "guard_alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    page: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("tenant", "key"),)


class GuardAlertDeliveryRow(Base):
    """One alert's delivery to one channel, kept until the channel took it or the attempts ran out."""

    __tablename__ = "guard_alert_deliveries"
    alert_id: Mapped[int] = mapped_column(Integer, ForeignKey("guard_alerts.id", ondelete="CASCADE"),
                                          primary_key=True)
    channel: Mapped[str] = mapped_column(String(120), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    gave_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (Index("ix_guard_alert_deliveries_next_at", "next_at"),)


class GuardStateRow(Base):
    """A tenant's guard state: its autonomy tier (None: the policy's), override, enforced action."""

    __tablename__ = "guard_state"
    tenant: Mapped[str] = mapped_column(String(120), primary_key=True)
    tier: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tier_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    override_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    override_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    override_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    action: Mapped[str] = mapped_column(String(20), default="none", server_default="none")
    """``none``, ``pause``, ``shrink`` or ``hook``: what the guard enforces on the tenant's releases."""
    action_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    """The action waits for an admin's approval (``budget protect``)."""
    action_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    action_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GuardHistoryRow(Base):
    __tablename__ = "guard_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(40))
    who: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)
    __table_args__ = (Index("ix_guard_history_tenant", "tenant", "at"),)
