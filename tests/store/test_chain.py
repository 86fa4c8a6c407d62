"""The decision log's hash chain (store/chain.py): what a row's hash covers, and how a break is named.

Pure: rows here are plain objects chained with the store's own functions; tests/store/test_store.py
checks the same on rows written to SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from launchdeck.store.chain import GENESIS, chain_hash, check_chain, decision_body, row_hash

T0 = datetime(2026, 11, 24, 8, 15, 0, 123456, tzinfo=UTC)
KINDS = ["release.started", "stage.started", "evaluation", "gate.fired", "rollback.started", "release.rolled_back"]


@dataclass(frozen=True)
class Row:
    release_id: int
    seq: int
    plan_at: float
    wall_at: datetime
    kind: str
    reason: str
    gate: str | None
    inputs: dict[str, Any]
    prev_hash: str
    hash: str


def _log(count: int = len(KINDS)) -> list[Row]:
    rows, prev = [], GENESIS
    for seq in range(1, count + 1):
        row = Row(7, seq, 10.0 * seq, T0 + timedelta(seconds=seq), KINDS[(seq - 1) % len(KINDS)],
                  f"reason {seq}", None, {"n": seq}, prev, "")
        row = replace(row, hash=row_hash(row))
        rows.append(row)
        prev = row.hash
    return rows


def _rechained(rows: list[Row], start: int) -> list[Row]:
    """Rows from ``start`` (an index) on given fresh hashes, as someone rewriting the log would."""
    out = rows[:start]
    for row in rows[start:]:
        prev = out[-1].hash if out else GENESIS
        fixed = replace(row, prev_hash=prev)
        out.append(replace(fixed, hash=row_hash(fixed)))
    return out


def test_an_untouched_log_holds() -> None:
    assert check_chain(_log()) == []
    assert check_chain([]) == []


def test_the_hash_covers_the_wall_time_in_one_canonical_form() -> None:
    body = decision_body(release_id=1, seq=1, plan_at=0.0, wall_at=T0, kind="k", reason="r", gate=None, inputs={})
    paris = T0.astimezone(timezone(timedelta(hours=1)))
    naive_utc = T0.replace(tzinfo=None)  # SQLite gives times back without their zone
    for same_instant in (paris, naive_utc):
        again = decision_body(release_id=1, seq=1, plan_at=0.0, wall_at=same_instant, kind="k", reason="r",
                              gate=None, inputs={})
        assert chain_hash(GENESIS, again) == chain_hash(GENESIS, body)
    later = decision_body(release_id=1, seq=1, plan_at=0.0, wall_at=T0 + timedelta(microseconds=1), kind="k",
                          reason="r", gate=None, inputs={})
    assert chain_hash(GENESIS, later) != chain_hash(GENESIS, body)
    assert body["wallAt"] == "2026-11-24T08:15:00.123456+00:00"


def test_every_column_is_covered() -> None:
    rows = _log()
    for column, value in [("wall_at", T0), ("release_id", 8), ("gate", "errors"), ("plan_at", 1.5),
                          ("kind", "stage.passed"), ("reason", "fine"), ("inputs", {"n": 0})]:
        edited = rows[:2] + [replace(rows[2], **{column: value})] + rows[3:]
        assert check_chain(edited) == [f"decision 3 ({edited[2].kind}) was changed"], column


def test_a_deleted_middle_row_is_a_gap_not_a_change() -> None:
    rows = _log()
    assert check_chain(rows[:3] + rows[4:]) == ["decision 4 is missing (gap between 3 and 5)"]


def test_several_deleted_rows_are_named_as_one_gap() -> None:
    rows = _log()
    assert check_chain(rows[:1] + rows[4:]) == ["decisions 2–4 are missing (gap between 1 and 5)"]
    assert check_chain(rows[2:]) == ["decisions 1–2 are missing (the log starts at decision 3)"]


def test_a_row_rehashed_alone_is_named_by_the_broken_link_after_it() -> None:
    rows = _log()
    edited = replace(rows[3], reason="nothing to see here")
    edited = replace(edited, hash=row_hash(edited))
    assert check_chain(rows[:3] + [edited] + rows[4:]) == [
        "decision 4 (gate.fired) was changed (its hash was recomputed: decision 5 no longer links to it)"]


def test_a_chain_recomputed_to_the_end_holds_on_its_own() -> None:
    """Why heads are signed: the chain alone cannot see this (controller/audit.py does)."""
    rows = _log()
    rows[3] = replace(rows[3], reason="nothing to see here")
    assert check_chain(_rechained(rows, 3)) == []


def _legacy(rows: list[Row]) -> list[Row]:
    """The log as launchdeck hashed it before store revision 0002 (no wall time, no release)."""
    out: list[Row] = []
    for row in rows:
        prev = out[-1].hash if out else GENESIS
        digest = chain_hash(prev, {"seq": row.seq, "plan_at": row.plan_at, "kind": row.kind, "reason": row.reason,
                                   "gate": row.gate, "inputs": row.inputs})
        out.append(replace(row, prev_hash=prev, hash=digest))
    return out


def test_rows_hashed_by_an_older_launchdeck_hold_at_the_start_of_the_log_only() -> None:
    old = _legacy(_log(3))
    resumed = _rechained(old + _log()[3:], 3)  # a release begun before the upgrade and finished after it
    assert check_chain(old) == [] and check_chain(resumed) == []
    # a later row moved in time and hashed the old way (which ignores the wall time) is still caught
    rows = _log()
    moved = replace(rows[3], wall_at=T0 - timedelta(days=1))
    moved = replace(moved, hash=chain_hash(moved.prev_hash, {
        "seq": moved.seq, "plan_at": moved.plan_at, "kind": moved.kind, "reason": moved.reason, "gate": moved.gate,
        "inputs": moved.inputs}))
    assert check_chain(_rechained(rows[:3] + [moved] + rows[4:], 4)) == ["decision 4 (gate.fired) was changed"]
