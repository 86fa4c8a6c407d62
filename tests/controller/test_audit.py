"""`audit verify`'s checks (controller/audit.py) on a log written to SQLite and PostgreSQL (``db_url``):
signed heads at stage ends and at the outcome, the final bundle, and the release row.

Tampering is done the way someone with write access to the database would: SQL on the rows, or a
chain recomputed with the store's own hash function.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from launchdeck.controller import audit
from launchdeck.controller import evidence as bundles
from launchdeck.evidence import keys
from launchdeck.evidence.trust import TrustedKeys
from launchdeck.store.chain import row_hash
from launchdeck.store.repo import NewDecision, Store, StoredRelease
from launchdeck.store.tables import DecisionRow

KINDS = ["release.started", "stage.started", "evaluation", "stage.passed", "stage.started", "evaluation",
         "gate.fired", "rollback.started", "rollback.completed", "release.rolled_back"]


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store(db_url) as opened:
        yield opened


@pytest.fixture
def key(tmp_path: Path) -> object:
    keys.generate(tmp_path / "keys" / "release.key")
    return keys.load_private(tmp_path / "keys" / "release.key")


@pytest.fixture
def trusted(key: object) -> TrustedKeys:
    return TrustedKeys({keys.key_id(key.public_key()): "test"})  # type: ignore[attr-defined]


def _save(store: Store, rel: StoredRelease, kinds: list[str], *, outcome: str | None = None) -> None:
    phase = "done" if outcome else "stage"
    store.save(release_id=rel.id, state={"engine": {"phase": phase}}, plan_clock=1.0, outcome=outcome,
               decisions=[NewDecision(1.0, k, f"{k} happened", "errors" if k == "gate.fired" else None, {"k": k})
                          for k in kinds], messages=[])


def _release(store: Store, key: object, tmp_path: Path, *, final: bool = True) -> StoredRelease:
    """Ten decisions: a stage head after the fourth, the outcome (rolled back) and final bundle after the tenth."""
    rel = store.create(tenant="shop", name="checkout-v2", plan_path="plan.yaml", plan_digest="sha256:" + "ab" * 32,
                       state={"engine": {"phase": "starting"}})
    _save(store, rel, KINDS[:4])
    audit.sign_head(store=store, release_id=rel.id, key=key, label="stage-1", bundle=tmp_path / "stage-1.json")
    _save(store, rel, KINDS[4:], outcome="rolled_back" if final else None)
    if final:
        bundles.write(store=store, release=store.require(name="checkout-v2"), key=key, directory=tmp_path / "evidence",
                      label=None, summary={"outcome": "rolled_back"}, secrets=[], checks=[])
    return store.require(name="checkout-v2")


def _verify(store: Store, trusted: TrustedKeys, bundle: Path | None = None) -> audit.AuditReport:
    return audit.verify_release(store, store.require(name="checkout-v2"), trusted, bundle)


def _sql(store: Store, statement: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


def _recompute_from(store: Store, rel: StoredRelease, seq: int, reason: str) -> None:
    """Edit decision ``seq``'s reason and give it and every later row fresh hashes: an intact-looking chain."""
    with store.session() as s:
        rows = s.query(DecisionRow).filter_by(release_id=rel.id).order_by(DecisionRow.seq).all()
        prev = rows[seq - 2].hash
        for row in rows[seq - 1:]:
            if row.seq == seq:
                row.reason = reason
            row.prev_hash = prev
            row.hash = prev = row_hash(row)


def test_an_untouched_log_verifies_against_its_heads_bundle_and_release_row(store: Store, key: object,
                                                                            trusted: TrustedKeys,
                                                                            tmp_path: Path) -> None:
    _release(store, key, tmp_path)
    report = _verify(store, trusted)
    assert report.ok, report.problems
    said = "\n".join(report.checked)
    assert "10 decisions chained intact for checkout-v2" in said
    assert "(release) covers all 10 decisions" in said
    assert "the final bundle checkout-v2.run1.bundle.json lists the same 10 decision hashes" in said
    assert "outcome rolled_back, phase done" in said


def test_a_cut_tail_is_named_against_the_signed_head(store: Store, key: object, trusted: TrustedKeys,
                                                     tmp_path: Path) -> None:
    rel = _release(store, key, tmp_path)
    _sql(store, "DELETE FROM decisions WHERE release_id = :r AND seq > 7", r=rel.id)
    problems = _verify(store, trusted).problems
    assert any(p.startswith("decisions 8–10 are missing: the signed head at ") and p.endswith("(release) covers 10")
               for p in problems), problems


def test_a_cut_tail_is_found_by_the_heads_alone(store: Store, key: object, trusted: TrustedKeys,
                                                tmp_path: Path) -> None:
    rel = _release(store, key, tmp_path, final=False)
    _sql(store, "DELETE FROM decisions WHERE release_id = :r AND seq > 2", r=rel.id)
    problems = _verify(store, trusted).problems
    assert len(problems) == 1 and problems[0].startswith("decisions 3–4 are missing: the signed head at "), problems
    assert problems[0].endswith("(stage-1) covers 4")


def test_a_deleted_middle_decision_is_a_gap(store: Store, key: object, trusted: TrustedKeys, tmp_path: Path) -> None:
    rel = _release(store, key, tmp_path)
    _sql(store, "DELETE FROM decisions WHERE release_id = :r AND seq = 6", r=rel.id)
    problems = _verify(store, trusted).problems
    assert problems[0] == "decision 6 is missing (gap between 5 and 7)"
    assert "decision 6 is missing: the final bundle checkout-v2.run1.bundle.json lists it" in problems
    assert not any("changed" in p for p in problems), problems


def test_decisions_after_the_outcome_head_are_extra(store: Store, key: object, trusted: TrustedKeys,
                                                    tmp_path: Path) -> None:
    _release(store, key, tmp_path)
    _save(store, store.require(name="checkout-v2"), ["release.promoted", "stage.passed"], outcome="rolled_back")
    problems = _verify(store, trusted).problems
    assert any(p.startswith("decisions 11–12 are extra: the signed head at ") and "the release has ended" in p
               for p in problems), problems


def test_decisions_after_the_last_head_of_a_running_release_are_expected(store: Store, key: object,
                                                                         trusted: TrustedKeys, tmp_path: Path) -> None:
    _release(store, key, tmp_path, final=False)
    report = _verify(store, trusted)
    assert report.ok, report.problems
    assert any("decisions 5–10 came after the signed head" in n and "still running" in n for n in report.notes)


def test_an_edited_decision_is_named_by_the_chain(store: Store, key: object, trusted: TrustedKeys,
                                                  tmp_path: Path) -> None:
    rel = _release(store, key, tmp_path)
    _sql(store, "UPDATE decisions SET reason = 'all fine' WHERE release_id = :r AND seq = 7", r=rel.id)
    assert _verify(store, trusted).problems[0] == "decision 7 (gate.fired) was changed"


def test_a_recomputed_chain_is_named_by_the_final_bundle_and_fails_the_signed_heads(
        store: Store, key: object, trusted: TrustedKeys, tmp_path: Path) -> None:
    rel = _release(store, key, tmp_path)
    _recompute_from(store, rel, 7, "all fine")
    assert store.verify_chain(release_id=rel.id) is None  # the chain alone is fooled
    problems = _verify(store, trusted).problems
    assert problems[0] == "decision 7 (gate.fired) was changed: it differs from the final bundle checkout-v2.run1.bundle.json"
    assert any(p.startswith("the log does not match the signed head at ") and "(release)" in p
               and "a decision among 5–10 was changed and the chain recomputed" in p for p in problems), problems


def test_a_recomputed_chain_is_located_between_heads_without_a_bundle(store: Store, key: object, trusted: TrustedKeys,
                                                                      tmp_path: Path) -> None:
    rel = _release(store, key, tmp_path)
    (tmp_path / "evidence" / "checkout-v2.run1.bundle.json").unlink()
    _recompute_from(store, rel, 3, "nothing to see")
    report = _verify(store, trusted)
    assert len(report.problems) == 1, report.problems
    assert "(stage-1): a decision among 1–4 was changed and the chain recomputed" in report.problems[0]
    assert any("checkout-v2.run1.bundle.json not found" in n for n in report.notes)


def test_an_edited_release_outcome_is_caught(store: Store, key: object, trusted: TrustedKeys, tmp_path: Path) -> None:
    rel = _release(store, key, tmp_path)
    _sql(store, "UPDATE releases SET outcome = 'promoted' WHERE id = :r", r=rel.id)
    problems = _verify(store, trusted).problems
    assert len(problems) == 1 and problems[0].startswith("the release row was changed: its outcome is promoted, "
                                                         "the signed head at "), problems
    assert problems[0].endswith("(release) says rolled_back")


def test_an_outcome_no_head_covers_is_reported(store: Store, key: object, trusted: TrustedKeys, tmp_path: Path) -> None:
    rel = _release(store, key, tmp_path, final=False)
    _sql(store, "UPDATE releases SET outcome = 'promoted' WHERE id = :r", r=rel.id)
    problems = _verify(store, trusted).problems
    assert any(p.startswith("the release row's outcome (promoted) is not covered by a signed head") for p in problems)


def test_heads_by_an_untrusted_key_do_not_count(store: Store, key: object, tmp_path: Path) -> None:
    _release(store, key, tmp_path)
    stranger = TrustedKeys({"sha256:" + "00" * 32: "somebody"})
    problems = _verify(store, stranger).problems
    fingerprint = keys.key_id(key.public_key())  # type: ignore[attr-defined]
    assert problems[0].startswith("2 signed heads (the latest at ")
    assert problems[0].endswith(f"release): signature valid but by an untrusted key {fingerprint}; "
                                "trust it with --key PUB or evidence.trustedKeys")


def test_an_edited_head_is_caught(store: Store, key: object, trusted: TrustedKeys, tmp_path: Path) -> None:
    rel = _release(store, key, tmp_path)
    _sql(store, "UPDATE log_heads SET payload = REPLACE(payload, :was, :now) WHERE release_id = :r",
         was='"count":10', now='"count":9', r=rel.id)
    problems = _verify(store, trusted).problems
    assert any(p.startswith("signed head ") and "does not match its signature" in p for p in problems), problems


def test_deleting_every_head_of_an_ended_release_is_caught(store: Store, key: object, trusted: TrustedKeys,
                                                           tmp_path: Path) -> None:
    rel = _release(store, key, tmp_path)
    _sql(store, "DELETE FROM log_heads WHERE release_id = :r", r=rel.id)
    problems = _verify(store, trusted).problems
    assert problems == ["no trusted signed head covers this log: it cannot be told apart from a cut or recomputed one "
                        "(written before launchdeck signed its log, or the heads were deleted)"]
    # the bundle still holds the truth when it is named
    _sql(store, "DELETE FROM decisions WHERE release_id = :r AND seq > 8", r=rel.id)
    problems = _verify(store, trusted, bundle=tmp_path / "evidence" / "checkout-v2.run1.bundle.json").problems
    assert "decisions 9–10 are missing: the final bundle checkout-v2.run1.bundle.json lists them" in problems


def test_each_bundle_embeds_the_head_it_was_signed_with(store: Store, key: object, tmp_path: Path) -> None:
    from launchdeck.evidence import read_statement

    _release(store, key, tmp_path)
    predicate = read_statement(tmp_path / "evidence" / "checkout-v2.run1.bundle.json")["predicate"]
    head = predicate["logHead"]["head"]
    assert (head["count"], head["outcome"], head["phase"], head["label"]) == (10, "rolled_back", "done", "release")
    assert head["head"] == predicate["decisions"][-1]["hash"] and len(predicate["decisions"]) == 10
    stored = store.log_heads(release_id=store.require(name="checkout-v2").id)
    assert [h.bundle for h in stored] == [str((tmp_path / "stage-1.json").resolve()),
                                          str((tmp_path / "evidence" / "checkout-v2.run1.bundle.json").resolve())]
