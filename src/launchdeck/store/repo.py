"""The release store: state, decisions, sign-offs and outbox messages, committed together.

A tick's new state, its decisions (hash-chained, so a changed row is detectable) and the messages
announcing them go into one transaction: a decision is never saved without its state change, and a
message is never lost between deciding and sending. The log's head is signed at checkpoints
(``record_head``; what a hash and a head cover: ``store.chain``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from launchdeck.errors import LaunchdeckError, LeaseLost, NotFound, StoreError, UsageError
from launchdeck.store import claims, connect, leases, migrations, saves
from launchdeck.store.chain import (GENESIS, Signature, canonical_payload, chain_hash, check_chain, decision_body,
                                   head_payload)
from launchdeck.store.defaults import DEFAULT_URL
from launchdeck.store.leases import Lease
from launchdeck.store.tables import DecisionRow, LogHeadRow, MessageAttemptRow, MessageRow, ReleaseRow, SignoffRow



def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StoredRelease:
    id: int
    tenant: str
    name: str
    plan_path: str
    plan_digest: str
    state: dict[str, Any]
    plan_clock: float
    outcome: str | None
    updated_at: datetime | None = None
    """When a run last saved the release (every tick saves): a driver's heartbeat."""
    lease_holder: str | None = None
    lease_until: datetime | None = None
    lease_epoch: int = 0
    submitted_by: str | None = None
    plan_text: str | None = None
    drive_failures: int = 0
    """Consecutive failed attempts to drive it (see ``store.leases.failed``)."""
    drive_error: str | None = None
    gave_up_at: datetime | None = None
    """When the workers gave up driving it (None: they have not)."""

    @property
    def archived(self) -> bool:
        """An ended run kept under ``name#id`` when its plan ran again (see ``Store.archive``)."""
        return self.name.endswith(f"#{self.id}")


@dataclass(frozen=True)
class NewDecision:
    plan_at: float
    kind: str
    reason: str
    gate: str | None
    inputs: dict[str, Any]


@dataclass(frozen=True)
class Tick:
    """One release's commit, as ``Store.save`` takes it (``save_many`` takes many)."""

    release_id: int
    state: dict[str, Any]
    plan_clock: float
    outcome: str | None
    decisions: list[NewDecision]
    messages: list[NewMessage]
    lease: Lease | None = None


@dataclass(frozen=True)
class NewMessage:
    channel: str
    event: str
    title: str
    text: str
    locale: str
    broadcast: bool = False
    """A threaded Slack channel also shows it in the channel (the route's ``broadcast``)."""


class Store:
    """The release store at an SQLAlchemy URL (``sqlite:///…`` or ``postgresql+psycopg://…``).

    Opening it brings the schema to the newest Alembic revision (see ``launchdeck.store.migrations``);
    several processes may open the same database at once.
    """

    def __init__(self, url: str = DEFAULT_URL) -> None:
        self.url = url
        engine: Engine | None = None
        try:
            engine = connect.engine(url)
            migrations.upgrade(engine)
        except Exception as e:
            if engine is not None:
                engine.dispose()  # a store that did not open keeps no connection
            error = _open_error(url, e)
            if error is e:
                raise
            raise error from e
        assert engine is not None
        self.engine: Engine = engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        """Close the store's pooled connections (the store can still be used; it reconnects)."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as s:
                yield s
        except SQLAlchemyError as e:
            raise StoreError(f"database error on {_safe(self.url)}: {_reason(e, self.url)}",
                             hint="check the database is reachable") from e

    # -- releases --------------------------------------------------------------------------
    def find(self, *, name: str, tenant: str | None = None) -> StoredRelease | None:
        with self.session() as s:
            q = select(ReleaseRow).where(ReleaseRow.name == name)
            if tenant:
                q = q.where(ReleaseRow.tenant == tenant)
            row = s.scalars(q.order_by(ReleaseRow.id.desc())).first()
            return _stored(row) if row else None

    def find_id(self, release_id: int) -> StoredRelease:
        with self.session() as s:
            row = s.get(ReleaseRow, release_id)
            if row is None:
                raise NotFound(f"no release with id {release_id} in {_safe(self.url)}")
            return _stored(row)

    def releases(self, *, tenant: str | None = None) -> list[StoredRelease]:
        """Every release in the store, archived runs (``name#id``) included, most recently updated first."""
        with self.session() as s:
            q = select(ReleaseRow)
            if tenant:
                q = q.where(ReleaseRow.tenant == tenant)
            return [_stored(row) for row in s.scalars(q.order_by(ReleaseRow.updated_at.desc(), ReleaseRow.id.desc()))]

    def require(self, *, name: str, tenant: str | None = None) -> StoredRelease:
        """The release called ``name`` (in ``tenant`` when given). Names are unique per tenant only, so
        without a tenant a name two tenants use is refused, saying which tenants have it."""
        with self.session() as s:
            q = select(ReleaseRow).where(ReleaseRow.name == name)
            if tenant:
                q = q.where(ReleaseRow.tenant == tenant)
            rows = list(s.scalars(q.order_by(ReleaseRow.tenant, ReleaseRow.id)))
            tenants = sorted({row.tenant for row in rows})
            if len(tenants) > 1:
                raise UsageError(f"release '{name}' exists in {len(tenants)} tenants: {', '.join(tenants)}",
                                 hint=f"say which with --tenant (e.g. --tenant {tenants[0]}) or LAUNCHDECK_TENANT")
            if not rows:
                where = f" of tenant '{tenant}'" if tenant else ""
                raise NotFound(f"no release named '{name}'{where} in {_safe(self.url)}",
                               hint="use the plan's metadata.name (and metadata.tenant), and the same --db as the run")
            return _stored(rows[-1])

    def create(self, *, tenant: str, name: str, plan_path: str, plan_digest: str,
               state: dict[str, Any]) -> StoredRelease:
        stamp = now_utc()
        with self.session() as s:
            row = ReleaseRow(tenant=tenant, name=name, plan_path=plan_path, plan_digest=plan_digest,
                             state=state, plan_clock=0.0, created_at=stamp, updated_at=stamp)
            s.add(row)
            s.flush()
            return _stored(row)

    def archive(self, *, release_id: int) -> None:
        """Keep an ended release's history under a new name so the plan's name can run again."""
        with self.session() as s:
            row = s.get(ReleaseRow, release_id)
            assert row is not None
            row.name = f"{row.name}#{row.id}"

    def submit(self, *, release_id: int, submitted_by: str, plan_text: str) -> None:
        """Mark the release as submitted for driving (a worker may claim it), with the plan it runs."""
        with self.session() as s:
            row = self.lock(s, release_id)
            row.submitted_by, row.plan_text = submitted_by, plan_text

    def save(self, *, release_id: int, state: dict[str, Any], plan_clock: float, outcome: str | None,
             decisions: list[NewDecision], messages: list[NewMessage], lease: Lease | None = None) -> None:
        """Commit a tick. With ``lease``, only while it holds (compare-and-set on holder and epoch, else
        ``LeaseLost`` and nothing is written), and the lease is renewed."""
        error = self.save_many([Tick(release_id, state, plan_clock, outcome, decisions, messages, lease)])[0]
        if error is not None:
            raise error

    def save_many(self, ticks: list[Tick]) -> list[LaunchdeckError | None]:
        """Commit the ticks of many releases in one transaction (a worker's group commit); for each, None
        when it was saved, or why it was not (``LeaseLost``: nothing of that tick is written, the others
        are). A database error raises ``StoreError`` and nothing is written.

        Each tick is what ``save`` describes. A worker commits thousands of ticks a minute, so this is
        SQLAlchemy Core with few round trips: the release rows' update (``store.saves``: on PostgreSQL one
        statement for the batch, on SQLite one per release) that is at once the compare-and-set, the
        lease's renewal and the row lock (held to commit, so two saves never extend a chain from the same
        last decision; rows are taken in id order, so two batches never deadlock), then for the whole
        batch one query for the chains' last decisions, one insert of the decisions and one of the
        messages."""
        stamp = now_utc()
        errors: list[LaunchdeckError | None] = [None] * len(ticks)
        with self.session() as s:
            conn = s.connection()
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # SQLite has no row locks: the write lock, up front
            saved = saves.write(conn, ticks, stamp)
            epochs: dict[int, int] = {}
            for i in sorted(range(len(ticks)), key=lambda i: ticks[i].release_id):  # in id order, as locked
                t = ticks[i]
                if t.release_id in saved:
                    epochs[i] = saved[t.release_id]
                else:
                    errors[i] = self._unsaved(conn, t)
            chained = [i for i in epochs if ticks[i].decisions]
            heads = self._heads(conn, sorted({ticks[i].release_id for i in chained}))
            rows: list[dict[str, Any]] = []
            for i in chained:
                t = ticks[i]
                seq, prev = heads.get(t.release_id, (0, GENESIS))
                for d in t.decisions:
                    seq += 1
                    digest = chain_hash(prev, decision_body(release_id=t.release_id, seq=seq, plan_at=d.plan_at,
                                                            wall_at=stamp, kind=d.kind, reason=d.reason, gate=d.gate,
                                                            inputs=d.inputs))
                    rows.append({"release_id": t.release_id, "seq": seq, "plan_at": d.plan_at, "wall_at": stamp,
                                 "kind": d.kind, "reason": d.reason, "gate": d.gate, "inputs": d.inputs,
                                 "prev_hash": prev, "hash": digest})
                    prev = digest
                heads[t.release_id] = (seq, prev)
            if rows:
                conn.execute(_INSERT_DECISIONS, rows)
            messages = [{"release_id": ticks[i].release_id, "channel": m.channel, "event": m.event, "title": m.title,
                         "text": m.text, "locale": m.locale, "created_at": stamp, "attempts": 0, "broadcast": m.broadcast,
                         "epoch": ticks[i].lease.epoch if ticks[i].lease else epochs[i]}
                        for i in epochs for m in ticks[i].messages]
            if messages:
                conn.execute(_INSERT_MESSAGES, messages)
        return errors

    def _unsaved(self, conn: Connection, tick: Tick) -> LaunchdeckError:
        """Why a tick's compare-and-set matched no row: the lease is another's now, or there is no such release."""
        table = ReleaseRow.__table__
        row = conn.execute(select(table.c.name, table.c.lease_holder, table.c.lease_epoch)
                           .where(table.c.id == tick.release_id).with_for_update()).first()
        if row is None:
            return NotFound(f"no release with id {tick.release_id} in {_safe(self.url)}")
        assert tick.lease is not None  # without a lease the update matches the row whatever its lease
        try:
            leases.check(row, tick.lease)  # type: ignore[arg-type]
        except LeaseLost as e:
            return e
        raise AssertionError("the compare-and-set failed on a lease that holds")  # pragma: no cover

    @staticmethod
    def _heads(conn: Connection, release_ids: list[int]) -> dict[int, tuple[int, str]]:
        """The last decision's ``seq`` and hash of each release's chain (those with none are absent)."""
        if not release_ids:
            return {}
        return {rid: (seq, digest) for rid, seq, digest in conn.execute(_HEADS, {"ids": release_ids})}

    def _append(self, s: Session, release_id: int, decisions: list[NewDecision], stamp: datetime) -> None:
        """Extend the release's hash chain with ``decisions`` (under the row's lock)."""
        last = self._last_decision(s, release_id)
        seq, prev = (last.seq, last.hash) if last else (0, GENESIS)
        for d in decisions:
            seq += 1
            digest = chain_hash(prev, decision_body(release_id=release_id, seq=seq, plan_at=d.plan_at,
                                                    wall_at=stamp, kind=d.kind, reason=d.reason, gate=d.gate,
                                                    inputs=d.inputs))
            s.add(DecisionRow(release_id=release_id, seq=seq, plan_at=d.plan_at, wall_at=stamp,
                              kind=d.kind, reason=d.reason, gate=d.gate, inputs=d.inputs,
                              prev_hash=prev, hash=digest))
            prev = digest

    def drive_failed(self, *, lease: Lease, error: str,
                     schedule: Callable[[int, float], tuple[datetime | None, NewDecision]]) -> StoredRelease | None:
        """Record that driving the release under ``lease`` failed, and give the lease up.

        ``schedule(attempts, plan_clock)`` (attempts: the consecutive failures, this one included; plan_clock:
        the release's plan time) says when to try again, None to give up, and the decision that records it; the lease stays given up until then (no
        worker claims it), or for good. None when the lease was lost already: the new holder drives it,
        and nothing is written."""
        stamp = now_utc()
        with self.session() as s:
            row = self.lock(s, lease.release_id)
            if row.lease_holder != lease.holder or row.lease_epoch != lease.epoch:
                return None
            attempts = (row.drive_failures or 0) + 1
            retry_at, decision = schedule(attempts, row.plan_clock or 0.0)
            row.drive_failures, row.drive_error = attempts, error
            row.lease_holder, row.lease_until = None, retry_at
            row.gave_up_at = stamp if retry_at is None else None
            row.updated_at = stamp
            self._append(s, lease.release_id, [decision], stamp)
            s.flush()
            return _stored(row)

    def add_messages(self, *, release_id: int, messages: list[NewMessage]) -> None:
        """Queue messages that no tick decided (the workers giving a release up), under its current epoch."""
        stamp = now_utc()
        with self.session() as s:
            row = self.lock(s, release_id)
            for m in messages:
                s.add(MessageRow(release_id=release_id, channel=m.channel, event=m.event, title=m.title,
                                 text=m.text, locale=m.locale, created_at=stamp, epoch=row.lease_epoch))

    def drive_again(self, *, release_id: int, decision: NewDecision | None = None) -> bool:
        """Forget the release's failed attempts (one finished, or a person drives it or asks for it again),
        so workers claim it as usual, recording ``decision`` if there were some. True when there were."""
        stamp = now_utc()
        with self.session() as s:
            row = self.lock(s, release_id)
            had = bool(row.drive_failures or row.gave_up_at)
            if had:
                row.drive_failures, row.drive_error, row.gave_up_at = 0, None, None
                if row.lease_holder is None:
                    row.lease_until = None  # due now, not at the retry time
                if decision is not None:
                    self._append(s, release_id, [decision], stamp)
            return had

    def decisions(self, *, release_id: int) -> list[DecisionRow]:
        with self.session() as s:
            return list(s.scalars(select(DecisionRow).where(DecisionRow.release_id == release_id)
                                  .order_by(DecisionRow.seq)))

    def verify_chain(self, *, release_id: int) -> str | None:
        """None when the chain holds, else its first break (a gap, or which decision was changed).
        Only the chain: a cut tail or a recomputed chain needs the signed heads (``controller.audit``)."""
        problems = check_chain(self.decisions(release_id=release_id))
        return problems[0] if problems else None

    @staticmethod
    def lock(s: Session, release_id: int) -> ReleaseRow:
        # One writer per release at a time, so two saves never both extend the chain from the same
        # last decision: PostgreSQL locks the release row (SELECT … FOR UPDATE, held to commit);
        # SQLite has no row locks, so the transaction takes the database's write lock up front.
        if s.get_bind().dialect.name == "sqlite":
            s.connection().exec_driver_sql("BEGIN IMMEDIATE")
        row = s.get(ReleaseRow, release_id, with_for_update=True)
        assert row is not None
        return row

    @staticmethod
    def _last_decision(s: Session, release_id: int) -> Row[tuple[int, str]] | None:
        """The last decision's sequence number and hash (``.seq``, ``.hash``), without reading the rest."""
        return s.execute(select(DecisionRow.seq, DecisionRow.hash).where(DecisionRow.release_id == release_id)
                         .order_by(DecisionRow.seq.desc()).limit(1)).first()

    # -- signed heads of the log ---------------------------------------------------------------
    def record_head(self, *, release_id: int, label: str, bundle: str | None,
                    sign: Callable[[str], Signature]) -> LogHeadRow:
        """Sign and keep the log's head as it is committed now: its count and last hash, and the release
        row's outcome and phase, read under the same lock ``save`` takes, so the head is exactly what a
        later reader finds (``sign`` gets the canonical payload text)."""
        stamp = now_utc()
        with self.session() as s:
            row = self.lock(s, release_id)
            last = self._last_decision(s, release_id)
            payload = canonical_payload(head_payload(
                release_id=release_id, release=row.name, tenant=row.tenant, plan_digest=row.plan_digest,
                count=last.seq if last else 0, head=last.hash if last else GENESIS, outcome=row.outcome,
                phase=str(row.state.get("engine", {}).get("phase", "")), label=label, signed_at=stamp))
            signature = sign(payload)
            head = LogHeadRow(release_id=release_id, signed_at=stamp, payload=payload, signature=signature.sig,
                              public_key=signature.public_key, bundle=bundle)
            s.add(head)
            s.flush()
            return head

    def log_heads(self, *, release_id: int) -> list[LogHeadRow]:
        """The release's signed heads, oldest first."""
        with self.session() as s:
            return list(s.scalars(select(LogHeadRow).where(LogHeadRow.release_id == release_id)
                                  .order_by(LogHeadRow.id)))

    # -- sign-offs ----------------------------------------------------------------------------
    def add_signoff(self, *, release_id: int, who: str, role: str, stage: int | None = None,
                    checklist: str | None = None, decision: str | None = None, reason: str = "",
                    source: str = "cli") -> None:
        with self.session() as s:
            s.add(SignoffRow(release_id=release_id, who=who, role=role, stage=stage, checklist=checklist,
                             decision=decision, reason=reason, source=source, at=now_utc()))

    def signoffs(self, *, release_id: int) -> list[SignoffRow]:
        with self.session() as s:
            return list(s.scalars(signoffs_of(release_id)))

    def consume(self, *, signoff_id: int) -> None:
        with self.session() as s:
            s.execute(update(SignoffRow).where(SignoffRow.id == signoff_id).values(consumed=True))

    # -- outbox ------------------------------------------------------------------------------
    def pending_messages(self, *, release_id: int) -> list[MessageRow]:
        with self.session() as s:
            return list(s.scalars(select(MessageRow).where(MessageRow.release_id == release_id,
                                                           MessageRow.sent_at.is_(None)).order_by(MessageRow.id)))

    def messages(self, *, release_id: int) -> list[MessageRow]:
        """Every message of the release, sent or not, in the order they were decided."""
        with self.session() as s:
            return list(s.scalars(select(MessageRow).where(MessageRow.release_id == release_id)
                                  .order_by(MessageRow.id)))

    @contextmanager
    def outbox_claim(self, *, release_id: int) -> Iterator[bool]:
        """True while this process alone may send the release's queued messages; False when another
        holds the claim (see ``launchdeck.store.claims``). Never waits."""
        try:
            with claims.outbox_claim(self.engine, release_id) as held:
                yield held
        except SQLAlchemyError as e:
            raise StoreError(f"database error on {_safe(self.url)}: {_reason(e, self.url)}",
                             hint="check the database is reachable") from e

    def mark_sent(self, *, message_id: int) -> None:
        with self.session() as s:
            stamp = now_utc()
            s.execute(update(MessageRow).where(MessageRow.id == message_id).values(sent_at=stamp))
            s.add(MessageAttemptRow(message_id=message_id, at=stamp, error=None))

    def mark_failed(self, *, message_id: int, error: str) -> None:
        with self.session() as s:
            row = s.get(MessageRow, message_id)
            if row is not None:
                row.attempts += 1
                row.last_error = error
                s.add(MessageAttemptRow(message_id=message_id, at=now_utc(), error=error))


# The save path's statements, built once: a worker runs them thousands of times a minute.
_DECISIONS = DecisionRow.__table__
_LAST = (select(_DECISIONS.c.release_id, func.max(_DECISIONS.c.seq).label("seq"))
         .where(_DECISIONS.c.release_id.in_(bindparam("ids", expanding=True))).group_by(_DECISIONS.c.release_id)
         .subquery())
_HEADS = select(_DECISIONS.c.release_id, _DECISIONS.c.seq, _DECISIONS.c.hash).join(
    _LAST, (_DECISIONS.c.release_id == _LAST.c.release_id) & (_DECISIONS.c.seq == _LAST.c.seq))
_INSERT_DECISIONS = insert(_DECISIONS)
_INSERT_MESSAGES = insert(MessageRow.__table__)


def _stored(row: ReleaseRow) -> StoredRelease:
    return StoredRelease(row.id, row.tenant, row.name, row.plan_path, row.plan_digest, dict(row.state),
                         row.plan_clock, row.outcome, row.updated_at, row.lease_holder, row.lease_until,
                         row.lease_epoch or 0, row.submitted_by, row.plan_text, row.drive_failures or 0,
                         row.drive_error, row.gave_up_at)


def _open_error(url: str, e: Exception) -> Exception:
    """The StoreError for a database that could not be opened (other exceptions pass unchanged).

    The database is the one ``--db`` / ``LAUNCHDECK_DB`` names, so each is bad input (exit 2).
    """
    if isinstance(e, SQLAlchemyError):
        return StoreError(f"cannot open the database {_safe(url)}: {_reason(e, url)}", hint=_open_hint(url, e), bad_input=True)
    if isinstance(e, ModuleNotFoundError):
        return StoreError(f"the database driver for {_safe(url)} is not installed: {e.name}",
                          hint="install it (PostgreSQL: pip install 'psycopg[binary]'), or use sqlite:///launchdeck.db",
                          bad_input=True)
    if isinstance(e, migrations.SchemaError):
        return StoreError(f"cannot use the database {_safe(url)}: {_scrub(str(e), url)}",
                          hint="point --db / LAUNCHDECK_DB at launchdeck's own database, or at an empty one",
                          bad_input=True)
    if _is_alembic_command_error(e):
        return StoreError(f"cannot use the database {_safe(url)}: its schema is at a revision this launchdeck does "
                          f"not know ({_scrub(str(e), url)})",
                          hint="a database written by a newer launchdeck needs that version (or newer); otherwise "
                               "point --db / LAUNCHDECK_DB at launchdeck's own database",
                          bad_input=True)
    return e


def _is_alembic_command_error(e: Exception) -> bool:
    """Alembic's CommandError (a revision it cannot find), without importing Alembic to ask: when it
    was never loaded (the database was already up to date), nothing can have raised it."""
    util = sys.modules.get("alembic.util")
    return util is not None and isinstance(e, util.CommandError)


def _reason(e: SQLAlchemyError, url: str) -> str:
    """One line saying what the database (driver) answered, without SQL, parameters or the password."""
    if isinstance(e, DBAPIError) and e.orig is not None:
        text = str(e.orig) or e.orig.__class__.__name__
    else:
        text = str(e.args[0]) if e.args else e.__class__.__name__
    text = " ".join(text.split("\n[SQL:")[0].split())  # one line, no statement
    return _scrub(text, url)


def _open_hint(url: str, e: SQLAlchemyError) -> str:
    if isinstance(e, ArgumentError):
        return ("check --db / LAUNCHDECK_DB: an SQLAlchemy URL such as sqlite:///launchdeck.db or "
                "postgresql+psycopg://user@host:5432/launchdeck")
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        backend = ""
    if backend == "postgresql":
        return ("is PostgreSQL running at that host and port, and do the user, password and database exist? "
                "check --db / LAUNCHDECK_DB (e.g. postgresql+psycopg://user@host:5432/launchdeck)")
    if backend == "sqlite":
        return "check the file's directory exists and is writable; --db / LAUNCHDECK_DB (e.g. sqlite:///launchdeck.db)"
    return "check --db / LAUNCHDECK_DB (e.g. sqlite:///launchdeck.db)"


def _password(url: str) -> str | None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    password = parsed.password or parsed.query.get("password")
    return str(password) if isinstance(password, str) and password else None


def _scrub(text: str, url: str) -> str:
    password = _password(url)
    return text.replace(password, "***") if password and len(password) >= 3 else text


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        if "@" in url and "://" in url:
            scheme, rest = url.split("://", 1)
            return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
        return url
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True)


def location(url: str) -> str:
    """Where a store URL keeps the releases, said to people: an SQLite file's absolute path (the default
    is relative to the working directory), any other URL without its password."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        return str(Path(url.removeprefix("sqlite:///").split("?", 1)[0]).resolve())
    return _safe(url)


def signoffs_of(release_id: int) -> Select[tuple[SignoffRow]]:
    """The release's sign-offs in the order they were given (``Store.signoffs``, and reads that share a
    transaction with other queries)."""
    return select(SignoffRow).where(SignoffRow.release_id == release_id).order_by(SignoffRow.id)
