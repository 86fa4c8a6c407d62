"""The decision log's hash chain and its signed heads: what each hash covers, and where a chain breaks.

Each decision row's hash covers the previous row's hash and every column of the row that says
something (release, seq, plan time, wall time, kind, reason, gate, inputs); only the surrogate
``id`` is left out. Times are hashed as ISO 8601 in UTC with microseconds, and the body is JSON with
sorted keys, so the hash is the same whatever a backend does to the stored values (SQLite drops the
time zone, JSONB reorders keys; ``tables.JSONDoc`` gives floats back exactly).

A chain alone proves nothing against someone who can write the database: they can delete the tail
or recompute every hash. So the head of the log (its count and last hash, with the release's outcome
and phase) is signed at every stage end and at the outcome, as transparency logs sign their tree
heads; ``head_payload`` is what gets signed. Nothing here does I/O or cryptography: the store
builds heads, ``launchdeck.evidence.checkpoint`` signs them, ``controller.audit`` checks them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

GENESIS = "0" * 64
#: The payload type a signed head's signature is bound to (DSSE pre-authentication encoding).
HEAD_PAYLOAD_TYPE = "application/vnd.launchdeck.log-head+json"


class DecisionLike(Protocol):
    """A stored decision row, as far as the chain is concerned."""

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


@dataclass(frozen=True)
class Signature:
    """A signature over a head payload, with the public key that makes it: what ``Store.record_head``'s
    ``sign`` returns (the store itself holds no keys and does no cryptography)."""

    sig: str
    public_key: str


def canonical_time(value: datetime) -> str:
    """One text for one instant: UTC, microseconds always shown (a naive time is taken to be UTC)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


def chain_hash(prev: str, row: dict[str, Any]) -> str:
    body = json.dumps(row, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev + body).encode()).hexdigest()


def decision_body(*, release_id: int, seq: int, plan_at: float, wall_at: datetime, kind: str, reason: str,
                  gate: str | None, inputs: dict[str, Any]) -> dict[str, Any]:
    """Everything a decision row says, as hashed."""
    return {"release": release_id, "seq": seq, "planAt": plan_at, "wallAt": canonical_time(wall_at), "kind": kind,
            "reason": reason, "gate": gate, "inputs": inputs}


def row_hash(row: DecisionLike) -> str:
    """The hash the row should carry, given the previous hash it names."""
    return chain_hash(row.prev_hash, decision_body(
        release_id=row.release_id, seq=row.seq, plan_at=row.plan_at, wall_at=row.wall_at, kind=row.kind,
        reason=row.reason, gate=row.gate, inputs=row.inputs))


def _legacy_hash(row: DecisionLike) -> str:
    """The hash launchdeck wrote before it covered the wall time and the release (store revision 0001)."""
    return chain_hash(row.prev_hash, {"seq": row.seq, "plan_at": row.plan_at, "kind": row.kind,
                                      "reason": row.reason, "gate": row.gate, "inputs": row.inputs})


def missing(first: int, last: int) -> str:
    """How a run of absent decisions is named: "decision 41" or "decisions 78–80"."""
    return f"decision {first} is missing" if first == last else f"decisions {first}–{last} are missing"


def check_chain(rows: Sequence[DecisionLike]) -> list[str]:
    """Where the chain of ``rows`` (in seq order) breaks, first break first; empty when it holds.

    A row whose hash does not match its own content was changed; an intact row that does not link to
    the row before it means that row was changed and its hash recomputed; a jump in seq is a gap.
    Rows hashed the pre-0002 way are accepted at the start of the log only (a release begun by an
    older launchdeck): rewriting one later in the chain that way still breaks the link after it.
    """
    problems: list[str] = []
    prev, expected, legacy_allowed = GENESIS, 1, True
    before: DecisionLike | None = None
    for row in rows:
        if row.seq > expected:
            after = f"the log starts at decision {row.seq}" if expected == 1 else \
                f"gap between {expected - 1} and {row.seq}"
            problems.append(f"{missing(expected, row.seq - 1)} ({after})")
        intact = row.hash == row_hash(row)
        if not intact and legacy_allowed and row.hash == _legacy_hash(row):
            intact = True
        else:
            legacy_allowed = False
        if not intact:
            problems.append(f"decision {row.seq} ({row.kind}) was changed")
        elif row.seq == expected and row.prev_hash != prev and before is not None:
            problems.append(f"decision {before.seq} ({before.kind}) was changed "
                            f"(its hash was recomputed: decision {row.seq} no longer links to it)")
        elif row.seq == 1 and row.prev_hash != GENESIS:
            problems.append(f"decision 1 ({row.kind}) was changed (it does not start the chain)")
        prev, expected, before = row.hash, row.seq + 1, row
    return problems


def head_payload(*, release_id: int, release: str, tenant: str, plan_digest: str, count: int, head: str,
                 outcome: str | None, phase: str, label: str, signed_at: datetime) -> dict[str, Any]:
    """What a signed head says: this release's log had ``count`` decisions ending in ``head``, and the
    release row read ``outcome`` and ``phase``, at ``signed_at``."""
    return {"type": HEAD_PAYLOAD_TYPE, "release": release.split("#", 1)[0], "run": release_id, "tenant": tenant,
            "planDigest": plan_digest, "count": count, "head": head, "outcome": outcome, "phase": phase,
            "label": label, "signedAt": canonical_time(signed_at)}


def canonical_payload(payload: dict[str, Any]) -> str:
    """The one text of a head payload; the signature is over exactly these bytes."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
