"""Who drives a release: a lease with a holder, an expiry and an epoch (the fencing token).

A release is driven by the one process holding its lease. Taking a lease from another holder (one
that let it expire, or one known dead) raises the epoch by one, under the release row's lock, so a
holder that was paused or cut off finds on its next write that it lost the release:

* every save of the release is a compare-and-set on holder and epoch (``Store.save(lease=…)``);
* before an external effect (a router write, a rollback step) the driver calls ``fence``: in one
  transaction it checks holder and epoch, renews the lease and records the effect under the key
  ``release:epoch:step``; only then is the effect sent. A renewed lease cannot be taken for
  ``seconds``, so an effect sent right after its fence can never follow a takeover (the driver
  fences again when the effect waited too long: ``controller.lease``).

Claiming due releases takes row locks with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
workers claiming at once never wait on, nor take, the same release; SQLite has one writer at a time
(``BEGIN IMMEDIATE``), with the same outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Float, bindparam, func, select, text, update

from launchdeck.errors import LeaseLost
from launchdeck.store.tables import EffectRow, ReleaseRow

if TYPE_CHECKING:
    from launchdeck.store.repo import Store


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Lease:
    release_id: int
    holder: str
    epoch: int
    seconds: float
    taken_from: str | None = None
    """The holder this lease was taken over from (its lease had expired, or it was dead), if any."""
    fresh: bool = field(default=False, compare=False)
    """Its epoch was raised by the claim that made it: no effect was recorded under it yet (the same lease
    either way: a renewal compares equal to the claim it renews)."""


@dataclass(frozen=True)
class Holder:
    """Who holds a release's lease now, as another process sees it."""

    holder: str | None
    until: datetime | None
    epoch: int

    def live(self, now: datetime | None = None) -> bool:
        return self.holder is not None and self.until is not None and self.until > (now or now_utc())


def holder(store: Store, release_id: int) -> Holder:
    with store.session() as s:
        row = s.get(ReleaseRow, release_id)
        assert row is not None
        return Holder(row.lease_holder, row.lease_until, row.lease_epoch)


def claim(store: Store, release_id: int, who: str, seconds: float, *,
          dead: Callable[[str], bool] = lambda _h: False) -> Lease | None:
    """Take (or keep) the release's lease for ``who``; None while another live holder has it.

    A holder whose lease has not expired is taken over only when ``dead(holder)`` says it cannot be
    running (a process on this host that has exited): it can send nothing more.
    """
    with store.session() as s:
        row = store.lock(s, release_id)
        now = now_utc()
        current = Holder(row.lease_holder, row.lease_until, row.lease_epoch)
        if current.holder == who and current.live(now):
            row.lease_until = now + timedelta(seconds=seconds)
            return Lease(release_id, who, row.lease_epoch, seconds)
        if current.live(now) and not dead(str(current.holder)):
            return None
        return _take(row, who, seconds, now)


def claim_due(store: Store, who: str, seconds: float, *, limit: int) -> list[Lease]:
    """Up to ``limit`` submitted releases whose lease is free or expired, now leased to ``who``: unfinished
    ones, and finished ones whose driver died before it gave the lease up (their wrap-up, the final
    evidence and the last messages, may be missing; the new driver finishes it and moves nothing). A release
    whose last attempt failed waits for its retry time (``lease_until``, with no holder), and one the workers
    gave up (``gave_up_at``) is not claimed (``controller.worker``).

    Fair across tenants: releases are taken round-robin by tenant (each tenant's first due release, then
    each one's second…), so a tenant that submitted hundreds of releases does not keep another's waiting
    behind them. The turns are ranked in a subquery; only the releases rows are locked (``FOR UPDATE OF``,
    which PostgreSQL allows beside a window function only that way), skipping those another worker holds."""
    if limit <= 0:
        return []
    with store.session() as s:
        if s.get_bind().dialect.name == "sqlite":
            s.connection().exec_driver_sql("BEGIN IMMEDIATE")
        now = now_utc()
        turn = func.row_number().over(partition_by=ReleaseRow.tenant,
                                      order_by=(ReleaseRow.lease_until.asc().nulls_first(), ReleaseRow.id))
        due = (ReleaseRow.submitted_by.is_not(None), ReleaseRow.gave_up_at.is_(None),
               # unfinished, or finished by a driver that died before its wrap-up gave the lease up
               ReleaseRow.outcome.is_(None) | ReleaseRow.lease_holder.is_not(None),
               (ReleaseRow.lease_until.is_(None)) | (ReleaseRow.lease_until < now))
        ranked = select(ReleaseRow.id.label("id"), turn.label("turn")).where(*due).subquery()
        # ``due`` again on the locked rows themselves: a row another worker claimed and committed after this
        # query's snapshot is locked all the same (no longer locked, so not skipped), and PostgreSQL checks
        # the locked table's own conditions again on the row as committed, never the subquery's.
        q = (select(ReleaseRow).join(ranked, ranked.c.id == ReleaseRow.id).where(*due)
             .order_by(ranked.c.turn, ReleaseRow.id)
             .limit(limit).with_for_update(skip_locked=True, of=ReleaseRow))
        return [_take(row, who, seconds, now) for row in s.scalars(q)]


def fence(store: Store, lease: Lease, key: str) -> None:
    """Check ``lease`` still holds, renew it and record the effect ``key`` (raises ``LeaseLost``).

    ``key`` is the step; the recorded key is ``release:epoch:step``, unique: a step recorded twice in
    one epoch is a driver bug, and the database refuses it.
    """
    with store.session() as s:
        row = store.lock(s, lease.release_id)
        check(row, lease)
        now = now_utc()
        row.lease_until = now + timedelta(seconds=lease.seconds)
        s.add(EffectRow(release_id=lease.release_id, epoch=lease.epoch, holder=lease.holder,
                        key=f"{lease.release_id}:{lease.epoch}:{key}", at=now))


def renew(store: Store, lease: Lease, *, plan_clock: float | None = None) -> None:
    """Extend ``lease`` (raises ``LeaseLost``); with ``plan_clock``, also record how far the release's plan
    time is (a driver's heartbeat when it has nothing else to save)."""
    with store.session() as s:
        row = store.lock(s, lease.release_id)
        check(row, lease)
        now = now_utc()
        row.lease_until = now + timedelta(seconds=lease.seconds)
        if plan_clock is not None:
            row.plan_clock, row.updated_at = plan_clock, now


def renew_many(store: Store, beats: list[tuple[Lease, float | None]]) -> None:
    """Renew many leases in one transaction (a worker's heartbeat for all the releases it drives), each with
    its release's plan time when one is given. A lease that is no longer its release's (another holder,
    another epoch) is left alone, and its driver finds out at its next commit or fence.

    The rows are locked in id order, as ``Store.save_many`` locks them, so the two never deadlock. On
    PostgreSQL it is one statement over arrays (thousands of leases, one round trip)."""
    if not beats:
        return
    now = now_utc()
    beats = sorted(beats, key=lambda b: b[0].release_id)
    with store.session() as s:
        conn = s.connection()
        if conn.dialect.name == "postgresql":
            conn.execute(_RENEW_ARRAYS, {
                "ids": [lease.release_id for lease, _ in beats], "holders": [lease.holder for lease, _ in beats],
                "epochs": [lease.epoch for lease, _ in beats], "clocks": [clock for _, clock in beats],
                "untils": [now + timedelta(seconds=lease.seconds) for lease, _ in beats], "now": now})
            return
        table = ReleaseRow.__table__
        renew = (update(table)
                 .where(table.c.id == bindparam("b_id"), table.c.lease_holder == bindparam("b_holder"),
                        table.c.lease_epoch == bindparam("b_epoch"))
                 .values(lease_until=bindparam("b_until"), updated_at=now,
                         plan_clock=func.coalesce(bindparam("b_clock", type_=Float()), table.c.plan_clock)))
        conn.execute(renew, [{"b_id": lease.release_id, "b_holder": lease.holder, "b_epoch": lease.epoch,
                              "b_until": now + timedelta(seconds=lease.seconds), "b_clock": clock}
                             for lease, clock in beats])


#: ``renew_many`` on PostgreSQL: the rows locked in id order first, then updated from the arrays.
_RENEW_ARRAYS = text("""
WITH beat AS (
    SELECT * FROM unnest(CAST(:ids AS integer[]), CAST(:holders AS varchar[]), CAST(:epochs AS integer[]),
                         CAST(:clocks AS double precision[]), CAST(:untils AS timestamptz[]))
           AS b(id, holder, epoch, clock, until)
), locked AS (
    SELECT r.id FROM releases r JOIN beat ON r.id = beat.id AND r.lease_holder = beat.holder
                                         AND r.lease_epoch = beat.epoch
    ORDER BY r.id FOR UPDATE OF r
)
UPDATE releases AS r SET lease_until = beat.until, updated_at = :now,
                         plan_clock = COALESCE(beat.clock, r.plan_clock)
FROM beat, locked
WHERE r.id = beat.id AND r.id = locked.id AND r.lease_holder = beat.holder AND r.lease_epoch = beat.epoch
""")


def let_go(store: Store, lease: Lease) -> None:
    """Give the lease up (a driver stopping): another may claim it at once. Lost already: nothing to do."""
    with store.session() as s:
        row = store.lock(s, lease.release_id)
        if row.lease_holder == lease.holder and row.lease_epoch == lease.epoch:
            row.lease_holder, row.lease_until = None, None


def check(row: ReleaseRow, lease: Lease) -> None:
    """Raise ``LeaseLost`` unless ``lease`` is the row's current lease (call under the row's lock)."""
    if row.lease_holder != lease.holder or row.lease_epoch != lease.epoch:
        now_held = f"{row.lease_holder} (epoch {row.lease_epoch})" if row.lease_holder else "nobody"
        raise LeaseLost(f"release {row.name}: lease of {lease.holder} (epoch {lease.epoch}) lost; held by {now_held}",
                        hint="this process stops driving the release; its new holder goes on")


def effects(store: Store, release_id: int) -> list[EffectRow]:
    with store.session() as s:
        return list(s.scalars(select(EffectRow).where(EffectRow.release_id == release_id).order_by(EffectRow.id)))


def _take(row: ReleaseRow, who: str, seconds: float, now: datetime) -> Lease:
    before = row.lease_holder if row.lease_holder != who else None
    row.lease_epoch = (row.lease_epoch or 0) + 1
    row.lease_holder, row.lease_until = who, now + timedelta(seconds=seconds)
    return Lease(row.id, who, row.lease_epoch, seconds, taken_from=before, fresh=True)
