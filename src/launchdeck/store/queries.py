"""Reads the API needs beyond the repository's: a tenant's releases a page at a time, one decision kind's
latest, decisions after a sequence number, and the counts `/metrics` exposes.

Pages are keyset-paginated on the release id (newest first): a page costs the same however deep it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from sqlalchemy import func, select

from launchdeck.store.repo import Store, StoredRelease, _stored
from launchdeck.store.tables import DecisionRow, MessageRow, ReleaseRow


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
    d = DecisionRow.__table__
    with store.session() as s:  # rows, not ORM objects: `why` reads hundreds of them per answer
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
