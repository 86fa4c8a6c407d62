"""`status --watch`: each change shown once, until the release ends with its outcome's exit status."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from launchdeck.cli import inspect
from launchdeck.cli.common import Output
from launchdeck.store.repo import StoredRelease

WAITING = {"kind": "sign-off", "roles": ["sre"], "stage": 1, "gate": None, "deadlinePlanAt": 3600.0,
           "then": "the run ends held", "command": "launchdeck approve pay --stage 1 --role sre --as NAME",
           "deadlineAt": "2030-01-01T12:00:00+00:00"}


def release(phase: str, stage: int, weight: float, outcome: str | None = None, waiting: dict | None = None) -> StoredRelease:
    engine = {"phase": phase, "stage": stage, "weight": weight, "gates": {}, "reason": "", "stages_passed": stage}
    return StoredRelease(7, "t", "pay", "pay.yaml", "sha256:x", {"engine": engine, "waiting": waiting, "timeScale": 60,
                                                                 "stages": 2},
                         120.0, outcome, datetime(2030, 1, 1, tzinfo=UTC))


class Polled:
    """A store whose release moves on each time it is read."""

    def __init__(self, *states: StoredRelease) -> None:
        self.states: Iterator[StoredRelease] = iter(states)
        self.last = states[0]

    def require(self, *, name: str, tenant: str | None = None) -> StoredRelease:
        self.last = next(self.states, self.last)
        return self.last


def test_watch_shows_each_change_once_and_exits_with_the_outcome(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(inspect.time, "sleep", lambda _s: None)
    store = Polled(release("stage", 0, 20, waiting=WAITING), release("stage", 0, 20, waiting=WAITING),
                   release("stage", 1, 100), release("done", 1, 100, "rolled_back"))
    assert inspect._watch(lambda: inspect._local_status(store, "pay"), Output.text, 0.2) == 3
    shown = capsys.readouterr().out.strip().split("\n\n")
    assert [block.splitlines()[0] for block in shown] == [
        "pay: waiting for sign-off at stage 1/2, canary at 20% (plan time 120s)",
        "pay: stage 2/2 at 100% (plan time 120s)",
        "pay: rolled back at stage 2/2, canary at 100% (plan time 120s)"]
    assert "waiting for sign-off from sre (stage 1) — deadline 2030-01-01 12:00 UTC" in shown[0]


def test_watch_as_json_prints_one_state_object_per_change(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(inspect.time, "sleep", lambda _s: None)
    store = Polled(release("stage", 0, 20), release("done", 0, 20, "held"))
    assert inspect._watch(lambda: inspect._local_status(store, "pay"), Output.json, 0.2) == 4
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and '"outcome": "held"' in lines[1] and '"waiting": null' in lines[1]


def test_status_says_when_the_workers_gave_a_release_up() -> None:
    s = inspect.status_object(release("stage", 0, 20))
    s["driving"] = {"failures": 5, "lastError": "its plan pay.yaml is not on this machine", "retryAt": None,
                    "gaveUpAt": "2030-01-01T12:00:00+00:00"}
    lines = inspect.status_lines(s, wall_now=0.0)
    assert ("  NOT DRIVEN: the workers gave it up after 5 failed attempts in a row (the last: its plan pay.yaml is "
            "not on this machine); fix the cause, then `launchdeck resume pay --role ROLE --as NAME`") in lines


def test_status_shows_a_failed_attempt_and_the_next_one() -> None:
    s = inspect.status_object(release("stage", 0, 20))
    s["driving"] = {"failures": 1, "lastError": "router refused", "retryAt": "2030-01-01T12:00:15+00:00",
                    "gaveUpAt": None}
    assert ("  1 failed attempt(s) to drive it (the last: router refused); next attempt at 2030-01-01T12:00:15+00:00"
            in inspect.status_lines(s, wall_now=0.0))
