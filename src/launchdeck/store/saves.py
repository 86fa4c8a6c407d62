"""The release rows of a batch of saved ticks (``Store.save_many``): each row's new state, plan time and
outcome, written only while the tick's lease is still the release's (a compare-and-set on holder and
epoch, which also renews the lease and locks the row until the transaction ends).

SQLite runs one ``UPDATE … RETURNING`` per release, and so does PostgreSQL for a batch of one. Otherwise
PostgreSQL runs one statement over arrays for the whole batch, as ``leases.renew_many`` does: a worker
saves hundreds of ticks a second, and a statement per release cost a round trip and SQLAlchemy's
per-statement work each. Both take the rows in id order, so two batches (or a batch and a renewal) never
deadlock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, text, update
from sqlalchemy.engine import Connection

from launchdeck.store.tables import ReleaseRow, dumps_exact

if TYPE_CHECKING:
    from launchdeck.store.repo import Tick


def write(conn: Connection, ticks: list[Tick], stamp: datetime) -> dict[int, int]:
    """Update the release row of each tick whose lease holds (or that has none): the lease epoch of each
    release written, by release id. A release absent from the answer was not written."""
    if not ticks:
        return {}
    ids = [t.release_id for t in ticks]
    # One tick (`launchdeck run`, a worker's lone commit): the plain statement costs less than the arrays'.
    if conn.dialect.name == "postgresql" and len(ids) > 1 and len(set(ids)) == len(ids):
        return _write_arrays(conn, ticks, stamp)
    epochs: dict[int, int] = {}
    for t in sorted(ticks, key=lambda t: t.release_id):
        values: dict[str, object] = {"b_id": t.release_id, "b_state": t.state, "b_clock": t.plan_clock,
                                     "b_outcome": t.outcome, "b_updated": stamp}
        if t.lease is not None:
            values.update(b_holder=t.lease.holder, b_epoch=t.lease.epoch,
                          b_until=stamp + timedelta(seconds=t.lease.seconds))
        saved = conn.execute(_SAVE_LEASED if t.lease is not None else _SAVE, values).first()
        if saved is not None:
            epochs[t.release_id] = saved.lease_epoch
    return epochs


def _write_arrays(conn: Connection, ticks: list[Tick], stamp: datetime) -> dict[int, int]:
    rows = conn.execute(_SAVE_ARRAYS, {
        "ids": [t.release_id for t in ticks],
        # The states as JSONDoc writes them (floats JSONB would change wrapped), in one JSON array: a text[] of
        # JSON documents would cost psycopg an escaping pass over every quote in them.
        "states": dumps_exact([t.state for t in ticks]),
        "clocks": [t.plan_clock for t in ticks],
        "outcomes": [t.outcome for t in ticks],
        "holders": [t.lease.holder if t.lease else None for t in ticks],
        "epochs": [t.lease.epoch if t.lease else None for t in ticks],
        "untils": [stamp + timedelta(seconds=t.lease.seconds) if t.lease else None for t in ticks],
        "now": stamp})
    return {rid: epoch for rid, epoch in rows}


_RELEASES = ReleaseRow.__table__
_SAVE = (update(_RELEASES).where(_RELEASES.c.id == bindparam("b_id"))
         .values(state=bindparam("b_state"), plan_clock=bindparam("b_clock"), outcome=bindparam("b_outcome"),
                 updated_at=bindparam("b_updated"))
         .returning(_RELEASES.c.lease_epoch))
_SAVE_LEASED = (update(_RELEASES)
                .where(_RELEASES.c.id == bindparam("b_id"), _RELEASES.c.lease_holder == bindparam("b_holder"),
                       _RELEASES.c.lease_epoch == bindparam("b_epoch"))
                .values(state=bindparam("b_state"), plan_clock=bindparam("b_clock"), outcome=bindparam("b_outcome"),
                        updated_at=bindparam("b_updated"), lease_until=bindparam("b_until"))
                .returning(_RELEASES.c.lease_epoch))

#: ``write`` on PostgreSQL: the rows whose lease holds (a tick without a lease: whatever the lease) locked in
#: id order first, then updated from the arrays; a tick without a lease leaves ``lease_until`` as it is.
_SAVE_ARRAYS = text("""
WITH tick AS (
    SELECT t.id, s.state, t.clock, t.outcome, t.holder, t.epoch, t.until
    FROM unnest(CAST(:ids AS integer[]), CAST(:clocks AS double precision[]), CAST(:outcomes AS varchar[]),
                CAST(:holders AS varchar[]), CAST(:epochs AS integer[]), CAST(:untils AS timestamptz[]))
         WITH ORDINALITY AS t(id, clock, outcome, holder, epoch, until, n)
    JOIN jsonb_array_elements(CAST(:states AS jsonb)) WITH ORDINALITY AS s(state, n) ON s.n = t.n
), locked AS (
    SELECT r.id FROM releases r JOIN tick ON r.id = tick.id
                                         AND (tick.holder IS NULL
                                              OR (r.lease_holder = tick.holder AND r.lease_epoch = tick.epoch))
    ORDER BY r.id FOR UPDATE OF r
)
UPDATE releases AS r SET state = tick.state, plan_clock = tick.clock, outcome = tick.outcome,
                         updated_at = :now, lease_until = COALESCE(tick.until, r.lease_until)
FROM tick, locked
WHERE r.id = tick.id AND r.id = locked.id
  AND (tick.holder IS NULL OR (r.lease_holder = tick.holder AND r.lease_epoch = tick.epoch))
RETURNING r.id, r.lease_epoch
""")
