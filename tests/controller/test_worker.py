"""A worker that cannot drive a release does not retry it at every lease expiry forever: each failed attempt
is recorded with its reason, the next waits longer, and after a bounded number in a row the workers give the
release up, which `status` shows, until a person hands it back with `resume`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from launchdeck.controller.session import RunOptions
from launchdeck.controller.submit import submit
from launchdeck.controller.view import PlainView
from launchdeck.controller.worker import Worker, retry_delay
from launchdeck.errors import TargetError
from launchdeck.plan import load_plan
from launchdeck.services import actions
from launchdeck.services.reading import listing, status_object
from launchdeck.store import leases
from launchdeck.store.repo import Store, StoredRelease

PLAN = """\
apiVersion: launchdeck/v1
kind: Release
metadata: {name: pay-v2, version: v2, previousVersion: v1}
spec:
  roles: {sre: [sam]}
  stages:
    - {weight: 20%, hold: 1m}
    - {weight: 100%, hold: 1m}
"""


@pytest.fixture
def broken(db_url: str, tmp_path: Path) -> StoredRelease:
    """A submitted release no worker can drive: its plan file is gone and the submitted text is not a plan."""
    path = tmp_path / "pay.yaml"
    path.write_text(PLAN)
    with Store(db_url) as store:
        found = submit(store, load_plan(path), RunOptions(db_url=db_url, workdir=tmp_path), PlainView())
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE releases SET plan_text = 'kind: [' WHERE id = :id"), {"id": found.id})
    path.unlink()
    return found


def _work_until(worker: Worker, done: Callable[[], bool], timeout: float = 60.0) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "the condition was not met in time"
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(main())


def test_the_wait_doubles_from_one_lease_period_up_to_a_cap() -> None:
    assert [retry_delay(n, first=15.0, cap=100.0) for n in (1, 2, 3, 4, 5)] == [15.0, 30.0, 60.0, 100.0, 100.0]


def test_a_failed_attempt_is_recorded_and_the_release_waits_for_its_retry_time(db_url: str, broken: StoredRelease,
                                                                                tmp_path: Path) -> None:
    worker = Worker(db_url, home=tmp_path / "home", poll_seconds=0.05, retry_first=3600.0)
    with Store(db_url) as store:
        _work_until(worker, lambda: store.find_id(broken.id).drive_failures == 1)
        found = store.find_id(broken.id)
        assert found.lease_holder is None and found.gave_up_at is None
        assert found.lease_until is not None and found.lease_until > datetime.now(UTC)
        assert "plan" in (found.drive_error or "")
        assert leases.claim_due(store, "another", 15.0, limit=10) == []  # not before its retry time
        decisions = store.decisions(release_id=broken.id)
        assert decisions[-1].kind == "driving.failed"
        assert decisions[-1].reason.startswith("attempt 1 of 8 to drive pay-v2 failed: ")
        assert status_object(found)["driving"]["retryAt"] is not None


def test_after_the_last_attempt_the_workers_give_up_and_status_says_so(db_url: str, broken: StoredRelease,
                                                                       tmp_path: Path) -> None:
    worker = Worker(db_url, home=tmp_path / "home", poll_seconds=0.05, retry_first=0.05, max_attempts=3)
    with Store(db_url) as store:
        _work_until(worker, lambda: store.find_id(broken.id).gave_up_at is not None)
        found = store.find_id(broken.id)
        assert found.drive_failures == 3
        kinds = [d.kind for d in store.decisions(release_id=broken.id) if d.kind.startswith("driving.")]
        assert kinds == ["driving.failed", "driving.failed", "driving.gave_up"]
        assert store.verify_chain(release_id=broken.id) is None
        assert leases.claim_due(store, "another", 15.0, limit=10) == []  # given up: no worker claims it
        shown = status_object(found)["driving"]
        assert shown["failures"] == 3 and shown["gaveUpAt"] and shown["retryAt"] is None
        assert listing(found)["driving"] == shown  # `list` and GET /api/v1/releases show it too
        assert len(worker.ended) == 3 and all(what.startswith("failed: ") for _, what in worker.ended)


def test_resume_hands_a_given_up_release_back_to_the_workers(db_url: str, broken: StoredRelease,
                                                             tmp_path: Path) -> None:
    worker = Worker(db_url, home=tmp_path / "home", poll_seconds=0.05, retry_first=0.05, max_attempts=1)
    with Store(db_url) as store:
        _work_until(worker, lambda: store.find_id(broken.id).gave_up_at is not None)
        done = actions.resume(store, store.find_id(broken.id), who="sam", role="sre", reason="plan restored")
        assert "hands pay-v2 back to the workers after 1 failed attempts" in done.message
        found = store.find_id(broken.id)
        assert found.gave_up_at is None and found.drive_failures == 0 and status_object(found)["driving"] is None
        assert store.decisions(release_id=broken.id)[-1].kind == "driving.resumed"
        assert [lease.release_id for lease in leases.claim_due(store, "another", 15.0, limit=10)] == [broken.id]


TOLD = PLAN.replace("metadata: {name: pay-v2,", "metadata: {name: told-v2,") + """\
  notifications:
    channels:
      pager: {type: file, path: pager.jsonl}
    routes:
      - {on: [escalation], to: [pager]}
"""


async def _unreachable(*_args: object, **_kwargs: object) -> object:
    raise TargetError("router pay-lb: connection refused", hint="check the router is up")


def test_the_people_the_plan_escalates_to_are_told_when_the_workers_give_up(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "told.yaml"
    path.write_text(TOLD)
    with Store(db_url) as store:
        found = submit(store, load_plan(path), RunOptions(db_url=db_url, workdir=tmp_path), PlainView())
        worker = Worker(db_url, home=tmp_path / "home", poll_seconds=0.05, retry_first=0.05, max_attempts=2,
                        opener=_unreachable)
        _work_until(worker, lambda: store.find_id(found.id).gave_up_at is not None
                    and not store.pending_messages(release_id=found.id) and (tmp_path / "pager.jsonl").exists())
        sent = [json.loads(line) for line in (tmp_path / "pager.jsonl").read_text().splitlines()]
        assert [m["event"] for m in sent] == ["escalation"]
        text = sent[0]["text"]
        assert "the workers gave told-v2 up after 2 failed attempts in a row" in text
        assert "router pay-lb: connection refused" in text
        assert "`launchdeck resume told-v2 --role ROLE --as NAME`" in text
        assert [m.event for m in store.messages(release_id=found.id)] == ["escalation"]


def test_nobody_is_paged_while_attempts_remain(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "told.yaml"
    path.write_text(TOLD)
    with Store(db_url) as store:
        found = submit(store, load_plan(path), RunOptions(db_url=db_url, workdir=tmp_path), PlainView())
        worker = Worker(db_url, home=tmp_path / "home", poll_seconds=0.05, retry_first=3600.0, opener=_unreachable)
        _work_until(worker, lambda: store.find_id(found.id).drive_failures == 1)
        assert store.messages(release_id=found.id) == [] and not (tmp_path / "pager.jsonl").exists()
