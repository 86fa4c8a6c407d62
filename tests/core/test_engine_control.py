"""Pause, resume and a held release reopened: pure calls, plan time as a value."""

from __future__ import annotations

from dataclasses import replace

from test_engine import obs, policy, run_ticks, started

from launchdeck.core import engine
from launchdeck.core.engine import Inputs, PersonDecision
from launchdeck.core.policy import Stage

SAM = PersonDecision("sam", "sre", "pause")


def test_a_paused_stage_does_not_pass_however_long_it_is_held() -> None:
    p = policy()
    state = engine.decide(p, started(p), 10.0, Inputs(pause=SAM)).state
    assert state.paused_by == "sam (sre)"
    state, decisions, _ = run_ticks(p, state, 20.0, 5000.0)
    assert state.phase == "stage" and state.stage == 0
    assert "stage.passed" not in [d.kind for d in decisions]


def test_a_paused_release_still_rolls_back_on_an_immediate_gate() -> None:
    from test_engine import ERRORS_2PCT

    p = policy(replace(ERRORS_2PCT, for_seconds=0))
    state = engine.decide(p, started(p), 10.0, Inputs(pause=SAM)).state
    step = engine.decide(p, state, 60.0, Inputs(observations=obs(canary_errors=40)))
    assert step.state.phase == "rolling_back"


def test_resume_lets_the_stage_pass_and_restarts_the_sign_off_clock() -> None:
    p = policy(stages=(Stage(10, 600, approve=("lead",)), Stage(100, 600)))
    state = engine.decide(p, started(p), 10.0, Inputs(pause=SAM)).state
    state, _, _ = run_ticks(p, state, 20.0, 4000.0)  # past hold + hold timeout, paused: not held
    assert state.phase == "stage"
    step = engine.decide(p, state, 4010.0, Inputs(resume=PersonDecision("dana", "lead", "resume")))
    assert step.state.paused_by is None and step.state.resumed_at == 4010.0
    assert [d.kind for d in step.decisions][0] == "release.resumed"
    signed = Inputs(signoffs=frozenset({(0, "lead")}))
    state, decisions, _ = run_ticks(p, step.state, 4020.0, 4100.0, inputs=signed)
    assert "stage.passed" in [d.kind for d in decisions]


def test_a_pause_by_someone_without_a_role_is_refused() -> None:
    p = policy()
    step = engine.decide(p, started(p), 10.0, Inputs(pause=PersonDecision("eve", "sre", "pause")))
    assert step.state.paused_by is None and step.decisions[0].kind == "pause.refused"


def test_a_held_release_reopened_waits_for_a_person_at_the_same_weight() -> None:
    p = policy(stages=(Stage(25, 600, approve=("lead",)), Stage(100, 600)))
    state, decisions, _ = run_ticks(p, started(p), 10.0, 5000.0)
    assert state.outcome == "held" and state.weight == 25
    reopened = engine.reopen_held(state, 5000.0)
    assert reopened.state.phase == "held" and reopened.state.outcome is None and reopened.state.weight == 25
    assert reopened.decisions[0].kind == "release.reopened" and reopened.decisions[0].event == "hold.started"
    go_on = engine.decide(p, reopened.state, 5010.0, Inputs(decision=PersonDecision("dana", "lead", "continue")))
    assert go_on.state.phase == "stage" and go_on.state.resumed_at == 5010.0
    signed = Inputs(signoffs=frozenset({(0, "lead")}))
    state, decisions, _ = run_ticks(p, go_on.state, 5020.0, 5200.0, inputs=signed)
    assert "stage.passed" in [d.kind for d in decisions]
