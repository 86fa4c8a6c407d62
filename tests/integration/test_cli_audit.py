"""`launchdeck audit verify` after a real run, with its decision log tampered with in the database.

One short release (rolled back in stage 2, so there is a stage head, a `gate.fired` and an outcome
head) is run once; each test changes the log with SQL as someone with write access to the database
could, checks what `audit verify` names, and puts the rows back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from ld_integration import Launchdeck, Result, assert_store_isolated, bundle_statement, launchdeck_in
from sqlalchemy import delete, text, update

from launchdeck.store.chain import row_hash
from launchdeck.store.repo import Store, StoredRelease
from launchdeck.store.tables import DecisionRow, ReleaseRow

pytestmark = pytest.mark.integration

RELEASE = "ledger-v3"
PLAN = """
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: ledger-v3, service: ledger, version: v3, previousVersion: v2}
    spec:
      target:
        versions:
          stable: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
          canary:
            errorRate: 0.1%
            latency: {median: 20ms, p95: 60ms}
            faults:
              - {from: 2m, errorRate: 40%}      # during stage 2
        load: {rps: 200, users: 1000}
      stages:
        - {weight: 20%, hold: 90s}
        - {weight: 50%, hold: 3m}
        - {weight: 100%, hold: 30s}
      analysis: {interval: 10s, window: 2m, minRequests: 20}
      gates:
        - {name: error-rate, metric: error_rate, op: ">=", threshold: 10%, for: 20s, severity: immediate}
"""
COLUMNS = ("id", "release_id", "seq", "plan_at", "wall_at", "kind", "reason", "gate", "inputs", "prev_hash", "hash")


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory,
           new_store_url: Callable[[Path], AbstractContextManager[str]]) -> Iterator[tuple[Launchdeck, Result]]:
    cwd = tmp_path_factory.mktemp("ledger")
    with new_store_url(cwd) as db_url:
        with launchdeck_in(cwd, db_url) as cli:
            cli.write("ledger.yaml", PLAN)
            result = cli("run", "ledger.yaml", "--time-scale", "60", "--output", "json", "--seed", "7")
            assert result.returncode == 3, result.explain()
            yield cli, result
        assert_store_isolated(db_url)


@contextmanager
def tampering(cli: Launchdeck) -> Iterator[tuple[Store, StoredRelease]]:
    """The release's store to tamper with; its decisions and outcome are put back afterwards."""
    store = cli.store()
    assert store is not None
    release = store.require(name=RELEASE)
    kept = [{c: getattr(row, c) for c in COLUMNS} for row in store.decisions(release_id=release.id)]
    try:
        yield store, release
    finally:
        with store.session() as s:
            s.execute(delete(DecisionRow).where(DecisionRow.release_id == release.id))
            s.add_all(DecisionRow(**row) for row in kept)
            s.execute(update(ReleaseRow).where(ReleaseRow.id == release.id).values(outcome=release.outcome))


def _sql(store: Store, statement: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


def _failed(cli: Launchdeck) -> str:
    audit = cli("audit", "verify", RELEASE)
    assert audit.returncode == 1, audit.explain()
    assert "Traceback" not in audit.stderr and "OK" not in audit.stdout
    assert audit.stderr.startswith("FAILED: "), audit.explain()
    return audit.stderr


def test_an_untouched_release_verifies_against_its_signed_heads(ledger: tuple[Launchdeck, Result]) -> None:
    cli, result = ledger
    assert "is now trusted for `evidence verify` and `audit verify` on this machine" in result.stderr
    count = len(cli.decisions(RELEASE))
    audit = cli("audit", "verify", RELEASE)
    assert audit.returncode == 0, audit.explain()
    assert audit.stdout.startswith(f"OK: {count} decisions chained intact for {RELEASE}")
    assert f"(release) covers all {count} decisions" in audit.stdout
    assert "outcome rolled_back, phase done" in audit.stdout
    # each bundle carries the head signed with it: the stage's covers less than the outcome's
    stage_bundle = result.summary["evidence"].replace(".bundle.json", ".stage-1.bundle.json")
    stage = bundle_statement(cli.cwd / stage_bundle)["predicate"]["logHead"]["head"]
    final = bundle_statement(cli.cwd / result.summary["evidence"])["predicate"]["logHead"]["head"]
    assert stage["label"] == "stage-1" and stage["outcome"] is None and stage["count"] < count
    assert (final["count"], final["outcome"], final["phase"]) == (count, "rolled_back", "done")


def test_deleting_the_last_decisions_is_a_cut_tail(ledger: tuple[Launchdeck, Result]) -> None:
    cli, _ = ledger
    count = len(cli.decisions(RELEASE))
    with tampering(cli) as (store, release):
        _sql(store, "DELETE FROM decisions WHERE release_id = :r AND seq > :s", r=release.id, s=count - 3)
        said = _failed(cli)
    assert f"decisions {count - 2}–{count} are missing" in said
    assert f"(release) covers {count}" in said


def test_deleting_a_middle_decision_is_a_gap(ledger: tuple[Launchdeck, Result]) -> None:
    cli, _ = ledger
    with tampering(cli) as (store, release):
        _sql(store, "DELETE FROM decisions WHERE release_id = :r AND seq = 5", r=release.id)
        said = _failed(cli)
    assert said.startswith("FAILED: decision 5 is missing (gap between 4 and 6)")


def test_an_edited_reason_with_the_chain_recomputed_is_named(ledger: tuple[Launchdeck, Result]) -> None:
    cli, _ = ledger
    fired = next(d["seq"] for d in cli.decisions(RELEASE) if d["kind"] == "gate.fired")
    with tampering(cli) as (store, release):
        with store.session() as s:  # the store's own hash function, as a careful forger would use it
            rows = s.query(DecisionRow).filter_by(release_id=release.id).order_by(DecisionRow.seq).all()
            prev = rows[fired - 2].hash
            for row in rows[fired - 1:]:
                if row.seq == fired:
                    row.reason = "error-rate: within its limit"
                row.prev_hash = prev
                row.hash = prev = row_hash(row)
        assert store.verify_chain(release_id=release.id) is None
        said = _failed(cli)
    assert said.startswith(f"FAILED: decision {fired} (gate.fired) was changed: it differs from the final bundle")
    assert "was changed and the chain recomputed" in said


def test_an_edited_release_outcome_is_named(ledger: tuple[Launchdeck, Result]) -> None:
    cli, _ = ledger
    with tampering(cli) as (store, release):
        _sql(store, "UPDATE releases SET outcome = 'promoted' WHERE id = :r", r=release.id)
        said = _failed(cli)
    assert said.startswith("FAILED: the release row was changed: its outcome is promoted, the signed head at ")
    assert "(release) says rolled_back" in said


def test_without_a_trusted_key_neither_check_passes(ledger: tuple[Launchdeck, Result], tmp_path: Path) -> None:
    cli, result = ledger
    stranger = Launchdeck(cli.cwd, cli.db_url)  # another user on the same files: nothing trusted yet
    stranger.env["LAUNCHDECK_TRUSTED_KEYS"] = str(tmp_path / "trusted-keys")
    try:
        evidence = stranger("evidence", "verify", result.summary["evidence"])
        assert evidence.returncode == 1 and "signature valid but by an untrusted key sha256:" in evidence.stderr
        audit = stranger("audit", "verify", RELEASE)
        assert audit.returncode == 1 and "signature valid but by an untrusted key sha256:" in audit.stderr
        key = ("--key", "keys/release-signing.key.pub")
        assert stranger("evidence", "verify", result.summary["evidence"], *key).returncode == 0
        assert stranger("audit", "verify", RELEASE, *key).returncode == 0
    finally:
        stranger.close()
