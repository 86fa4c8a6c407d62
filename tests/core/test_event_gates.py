"""Event gates: any occurrence of a counted event since the previous evaluation fires the gate at once,
however few requests the canary served; a source that cannot count the event is inconclusive."""

from __future__ import annotations

from dataclasses import replace

from launchdeck.core import engine, judges
from launchdeck.core.engine import Inputs, Observations, StartRollback
from launchdeck.core.observation import WindowStats
from launchdeck.core.policy import Analysis, Gate, Policy, Stage
from launchdeck.core.state import ReleaseState

CROSS_TENANT = Gate("cross-tenant", "cross_tenant_denied", ">", 0.0, "any occurrence", test="event")
POLICY = Policy(stages=(Stage(10, 120), Stage(100, 120)), gates=(CROSS_TENANT,),
                analysis=Analysis(interval=60, window=300, min_requests=500))


def observed(events: dict[str, float | None], requests: int = 3) -> Observations:
    canary = WindowStats("canary", requests, 0, 60.0, 0.1, events=events)
    stable = WindowStats("stable", 1000, 0, 60.0, 0.9)
    return Observations(replace(canary, events={}), stable, canary, stable)


def evaluate(events: dict[str, float | None], requests: int = 3) -> engine.Step:
    state = engine.decide(POLICY, ReleaseState(), 0.0).state
    return engine.decide(POLICY, state, 60.0, Inputs(observations=observed(events, requests)))


def test_one_occurrence_rolls_back_at_the_first_evaluation_whatever_the_sample() -> None:
    step = evaluate({"cross_tenant_denied": 1.0}, requests=3)  # far below minRequests 500
    assert step.state.phase == "rolling_back" and step.state.fired_gate == "cross-tenant"
    assert any(isinstance(a, StartRollback) for a in step.actions)
    fired = next(d for d in step.decisions if d.kind == "gate.fired")
    assert "1 cross_tenant_denied event(s) from the canary since the previous evaluation" in fired.reason


def test_no_occurrence_passes_and_counts_as_enough_data() -> None:
    step = evaluate({"cross_tenant_denied": 0.0}, requests=0)
    assert step.state.gates["cross-tenant"].status == "pass"
    assert step.state.conclusive_in_stage and step.state.inconclusive_streak == 0


def test_a_source_that_cannot_count_the_event_is_inconclusive_never_a_pass() -> None:
    step = evaluate({"cross_tenant_denied": None})
    assert step.state.phase == "stage" and step.state.inconclusive_streak == 1
    assert "could not count cross_tenant_denied events" in step.state.gates["cross-tenant"].reason


def test_the_verdict_is_judged_on_the_slice_not_the_window() -> None:
    window = WindowStats("canary", 100, 0, 300.0, 0.1, events={"cross_tenant_denied": 4.0})
    fresh = WindowStats("canary", 20, 0, 60.0, 0.1, events={"cross_tenant_denied": 0.0})
    assert judges.event(CROSS_TENANT, fresh).status == "pass"
    assert judges.event(CROSS_TENANT, window).status == "breach"


def test_event_counts_survive_the_state_round_trip() -> None:
    stats = WindowStats("canary", 5, 0, 60.0, 0.1, events={"residency_violation": 2.0, "unsigned_image": None})
    assert WindowStats.from_json(stats.to_json()) == stats
    assert stats.merged(replace(stats, events={"residency_violation": 1.0})).events["residency_violation"] == 3.0
