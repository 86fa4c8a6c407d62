"""Chat commands that would read as done while changing nothing are refused, naming what would count."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_app import PLAN

from launchdeck.chat import commands, grammar
from launchdeck.services import launching
from launchdeck.services import plans as plan_texts
from launchdeck.store.repo import Store

LINE = grammar.StartCanary("v0.1.0", "prod", "us-west-2", "US-only", (5, 25, 50, 100), "gateway-flag")
SIGNED_STAGE = PLAN.replace("- {weight: 10%, hold: 20m}", "- {weight: 10%, hold: 20m, approve: [launch-commander]}")
DANA = commands.Caller("intel", "dana", "U0DANA")
SAM = commands.Caller("intel", "sam", "U0SAM")


@pytest.fixture
def started(backend_db_url: str, tmp_path: Path) -> Iterator[tuple[Store, str]]:
    store = Store(backend_db_url)
    plan_texts.register(store, SIGNED_STAGE, tenant="intel", by="dana")
    name = launching.start_canary(store, LINE, tenant="intel", person="dana", data_dir=tmp_path).name
    yield store, name
    store.close()


def _waits(store: Store, name: str, waiting: dict[str, object]) -> None:
    """The release's saved state says it waits for ``waiting``, as a run's tick saves it."""
    found = store.require(name=name)
    store.save(release_id=found.id, state={**found.state, "waiting": waiting}, plan_clock=found.plan_clock,
               outcome=None, decisions=[], messages=[])


def _signoffs(store: Store, name: str) -> list[tuple[str, str, int | None, str | None]]:
    found = store.require(name=name)
    return [(s.who, s.role, s.stage, s.decision) for s in store.signoffs(release_id=found.id)]


def test_rollback_with_no_decision_open_is_refused_and_records_nothing(started: tuple[Store, str],
                                                                        tmp_path: Path) -> None:
    store, name = started
    _waits(store, name, {"kind": "sign-off", "roles": ["launch-commander"], "stage": 1})
    answer = commands.run(store, DANA, grammar.Rollback(release=name), data_dir=tmp_path)
    assert not answer.ok
    assert f"no decision window or hold is open in {name}: it waits for a sign-off (stage 1)" in answer.text
    assert "pull the kill switch" in answer.text
    assert _signoffs(store, name) == []


def test_rollback_in_an_open_decision_window_is_recorded(started: tuple[Store, str], tmp_path: Path) -> None:
    store, name = started
    _waits(store, name, {"kind": "decision", "roles": ["launch-commander"], "stage": 1, "gate": "error-rate"})
    answer = commands.run(store, DANA, grammar.Rollback(release=name), data_dir=tmp_path)
    assert answer.ok, answer.text
    assert _signoffs(store, name) == [("dana", "launch-commander", None, "rollback")]


def test_a_stage_sign_off_by_someone_the_stage_does_not_ask_is_refused(started: tuple[Store, str],
                                                                         tmp_path: Path) -> None:
    store, name = started
    answer = commands.run(store, SAM, grammar.Approve(release=name, stage=1), data_dir=tmp_path)
    assert not answer.ok
    assert f"stage 1 of {name} is signed off by launch-commander (dana); sam holds none" in answer.text
    assert _signoffs(store, name) == []


def test_a_stage_sign_off_is_made_in_the_role_the_stage_asks(started: tuple[Store, str], tmp_path: Path) -> None:
    store, name = started
    answer = commands.run(store, DANA, grammar.Approve(release=name, stage=1), data_dir=tmp_path)
    assert answer.ok and answer.public, answer.text
    assert _signoffs(store, name) == [("dana", "launch-commander", 1, None)]


def test_a_stage_that_asks_no_sign_off_says_so(started: tuple[Store, str], tmp_path: Path) -> None:
    store, name = started
    answer = commands.run(store, DANA, grammar.Approve(release=name, stage=2), data_dir=tmp_path)
    assert not answer.ok and "stage 2 of" in answer.text and "asks no sign-off" in answer.text
    assert _signoffs(store, name) == []


def test_status_says_where_the_release_is_in_words(started: tuple[Store, str], tmp_path: Path) -> None:
    store, name = started
    found = store.require(name=name)
    engine = {**found.state.get("engine", {}), "phase": "stage", "stage": 0, "weight": 5.0}
    store.save(release_id=found.id, state={**found.state, "engine": engine}, plan_clock=found.plan_clock,
               outcome=None, decisions=[], messages=[])
    _waits(store, name, {"kind": "sign-off", "roles": ["launch-commander"], "stage": 1})
    answer = commands.run(store, DANA, grammar.Status(release=name), data_dir=tmp_path)
    assert answer.text.splitlines()[:2] == [f"{name}: waiting for sign-off at stage 1/4, canary at 5%",
                                            "sign-off asked of launch-commander"]
    listed = commands.run(store, DANA, grammar.Status(release=None), data_dir=tmp_path)
    assert f"• {name}: stage 1/4 at 5%" in listed.text.splitlines()
