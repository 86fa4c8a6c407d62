"""Reads the API needs beyond the repository's: a tenant's releases a page at a time, one decision kind's
latest, decisions after a sequence number, the counts `/metrics` exposes, and the dashboard's list
(``release_summaries``: the few fields of each release's state it shows, read in SQL).

Pages are keyset-paginated on the release id (newest first): a page costs the same however deep it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from launchdeck.store.repo import Store, StoredRelease, _stored, signoffs_of
from launchdeck.store.tables import DecisionRow, MessageRow, ReleaseRow, SignoffRow


def release_page(store: Store, *, tenant: str, limit: int, before_id: int | None = None,
                 outcome: str | None = None, keep: Callable[[StoredRelease], bool] = lambda _: True,
                 batch: int = 200) -> tuple[list[StoredRelease], int | None]:
    """Up to ``limit`` of the tenant's releases with id below ``before_id``, newest first, that have
    ``outcome`` (``"none"``: unfinished) and that ``keep`` accepts (filters on the state, which is JSON);
    and the id to pass as ``before_id`` for the next page (None: this was the last)."""
    out: list[StoredRelease] = []
    cursor = before_id
    with store.session() as s:
        while True:
            q = select(ReleaseRow).where(ReleaseRow.tenant == tenant)
            if cursor is not None:
                q = q.where(ReleaseRow.id < cursor)
            if outcome == "none":
                q = q.where(ReleaseRow.outcome.is_(None))
            elif outcome:
                q = q.where(ReleaseRow.outcome == outcome)
            rows = list(s.scalars(q.order_by(ReleaseRow.id.desc()).limit(batch)))
            for row in rows:
                found = _stored(row)
                if keep(found):
                    out.append(found)
                    if len(out) == limit:
                        more = s.scalar(q.where(ReleaseRow.id < row.id).with_only_columns(ReleaseRow.id).limit(1))
                        return out, (row.id if more is not None else None)
            if len(rows) < batch:
                return out, None
            cursor = rows[-1].id


def decisions_after(store: Store, *, release_id: int, after_seq: int = 0, quiet: tuple[str, ...] = (),
                    only: tuple[str, ...] = (), limit: int | None = None) -> list[DecisionRow]:
    """The release's decisions after ``after_seq``, in order: without the kinds in ``quiet``, and only
    those in ``only`` when it names any. Each is a row with ``DecisionRow``'s columns as attributes."""
    with store.session() as s:
        return _decisions(s, release_id=release_id, after_seq=after_seq, quiet=quiet, only=only, limit=limit)


def decisions_and_signoffs(store: Store, *, release_id: int,
                           quiet: tuple[str, ...] = ()) -> tuple[list[DecisionRow], list[SignoffRow]]:
    """``decisions_after`` and the release's sign-offs in one transaction (`why` answers from both)."""
    with store.session() as s:
        signoffs = list(s.scalars(signoffs_of(release_id)))
        return _decisions(s, release_id=release_id, after_seq=0, quiet=quiet, only=(), limit=None), signoffs


def _decisions(s: Session, *, release_id: int, after_seq: int, quiet: tuple[str, ...], only: tuple[str, ...],
               limit: int | None) -> list[DecisionRow]:
    d = DecisionRow.__table__  # rows, not ORM objects: `why` reads hundreds of them per answer
    q = select(d).where(d.c.release_id == release_id, d.c.seq > after_seq)
    if quiet:
        q = q.where(d.c.kind.not_in(quiet))
    if only:
        q = q.where(d.c.kind.in_(only))
    q = q.order_by(d.c.seq)
    return list(s.connection().execute(q.limit(limit) if limit else q))  # type: ignore[arg-type]


def latest_decision(store: Store, *, release_id: int, kind: str) -> DecisionRow | None:
    with store.session() as s:
        return s.scalars(select(DecisionRow).where(DecisionRow.release_id == release_id, DecisionRow.kind == kind)
                         .order_by(DecisionRow.seq.desc()).limit(1)).first()


def last_seq(store: Store, *, release_id: int) -> int:
    with store.session() as s:
        return s.scalar(select(func.max(DecisionRow.seq)).where(DecisionRow.release_id == release_id)) or 0


def releases_by_phase(store: Store) -> dict[tuple[str, str], int]:
    """How many releases there are per (phase, outcome): finished ones are ``("done", outcome)``, unfinished
    ones ``(their engine's phase, "")``."""
    with store.session() as s:
        counts: Counter[tuple[str, str]] = Counter()
        for outcome, n in s.execute(select(ReleaseRow.outcome, func.count()).where(ReleaseRow.outcome.is_not(None))
                                    .group_by(ReleaseRow.outcome)):
            counts["done", str(outcome)] += n
        for (state,) in s.execute(select(ReleaseRow.state).where(ReleaseRow.outcome.is_(None))):
            counts[str((state or {}).get("engine", {}).get("phase", "starting")), ""] += 1
        return dict(counts)


def messages_pending(store: Store) -> int:
    """Messages decided but not yet delivered, over every release."""
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(MessageRow).where(MessageRow.sent_at.is_(None))) or 0


def release_by_id(store: Store, release_id: int) -> StoredRelease | None:
    with store.session() as s:
        row = s.get(ReleaseRow, release_id)
        return _stored(row) if row is not None else None


@dataclass(frozen=True)
class ReleaseSummary:
    """What the dashboard's list shows of a release, without the rest of its state (windows, histograms)."""

    id: int
    name: str
    outcome: str | None
    plan_digest: str
    submitted_by: str | None
    phase: str | None
    stage: int | None
    weight: float | None
    gates: dict[str, Any] | None
    waiting: dict[str, Any] | None
    service: str | None
    stages: int | None
    started_at: str | None
    updated_at: datetime | None


def release_summaries(store: Store, *, tenant: str, limit: int, finished: bool | None = None,
                      text: str = "") -> list[ReleaseSummary]:
    """Up to ``limit`` of the tenant's releases, newest first: unfinished or finished only (``finished``), and
    whose name or service contains ``text`` (any case). The state's fields are read by JSON path, so a
    thousand releases cost a thousand small rows, not a thousand state documents."""
    state = type_coerce(ReleaseRow.state, JSON)
    service = state[("service",)].as_string()
    q = select(ReleaseRow.id, ReleaseRow.name, ReleaseRow.outcome, ReleaseRow.plan_digest, ReleaseRow.submitted_by,
               state[("engine", "phase")].as_string(), state[("engine", "stage")].as_integer(),
               state[("engine", "weight")].as_float(), state[("engine", "gates")].as_json(),
               state[("waiting",)].as_json(), service, state[("stages",)].as_integer(),
               state[("startedAt",)].as_string(), ReleaseRow.updated_at).where(ReleaseRow.tenant == tenant)
    if finished is not None:
        q = q.where(ReleaseRow.outcome.is_not(None) if finished else ReleaseRow.outcome.is_(None))
    if text:
        cleaned = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        needle = f"%{cleaned}%"
        q = q.where(or_(func.lower(ReleaseRow.name).like(needle, escape="\\"),
                        func.lower(service).like(needle, escape="\\")))
    with store.session() as s:
        return [ReleaseSummary(*row) for row in s.execute(q.order_by(ReleaseRow.id.desc()).limit(limit))]
