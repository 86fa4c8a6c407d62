"""`why` on a big store: 10^4 releases x 100 decisions (10^6), filled fast, then timed for random releases.

The store is filled in bulk on the database's own connection (executemany on SQLite, COPY on
PostgreSQL) after ``Store(url)`` made the schema; every release's 100 decisions carry a valid hash
chain built here (the same ``store.chain`` hashes ``Store.save`` writes; a sample of releases is checked
with ``Store.verify_chain`` after the fill). Each release is a promoted two-stage canary: started, stage
1 with 47 evaluations, passed, stage 2 with 47 evaluations, passed, promoted; two sign-offs.

What is timed is one ``why`` for a random release, p50 and p95 over ``samples`` calls:

* ``http``: ``GET /api/v1/releases/{name}/why?all=true`` on a running `launchdeck server` (when this
  tree has one), through one keep-alive HTTP client;
* ``store`` (until then): what the API's handler does with the store: find the release by tenant and
  name, read its decisions and sign-offs, and build the JSON `why --output json` prints.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

TENANT = "bench"
PER_RELEASE = 100
EVALUATIONS_PER_STAGE = 47
_VERDICT = {"samples": {"canary": 600, "stable": 5400}, "status": "pass"}
#: An evaluation's inputs as the engine records them (taken from a bench run).
EVALUATION_INPUTS = {
    "rule": "gates evaluated over the window", "window": 60.0,
    "canary": {"share": 0.1, "errors": 1, "values": {}, "seconds": 60.0, "version": "canary", "requests": 600,
               "latency": {"128": 180, "136": 150, "146": 180, "156": 60, "164": 30}},
    "stable": {"share": 0.9, "errors": 5, "values": {}, "seconds": 60.0, "version": "stable", "requests": 5400,
               "latency": {"128": 1620, "136": 1350, "146": 1620, "156": 540, "164": 270}},
    "verdicts": [
        {"gate": "error-rate", "limit": 0.05, "canary": 0.0016666666666666668, **_VERDICT,
         "reason": "error-rate: canary error_rate 0.17% < 5.00%; within the gate over 600 canary requests"},
        {"gate": "latency", "limit": 500.0, "canary": 44.53323669195282, **_VERDICT,
         "reason": "latency: canary latency_p95_ms 45ms <= 500ms; within the gate over 600 canary requests"}],
}
EVALUATION_REASON = "; ".join(v["reason"] for v in EVALUATION_INPUTS["verdicts"])  # type: ignore[index]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def script(name: str) -> list[tuple[float, str, str, dict[str, Any]]]:
    """One release's decisions: (plan time, kind, reason, inputs)."""
    out: list[tuple[float, str, str, dict[str, Any]]] = [(0.0, "release.started", f"release {name} started: v2 "
                                                          "replaces v1", {})]
    t = 0.0
    for stage, weight in ((1, 10.0), (2, 50.0)):
        out.append((t, "stage.started", f"stage {stage}/2: canary to {weight:g}% for at least 470s of plan time",
                    {"stage": stage, "weight": weight, "hold": 470.0}))
        for _ in range(EVALUATIONS_PER_STAGE):
            t += 10.0
            out.append((t, "evaluation", EVALUATION_REASON, EVALUATION_INPUTS))
        out.append((t, "stage.passed", f"stage {stage}/2 passed: held 470s with every gate within limits",
                    {"stage": stage}))
    out.append((t, "release.promoted", "release promoted: every stage passed", {"outcome": "promoted"}))
    assert len(out) == PER_RELEASE
    return out


def chained(release_id: int, name: str, start: datetime) -> Iterator[tuple[Any, ...]]:
    """The release's decision rows with their hash chain: (release_id, seq, plan_at, wall_at, kind, reason,
    gate, inputs as JSON text, prev_hash, hash)."""
    from launchdeck.store.chain import GENESIS, canonical_time

    prev = GENESIS
    texts: dict[int, str] = {}
    for seq, (plan_at, kind, reason, inputs) in enumerate(script(name), 1):
        wall = start + timedelta(seconds=plan_at, microseconds=seq)
        body_inputs = texts.get(id(inputs)) or texts.setdefault(id(inputs), _canonical(inputs))
        # chain.decision_body, hashed as chain.chain_hash does (sorted keys, compact), built as text
        body = (f'{{"gate":null,"inputs":{body_inputs},"kind":{json.dumps(kind)},"planAt":{plan_at!r},'
                f'"reason":{json.dumps(reason)},"release":{release_id},"seq":{seq},'
                f'"wallAt":{json.dumps(canonical_time(wall))}}}')
        digest = hashlib.sha256((prev + body).encode()).hexdigest()
        yield release_id, seq, plan_at, wall, kind, reason, None, body_inputs, prev, digest
        prev = digest


def _self_check() -> None:
    """The text-built hashes are the ones ``store.chain`` computes."""
    from launchdeck.store.chain import GENESIS, chain_hash, decision_body

    prev = GENESIS
    for row in list(chained(7, "why-00007", datetime(2026, 1, 1, tzinfo=UTC)))[:3]:
        rid, seq, plan_at, wall, kind, reason, gate, inputs, prev_hash, digest = row
        assert prev_hash == prev
        assert digest == chain_hash(prev, decision_body(release_id=rid, seq=seq, plan_at=plan_at, wall_at=wall,
                                                        kind=kind, reason=reason, gate=gate,
                                                        inputs=json.loads(inputs))), "hash built differently"
        prev = digest


def _release_state() -> str:
    from launchdeck.core.state import ReleaseState

    state = ReleaseState(phase="done", outcome="promoted", stage=1, weight=100.0, stages_passed=2)
    return json.dumps({"engine": state.to_json(), "timeScale": 1.0, "roles": {"sre": ["sam"]}, "stages": 2})


def fill(url: str, releases: int) -> float:
    """Fill the (empty) store at ``url``; returns the seconds it took."""
    from launchdeck.store.repo import Store

    _self_check()
    started = time.perf_counter()
    with Store(url) as store:  # the schema, as every store gets it
        dialect = store.engine.dialect.name
        if dialect != "sqlite":
            raw = store.engine.raw_connection()
            try:
                _fill(raw, dialect, releases)
                raw.commit()
            finally:
                raw.close()
    if dialect == "sqlite":
        # A connection of its own, with no journal while it fills (nothing else has the file open);
        # the next Store to open it puts it back in WAL mode.
        import sqlite3

        raw = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            raw.execute("PRAGMA journal_mode=OFF")
            _fill(raw, dialect, releases)
            raw.commit()
        finally:
            raw.close()
    return time.perf_counter() - started


def _fill(raw: Any, dialect: str, releases: int) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    state = _release_state()
    cur = raw.cursor()
    # Bench data: a crash during the fill loses nothing worth keeping, so no waiting for the disk.
    cur.execute("PRAGMA synchronous=OFF" if dialect == "sqlite" else "SET synchronous_commit TO off")
    if dialect == "sqlite":  # the decisions' secondary index is built once, after the load
        index = cur.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'ix_decisions_release_id'"
                            ).fetchone()[0]
        cur.execute("DROP INDEX ix_decisions_release_id")
    rel = [(i, TENANT, f"why-{i:05d}", "/plans/why.yaml", "sha256:" + "0" * 64, state, 950.0, "promoted",
            _when(base, dialect), _when(base, dialect), "bench") for i in range(1, releases + 1)]
    signoffs = [(i, "sam", "sre", stage, "", "cli", False, _when(base, dialect))
                for i in range(1, releases + 1) for stage in (1, 2)]
    if dialect == "sqlite":
        cur.executemany("INSERT INTO releases (id, tenant, name, plan_path, plan_digest, state, plan_clock, outcome, "
                        "created_at, updated_at, submitted_by, lease_epoch) VALUES (?,?,?,?,?,?,?,?,?,?,?,0)", rel)
        cur.executemany("INSERT INTO signoffs (release_id, who, role, stage, reason, source, consumed, at) "
                        "VALUES (?,?,?,?,?,?,?,?)", signoffs)
        cur.executemany("INSERT INTO decisions (release_id, seq, plan_at, wall_at, kind, reason, gate, inputs, "
                        "prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        ((*r[:3], _when(r[3], dialect), *r[4:]) for i in range(1, releases + 1)
                         for r in chained(i, f"why-{i:05d}", base)))
        cur.execute(index)
        cur.execute("ANALYZE")
        return
    # The rows are valid by construction: skip the per-row foreign-key triggers, and build the decisions'
    # secondary indexes once after the load (the same definitions, read back from the catalogue).
    cur.execute("SET session_replication_role = replica")
    cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'decisions'::regclass "
                "AND contype = 'u'")
    constraints = cur.fetchall()
    cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'decisions' AND indexname NOT IN "
                "(SELECT conname FROM pg_constraint WHERE conrelid = 'decisions'::regclass)")
    indexes = cur.fetchall()
    for name, _ in constraints:
        cur.execute(f'ALTER TABLE decisions DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cur.execute(f'DROP INDEX "{name}"')
    with cur.copy("COPY releases (id, tenant, name, plan_path, plan_digest, state, plan_clock, outcome, created_at, "
                  "updated_at, submitted_by) FROM STDIN") as copy:
        for row in rel:
            copy.write_row(row)
    with cur.copy("COPY signoffs (release_id, who, role, stage, reason, source, consumed, at) FROM STDIN") as copy:
        for row in signoffs:
            copy.write_row(row)
    with cur.copy("COPY decisions (release_id, seq, plan_at, wall_at, kind, reason, gate, inputs, prev_hash, hash) "
                  "FROM STDIN") as copy:
        for i in range(1, releases + 1):
            for row in chained(i, f"why-{i:05d}", base):
                copy.write_row(row)
    for name, definition in constraints:
        cur.execute(f'ALTER TABLE decisions ADD CONSTRAINT "{name}" {definition}')
    for _, definition in indexes:
        cur.execute(definition)
    cur.execute("SET session_replication_role = origin")
    cur.execute("SELECT setval('releases_id_seq', %s)", (releases,))
    raw.commit()
    cur.execute("ANALYZE")


def _when(value: datetime, dialect: str) -> Any:
    # SQLite keeps what SQLAlchemy's DateTime writes there: naive UTC text with microseconds.
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else value


def check_sample(url: str, releases: int, n: int = 5) -> None:
    """Raise unless a few filled releases' chains verify as ``Store.verify_chain`` checks them."""
    from launchdeck.store.repo import Store

    with Store(url) as store:
        for i in random.Random(1).sample(range(1, releases + 1), min(n, releases)):
            problem = store.verify_chain(release_id=i)
            assert problem is None, f"release {i}: {problem}"
            assert len(store.decisions(release_id=i)) == PER_RELEASE


# -- timing ------------------------------------------------------------------------------------------------


def time_store(url: str, releases: int, samples: int, seed: int = 1) -> list[float]:
    """Seconds per ``why`` as the API's handler reads it, for ``samples`` random releases (after 20 warm-ups)."""
    from launchdeck.store.repo import Store

    rng = random.Random(seed)
    out: list[float] = []
    with Store(url) as store:
        for k in range(samples + 20):
            name = f"why-{rng.randint(1, releases):05d}"
            t = time.perf_counter()
            found = store.find(name=name, tenant=TENANT)
            assert found is not None
            rows = store.decisions(release_id=found.id)
            store.signoffs(release_id=found.id)
            body = json.dumps([{"seq": d.seq, "planAt": d.plan_at, "wallAt": d.wall_at.isoformat(), "kind": d.kind,
                                "gate": d.gate, "reason": d.reason, "inputs": d.inputs} for d in rows])
            elapsed = time.perf_counter() - t
            assert len(rows) == PER_RELEASE and body
            if k >= 20:
                out.append(elapsed)
    return out


def fill_all(urls: dict[str, str], releases: int) -> dict[str, float]:
    """Fill every store at once, one process each; the seconds each took."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(len(urls), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {name: pool.submit(fill, url, releases) for name, url in urls.items()}
        return {name: round(f.result(), 1) for name, f in futures.items()}


def measure(url: str, releases: int, samples: int) -> dict[str, Any]:
    """``why`` timed over HTTP when this tree has `launchdeck server`, else as its handler reads the store."""
    import importlib.util

    if importlib.util.find_spec("launchdeck.server") is not None:
        import scale_http

        seconds, cpu = scale_http.time_why(url, releases, samples, tenant=TENANT)
        return {"via": "http", "seconds": seconds, "cpuMs": round(cpu * 1000, 2)}
    return {"via": "store", "seconds": time_store(url, releases, samples)}
