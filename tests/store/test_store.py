"""The release store on SQLite and on PostgreSQL: every test runs once per backend (``db_url``).

PostgreSQL needs LAUNCHDECK_TEST_DB (see tests/conftest.py); without it those cases skip locally
and fail in CI.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, event, text

from launchdeck.errors import NotFound, StoreError, UsageError
from launchdeck.store import migrations
from launchdeck.store.repo import GENESIS, NewDecision, NewMessage, Store, StoredRelease
from launchdeck.store.tables import Base, DecisionRow

STATE = {"engine": {"phase": "starting", "weight": 0.0}, "roles": {"sre": ["sam"]}}


def _release(store: Store, name: str = "checkout-v2", tenant: str = "shop") -> StoredRelease:
    return store.create(tenant=tenant, name=name, plan_path="plans/checkout.yaml",
                        plan_digest="sha256:" + "ab" * 32, state=STATE)


def _decision(kind: str = "stage.entered", at: float = 0.0, **inputs: object) -> NewDecision:
    return NewDecision(plan_at=at, kind=kind, reason=f"{kind} at {at:g}", gate=None, inputs=dict(inputs))


def _message(title: str = "canary at 5%") -> NewMessage:
    return NewMessage(channel="ops", event="stage", title=title, text="moving on", locale="en")


def _sql(store: Store, statement: str, **params: object) -> list[tuple[object, ...]]:
    with store.engine.begin() as conn:
        result = conn.execute(text(statement), params)
        return [tuple(r) for r in result] if result.returns_rows else []


# -- releases ------------------------------------------------------------------------------------------


def test_create_find_and_archive(store: Store) -> None:
    made = _release(store)
    assert made.id > 0 and made.state == STATE and made.plan_clock == 0.0 and made.outcome is None
    assert store.find(name="checkout-v2") == made
    assert store.find(name="checkout-v2", tenant="shop") == made
    assert store.find(name="checkout-v2", tenant="other") is None
    assert store.require(name="checkout-v2") == made

    store.archive(release_id=made.id)
    assert store.find(name="checkout-v2") is None
    assert store.find(name=f"checkout-v2#{made.id}") == StoredRelease(**{**made.__dict__, "name": f"checkout-v2#{made.id}"})
    again = _release(store)  # the plan's name can run again
    assert again.id != made.id and store.find(name="checkout-v2") == again


def test_releases_lists_every_run_newest_first_and_marks_the_archived_ones(store: Store) -> None:
    first = _release(store)
    store.save(release_id=first.id, state=STATE, plan_clock=60.0, outcome="rolled_back", decisions=[], messages=[])
    store.archive(release_id=first.id)
    second = _release(store)
    listed = store.releases()
    assert [(r.name, r.archived, r.outcome) for r in listed] == [("checkout-v2", False, None),
                                                                (f"checkout-v2#{first.id}", True, "rolled_back")]
    assert listed[0].id == second.id and listed[0].updated_at is not None
    assert store.releases(tenant="other") == []


def test_a_release_name_is_unique_per_tenant(store: Store) -> None:
    _release(store)
    _release(store, tenant="other")
    with pytest.raises(StoreError, match="database error"):
        _release(store)


def test_require_refuses_a_name_two_tenants_use_and_says_which(store: Store) -> None:
    shop = _release(store)
    other = _release(store, tenant="other")
    with pytest.raises(UsageError) as caught:
        store.require(name="checkout-v2")
    assert caught.value.exit_code == 2
    assert caught.value.message == "release 'checkout-v2' exists in 2 tenants: other, shop"
    assert "--tenant" in caught.value.hint
    assert store.require(name="checkout-v2", tenant="shop") == shop
    assert store.require(name="checkout-v2", tenant="other") == other


def test_require_in_a_tenant_without_that_release_is_not_found(store: Store) -> None:
    _release(store)
    with pytest.raises(NotFound, match="no release named 'checkout-v2' of tenant 'acme'"):
        store.require(name="checkout-v2", tenant="acme")


# -- save: state, decisions and messages in one transaction ----------------------------------------------


def test_save_commits_state_decisions_and_messages_together(store: Store, open_store: Callable[[], Store]) -> None:
    rel = _release(store)
    new_state = {**STATE, "engine": {"phase": "canary", "weight": 5.0}}
    store.save(release_id=rel.id, state=new_state, plan_clock=60.0, outcome=None,
               decisions=[_decision("stage.entered", 60.0, weight=5.0), _decision("gate.passed", 60.0, gate="errors")],
               messages=[_message()])

    other = open_store()  # what another process sees
    found = other.require(name="checkout-v2")
    assert found.state == new_state and found.plan_clock == 60.0 and found.outcome is None
    assert [(d.seq, d.kind, d.inputs) for d in other.decisions(release_id=rel.id)] == [
        (1, "stage.entered", {"weight": 5.0}), (2, "gate.passed", {"gate": "errors"})]
    assert [m.title for m in other.pending_messages(release_id=rel.id)] == ["canary at 5%"]

    store.save(release_id=rel.id, state=new_state, plan_clock=120.0, outcome="promoted",
               decisions=[_decision("release.promoted", 120.0)], messages=[])
    assert other.require(name="checkout-v2").outcome == "promoted"
    assert [d.seq for d in other.decisions(release_id=rel.id)] == [1, 2, 3]


def test_a_failing_save_leaves_nothing_half_written(store: Store) -> None:
    rel = _release(store)
    store.save(release_id=rel.id, state=STATE, plan_clock=10.0, outcome=None, decisions=[_decision()], messages=[])
    broken = NewMessage(channel="ops", event="stage", title=None, text="x", locale="en")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="database error"):
        store.save(release_id=rel.id, state={"engine": {"phase": "canary"}}, plan_clock=99.0, outcome="promoted",
                   decisions=[_decision("stage.entered", 99.0), _decision("gate.passed", 99.0)],
                   messages=[_message(), broken])

    after = store.require(name="checkout-v2")
    assert after.state == STATE and after.plan_clock == 10.0 and after.outcome is None
    assert [d.seq for d in store.decisions(release_id=rel.id)] == [1]
    assert store.pending_messages(release_id=rel.id) == []
    assert store.verify_chain(release_id=rel.id) is None
    # and the store still works: the next save continues the chain where the last good one ended
    store.save(release_id=rel.id, state=STATE, plan_clock=20.0, outcome=None, decisions=[_decision()], messages=[])
    assert [d.seq for d in store.decisions(release_id=rel.id)] == [1, 2]


def test_concurrent_saves_to_one_release_keep_one_chain(db_url: str, open_store: Callable[[], Store]) -> None:
    """Two writers (the row lock on PostgreSQL, the write lock on SQLite) never fork the chain."""
    first, second = open_store(), open_store()
    rel = _release(first)
    for store in (first, second):  # widen the race: pause after reading the chain's last decision
        event.listen(store.engine, "after_cursor_execute", _pause_after_reading_the_last_decision)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(store: Store, who: str) -> None:
        try:
            start.wait(timeout=30)
            for i in range(10):
                store.save(release_id=rel.id, state={"last": who}, plan_clock=float(i), outcome=None,
                           decisions=[_decision("tick", float(i), who=who)], messages=[_message(who)])
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(s, w)) for s, w in ((first, "a"), (second, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    decisions = first.decisions(release_id=rel.id)
    assert [d.seq for d in decisions] == list(range(1, 21))
    assert sorted(d.inputs["who"] for d in decisions) == ["a"] * 10 + ["b"] * 10
    assert first.verify_chain(release_id=rel.id) is None
    assert len(first.pending_messages(release_id=rel.id)) == 20


def _pause_after_reading_the_last_decision(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
    if "FROM decisions" in statement and "ORDER BY decisions.seq DESC" in statement:
        time.sleep(0.02)


# -- the hash chain ---------------------------------------------------------------------------------------


def _chained(store: Store) -> StoredRelease:
    rel = _release(store)
    store.save(release_id=rel.id, state=STATE, plan_clock=1.0, outcome=None,
               decisions=[_decision("stage.entered", 1.0, weight=5.0), _decision("evaluation", 1.0, p=0.25)],
               messages=[])
    store.save(release_id=rel.id, state=STATE, plan_clock=2.0, outcome=None,
               decisions=[_decision("gate.fired", 2.0, gate="errors", canary=0.031, limit=0.01)], messages=[])
    return rel


def test_the_hash_chain_links_every_decision(store: Store) -> None:
    rel = _chained(store)
    rows = store.decisions(release_id=rel.id)
    assert rows[0].prev_hash == GENESIS
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]  # across saves too
    assert store.verify_chain(release_id=rel.id) is None


@pytest.mark.parametrize(("column", "value"), [("reason", "nothing to see here"), ("kind", "gate.passed"),
                                               ("plan_at", 3.5), ("inputs", {"p": 0.9}), ("gate", "p95"),
                                               ("wall_at", datetime(2020, 1, 1, tzinfo=UTC))])
def test_the_hash_chain_detects_an_edited_decision(store: Store, column: str, value: object) -> None:
    rel = _chained(store)
    if column in ("inputs", "wall_at"):  # through the ORM, so the value is written the way the backend stores it
        with store.session() as s:
            row = s.get(DecisionRow, store.decisions(release_id=rel.id)[1].id)
            assert row is not None
            setattr(row, column, value)
    else:
        _sql(store, f"UPDATE decisions SET {column} = :value WHERE release_id = :rid AND seq = 2",
             value=value, rid=rel.id)
    assert store.verify_chain(release_id=rel.id) == "decision 2 (%s) was changed" % (
        value if column == "kind" else "evaluation")


def test_the_hash_chain_reports_a_removed_decision_as_a_gap(store: Store) -> None:
    rel = _chained(store)
    _sql(store, "DELETE FROM decisions WHERE release_id = :rid AND seq = 2", rid=rel.id)
    assert store.verify_chain(release_id=rel.id) == "decision 2 is missing (gap between 1 and 3)"


ODD_NUMBERS = {"inf": math.inf, "-inf": -math.inf, "big": 1e20, "huge": 1.7976931348623157e308, "neg_zero": -0.0,
               "tiny": 5e-324, "p": 1.2e-7, "three": 3.0, "int": 3, "bigint": 2**70, "list": [1e16, 0.1, -2.5e-5],
               "nested": {"e_value": math.inf, "bound": 20.0}, "looks_like_ours": {"$float": "not a number"}}


def test_json_keeps_every_float_exactly_so_the_chain_still_verifies(store: Store, open_store: Callable[[], Store]) -> None:
    """JSONB would turn 1e20 into an integer, -0.0 into 0.0 and refuse inf and NaN; e-values reach all of those."""
    rel = _release(store)
    state = {**STATE, "log_lr": [math.nan, math.inf, 1e300]}
    store.save(release_id=rel.id, state=state, plan_clock=1.0, outcome=None,
               decisions=[_decision("evaluation", 1.0, **ODD_NUMBERS, nan=math.nan)], messages=[])

    other = open_store()
    got = other.decisions(release_id=rel.id)[0].inputs
    assert json.dumps(got, sort_keys=True) == json.dumps({**ODD_NUMBERS, "nan": math.nan}, sort_keys=True)
    assert math.copysign(1.0, got["neg_zero"]) == -1.0 and isinstance(got["big"], float) and isinstance(got["int"], int)
    assert json.dumps(other.require(name="checkout-v2").state, sort_keys=True) == json.dumps(state, sort_keys=True)
    assert other.verify_chain(release_id=rel.id) is None


def test_timestamps_come_back_as_aware_utc(store: Store) -> None:
    rel = _release(store)
    before = datetime.now(UTC)
    store.save(release_id=rel.id, state=STATE, plan_clock=1.0, outcome=None, decisions=[_decision()],
               messages=[_message()])
    store.add_signoff(release_id=rel.id, who="sam", role="sre", stage=1)
    after = datetime.now(UTC)
    stamps = [store.decisions(release_id=rel.id)[0].wall_at, store.signoffs(release_id=rel.id)[0].at,
              store.pending_messages(release_id=rel.id)[0].created_at]
    for stamp in stamps:
        assert stamp.tzinfo is not None and stamp.utcoffset() == timedelta(0)
        assert before - timedelta(seconds=1) <= stamp <= after + timedelta(seconds=1)


# -- sign-offs and the outbox -----------------------------------------------------------------------------


def test_signoffs_are_recorded_in_order_and_consumed(store: Store, open_store: Callable[[], Store]) -> None:
    rel = _release(store)
    cli = open_store()  # `launchdeck approve` in another process, while the run has its own store open
    cli.add_signoff(release_id=rel.id, who="sam", role="sre", stage=1, reason="dashboards green")
    cli.add_signoff(release_id=rel.id, who="kim", role="qa", checklist="T-1h")
    cli.add_signoff(release_id=rel.id, who="sam", role="sre", decision="rollback", source="chat")

    rows = store.signoffs(release_id=rel.id)
    assert [(r.who, r.role, r.stage, r.checklist, r.decision, r.source, r.consumed) for r in rows] == [
        ("sam", "sre", 1, None, None, "cli", False), ("kim", "qa", None, "T-1h", None, "cli", False),
        ("sam", "sre", None, None, "rollback", "chat", False)]
    assert rows[0].reason == "dashboards green" and rows[1].reason == ""

    store.consume(signoff_id=rows[0].id)
    assert [r.consumed for r in cli.signoffs(release_id=rel.id)] == [True, False, False]
    assert store.signoffs(release_id=_release(store, name="other").id) == []


def test_outbox_pending_until_sent(store: Store) -> None:
    rel = _release(store)
    store.save(release_id=rel.id, state=STATE, plan_clock=1.0, outcome=None, decisions=[],
               messages=[_message("one"), _message("two"), _message("three")])
    one, two, three = store.pending_messages(release_id=rel.id)
    assert (one.title, two.title, three.title) == ("one", "two", "three")
    assert one.sent_at is None and one.attempts == 0 and one.last_error is None

    store.mark_failed(message_id=two.id, error="webhook answered 503")
    store.mark_failed(message_id=two.id, error="timed out")
    store.mark_sent(message_id=one.id)
    pending = store.pending_messages(release_id=rel.id)
    assert [m.title for m in pending] == ["two", "three"]
    assert (pending[0].attempts, pending[0].last_error) == (2, "timed out")
    store.mark_failed(message_id=10**6, error="gone")  # an unknown message is ignored

    store.mark_sent(message_id=two.id)
    store.mark_sent(message_id=three.id)
    assert store.pending_messages(release_id=rel.id) == []


def test_messages_lists_sent_and_pending_in_order(store: Store) -> None:
    rel = _release(store)
    store.save(release_id=rel.id, state=STATE, plan_clock=1.0, outcome=None, decisions=[],
               messages=[_message("one"), _message("two")])
    one, _two = store.pending_messages(release_id=rel.id)
    store.mark_sent(message_id=one.id)
    assert [(m.title, m.sent_at is not None) for m in store.messages(release_id=rel.id)] == [("one", True),
                                                                                             ("two", False)]


def test_one_claim_on_a_release_outbox_at_a_time_across_connections(db_url: str) -> None:
    # Two Store objects stand for two processes (a run and `messages flush`): each has its own engine.
    with Store(db_url) as first, Store(db_url) as second:
        rel, other = _release(first), _release(first, name="other")
        with first.outbox_claim(release_id=rel.id) as held:
            assert held
            with second.outbox_claim(release_id=rel.id) as also:
                assert not also  # the flush would otherwise send the same queued message again
            with second.outbox_claim(release_id=other.id) as elsewhere:
                assert elsewhere  # another release's outbox is not held up
        with second.outbox_claim(release_id=rel.id) as after:
            assert after  # released at the end of the first claim


# -- opening: migrations, several processes at once, errors ----------------------------------------------


def test_opening_the_same_database_twice_is_idempotent(db_url: str, open_store: Callable[[], Store]) -> None:
    first = open_store()
    rel = _release(first)
    second = open_store()  # already at head: nothing to do
    assert second.require(name="checkout-v2") == rel
    second.add_signoff(release_id=rel.id, who="sam", role="sre", stage=1)
    assert [s.who for s in first.signoffs(release_id=rel.id)] == ["sam"]
    assert _sql(first, f"SELECT version_num FROM {migrations.VERSION_TABLE}") == [(h,) for h in migrations.heads()]


def test_many_stores_opening_a_new_database_at_once(db_url: str) -> None:
    """A run and `launchdeck approve` (and more) opening an empty database together: one creates the
    schema under the lock, the others wait and find it done."""
    count = 6
    start = threading.Barrier(count)
    opened: list[Store] = []
    errors: list[BaseException] = []

    def open_() -> None:
        try:
            start.wait(timeout=30)
            opened.append(Store(db_url))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=open_) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert not errors, errors
        assert len(opened) == count
        rel = _release(opened[0])
        assert all(s.find(name="checkout-v2") == rel for s in opened)
        assert _sql(opened[0], f"SELECT version_num FROM {migrations.VERSION_TABLE}") == [(h,) for h in migrations.heads()]
    finally:
        for s in opened:
            s.close()


def test_the_migrations_create_exactly_the_models(store: Store) -> None:
    """Autogenerate finds nothing to do on a migrated database: models and migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "version_table": migrations.VERSION_TABLE})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_nothing_and_back(store: Store, db_url: str) -> None:
    from alembic import command

    _release(store)
    store.close()
    with store.engine.begin() as conn:
        command.downgrade(migrations.config(conn), "base")
    assert {t for (t,) in _tables(store)} == {migrations.VERSION_TABLE}
    reopened = Store(db_url)
    try:
        assert reopened.find(name="checkout-v2") is None
        _release(reopened)
    finally:
        reopened.close()


def _tables(store: Store) -> list[tuple[str]]:
    from sqlalchemy import inspect

    with store.engine.connect() as conn:
        return [(t,) for t in inspect(conn).get_table_names()]


def _insert_old_release(engine: Engine, db_url: str) -> None:
    """A release row named 'old', written with SQL as an older launchdeck's tables held it (plan clock 7)."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO releases (tenant, name, plan_path, plan_digest, state, plan_clock, created_at, "
                          "updated_at) VALUES ('shop', 'old', 'p.yaml', 'sha256:00', :state, 7.0, :now, :now)"),
                     {"state": '{"engine": {}}', "now": now.replace(tzinfo=None) if "sqlite" in db_url else now})
    engine.dispose()


def test_a_database_made_by_create_all_is_stamped_and_kept(db_url: str) -> None:
    """Before migrations, Store(url) ran Base.metadata.create_all: such a database keeps its data."""
    engine = create_engine(db_url)
    with engine.begin() as conn:  # the tables as they were then: revision 0001 made them, with no version table
        from alembic import command

        command.upgrade(migrations.config(conn), migrations.BASELINE)
        conn.execute(text(f"DROP TABLE {migrations.VERSION_TABLE}"))
    _insert_old_release(engine, db_url)

    with Store(db_url) as store:
        old = store.require(name="old")
        assert (old.state, old.plan_clock) == ({"engine": {}}, 7.0)
        assert _sql(store, f"SELECT version_num FROM {migrations.VERSION_TABLE}") == [(h,) for h in migrations.heads()]
        store.save(release_id=old.id, state=STATE, plan_clock=8.0, outcome=None, decisions=[_decision()], messages=[])
        assert store.verify_chain(release_id=old.id) is None


def test_a_database_with_only_some_of_the_tables_is_refused(db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE releases (id INTEGER PRIMARY KEY, something TEXT)"))
    engine.dispose()
    with pytest.raises(StoreError, match="has some of launchdeck's tables but not decisions, outbox, signoffs") as e:
        Store(db_url)
    assert e.value.hint


def test_a_database_from_a_newer_launchdeck_is_refused(store: Store, db_url: str) -> None:
    _sql(store, f"UPDATE {migrations.VERSION_TABLE} SET version_num = 'f00d'")
    store.close()
    with pytest.raises(StoreError, match="f00d") as e:
        Store(db_url)
    assert "newer launchdeck" in e.value.hint


def test_the_migrations_ship_inside_the_package() -> None:
    scripts = migrations.HERE
    assert (scripts / "env.py").is_file() and (scripts / "script.py.mako").is_file()
    assert (scripts / "alembic.ini").is_file()
    assert sorted(p.name for p in (scripts / "versions").glob("*.py")) == ["0001_initial_tables.py",
                                                                          "0002_signed_log_heads.py",
                                                                          "0003_control_plane.py",
                                                                          "0004_tenant_documents.py",
                                                                          "0005_chat.py",
                                                                          "0006_guard_rails.py",
                                                                          "0007_drive_failures.py",
                                                                          "0008_alert_delivery.py"]
    assert migrations.heads() == {"0008"} == {migrations.HEAD}


def test_a_release_stored_before_0007_has_no_failed_attempts(db_url: str) -> None:
    from alembic import command

    engine = create_engine(db_url)
    with engine.begin() as conn:
        command.upgrade(migrations.config(conn), "0006")
    _insert_old_release(engine, db_url)
    with Store(db_url) as store:
        old = store.require(name="old")
        assert (old.drive_failures, old.drive_error, old.gave_up_at) == (0, None, None)


# -- a database that cannot be opened ------------------------------------------------------------------


def test_an_unreachable_postgresql_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError) as e:
        Store("postgresql+psycopg://x:s3cret-pw@127.0.0.1:1/none")
    message = str(e.value)
    assert e.value.message.startswith("cannot open the database postgresql+psycopg://x:***@127.0.0.1:1/none: ")
    assert "port 1 failed" in message and "Connection refused" in message
    assert "is PostgreSQL running" in e.value.hint and "LAUNCHDECK_DB" in e.value.hint
    assert "s3cret-pw" not in message and "\n" not in e.value.message


@pytest.mark.parametrize(("url", "expected"), [
    ("not a url", "Could not parse SQLAlchemy URL"),
    ("nosuchdb://somewhere/x", "nosuchdb"),
    ("sqlite:////nonexistent-dir/launchdeck.db", "unable to open database file"),
])
def test_a_bad_url_is_a_store_error(url: str, expected: str) -> None:
    with pytest.raises(StoreError, match=expected) as e:
        Store(url)
    assert e.value.hint


def test_the_cli_says_what_is_wrong_without_a_traceback(capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from launchdeck.cli import main

    monkeypatch.setenv("LAUNCHDECK_DB", "postgresql+psycopg://ops:hunter22@127.0.0.1:1/launchdeck")
    code = main(["approve", "checkout-v2", "--role", "sre", "--as", "sam", "--stage", "1"])
    err = capsys.readouterr().err
    assert code == 2  # the database the user named cannot be opened: bad input, like a wrong flag
    assert err.startswith("launchdeck: cannot open the database postgresql+psycopg://ops:***@127.0.0.1:1/launchdeck: ")
    assert "\n  hint: is PostgreSQL running" in err
    assert "Traceback" not in err and "hunter22" not in err


def test_processes_opening_a_new_database_at_once(db_url: str) -> None:
    """The same with real processes (each its own engine and connections), started to open together."""
    import subprocess
    import sys

    count = 4
    at = time.time() + 2.0  # past every interpreter's start-up, so the opens overlap
    script = ("import sys, time\nfrom launchdeck.store.repo import Store\n"
              "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
              "store = Store(sys.argv[1])\nstore.find(name='x')\nstore.close()\nprint('opened')\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, db_url, repr(at)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(count)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * count, [err[-2000:] for _, err in results]
    assert all(out.strip() == "opened" for out, _ in results)
    with Store(db_url) as store:
        assert _sql(store, f"SELECT version_num FROM {migrations.VERSION_TABLE}") == [(h,) for h in migrations.heads()]


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql+psycopg://ops:hunter22@db.internal:5432/launchdeck",
     "postgresql+psycopg://ops:***@db.internal:5432/launchdeck"),
    ("postgresql+psycopg://ops@db.internal/launchdeck?password=hunter22",
     "postgresql+psycopg://ops@db.internal/launchdeck?password=%2A%2A%2A"),
    ("sqlite:///launchdeck.db", "sqlite:///launchdeck.db"),
])
def test_urls_in_messages_never_show_the_password(url: str, shown: str) -> None:
    from launchdeck.store.repo import _safe

    assert _safe(url) == shown and "hunter22" not in _safe(url)
