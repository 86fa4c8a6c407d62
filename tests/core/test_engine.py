"""The engine's rules, one behaviour per test: pure calls with plan time and observations as values."""

from __future__ import annotations

import json

from dataclasses import replace

from launchdeck.core import engine
from launchdeck.core.engine import Inputs, Observations, PersonDecision, SetWeight, StartRollback, WriteEvidence
from launchdeck.core.observation import WindowStats
from launchdeck.core.policy import Analysis, DecisionPolicy, Gate, Policy, Stage
from launchdeck.core.sketch import LatencyHistogram
from launchdeck.core.state import ReleaseState

ERRORS_2PCT = Gate("error-rate", "error_rate", ">=", 0.02, "2%", for_seconds=300, severity="immediate")
ANALYSIS = Analysis(interval=60, window=300, min_requests=50, max_inconclusive=3, hold_timeout=1800)


def policy(*gates: Gate, stages: tuple[Stage, ...] = (Stage(10, 600), Stage(100, 600)), **kw: object) -> Policy:
    return Policy(stages=stages, analysis=ANALYSIS, gates=gates, roles={"sre": frozenset({"sam"}),
                  "lead": frozenset({"dana"})}, **kw)  # type: ignore[arg-type]


def stats(version: str, requests: int, errors: int, latency_ms: float = 40.0, share: float = 0.1) -> WindowStats:
    return WindowStats(version, requests, errors, 300.0, share, LatencyHistogram.of([latency_ms] * requests))


def obs(canary_errors: int = 0, canary_requests: int = 200, stable_requests: int = 2000,
        canary_ms: float = 40.0) -> Observations:
    c = stats("canary", canary_requests, canary_errors, canary_ms)
    s = stats("stable", stable_requests, stable_requests // 500, 40.0, 0.9)
    return Observations(c, s, c, s)


def run_ticks(p: Policy, state: ReleaseState, start: float, end: float,
              make: object = None, inputs: Inputs | None = None) -> tuple[ReleaseState, list[engine.Decision],
                                                                          list[engine.Action]]:
    """Tick every 10 plan seconds, observing whenever an evaluation is due."""
    decisions: list[engine.Decision] = []
    actions: list[engine.Action] = []
    t = start
    while t <= end and state.phase != "done" and state.phase != "rolling_back":
        due = engine.evaluation_due(p, state, t)
        o = (make(t) if callable(make) else obs()) if due else None
        base = inputs or Inputs()
        step = engine.decide(p, state, t, replace(base, observations=o))
        state = step.state
        decisions += step.decisions
        actions += step.actions
        t += 10
    return state, decisions, actions


def started(p: Policy) -> ReleaseState:
    return engine.decide(p, ReleaseState(), 0.0).state


def test_first_tick_starts_stage_one_at_its_weight() -> None:
    step = engine.decide(policy(), ReleaseState(), 0.0)
    assert step.state.phase == "stage" and step.state.weight == 10
    assert step.actions == (SetWeight(10),)
    assert step.decisions[0].event == "stage.started"


def test_healthy_canary_is_promoted_through_every_stage() -> None:
    p = policy(ERRORS_2PCT)
    state, decisions, actions = run_ticks(p, started(p), 0, 3000)
    assert state.outcome == "promoted" and state.weight == 100
    assert [d.kind for d in decisions].count("stage.passed") == 2
    assert WriteEvidence("stage-1") in actions


def test_stage_does_not_pass_before_its_hold() -> None:
    p = policy(ERRORS_2PCT)
    state, decisions, _ = run_ticks(p, started(p), 0, 590)
    assert state.stage == 0 and "stage.passed" not in [d.kind for d in decisions]


def test_breach_lasting_for_fires_immediate_gate_and_rolls_back() -> None:
    p = policy(ERRORS_2PCT)
    state, decisions, actions = run_ticks(p, started(p), 0, 1000, make=lambda t: obs(canary_errors=20))
    assert state.phase == "rolling_back" and state.fired_gate == "error-rate"
    fired = next(d for d in decisions if d.kind == "gate.fired")
    assert fired.at >= 60 + 300  # first breach at the first evaluation, then `for` 5m
    assert any(isinstance(a, StartRollback) for a in actions)


def test_breach_shorter_than_for_does_not_fire() -> None:
    p = policy(ERRORS_2PCT)
    spike = lambda t: obs(canary_errors=20) if 120 <= t < 300 else obs()  # noqa: E731
    state, decisions, _ = run_ticks(p, started(p), 0, 3000, make=spike)
    assert "gate.fired" not in [d.kind for d in decisions]
    assert state.outcome == "promoted"


def test_gate_without_for_fires_on_first_breach() -> None:
    p = policy(replace(ERRORS_2PCT, for_seconds=None))
    _, decisions, _ = run_ticks(p, started(p), 0, 1000, make=lambda t: obs(canary_errors=20))
    assert next(d for d in decisions if d.kind == "gate.fired").at == 60


def test_thin_traffic_is_inconclusive_holds_then_ends_held() -> None:
    p = policy(ERRORS_2PCT)
    state, decisions, _ = run_ticks(p, started(p), 0, 10_000, make=lambda t: obs(canary_requests=10))
    kinds = [d.kind for d in decisions]
    assert "stage.passed" not in kinds and "gate.fired" not in kinds
    assert "hold.started" in kinds and state.outcome == "held"
    hold = next(d for d in decisions if d.kind == "hold.started")
    assert hold.at >= 3 * ANALYSIS.window


def test_relative_gate_compares_with_baseline() -> None:
    p95 = Gate("p95", "latency_p95_ms", ">", 0.2, "+20%", relative=True, severity="immediate")
    p = policy(p95)
    state, decisions, _ = run_ticks(p, started(p), 0, 1000, make=lambda t: obs(canary_ms=60))
    assert state.fired_gate == "p95"
    assert "baseline" in next(d for d in decisions if d.kind == "gate.fired").reason


def test_latency_is_not_judged_while_the_canary_warms_up_but_errors_are() -> None:
    p95 = Gate("p95", "latency_p95_ms", ">", 0.2, "+20%", relative=True, severity="immediate")
    errors = replace(ERRORS_2PCT, for_seconds=None)
    p = replace(policy(p95, errors), analysis=replace(ANALYSIS, warmup=180))
    cold = lambda t: obs(canary_ms=80 if t < 180 else 40)  # noqa: E731  twice as slow, then warm
    state, decisions, _ = run_ticks(p, started(p), 0, 3000, make=cold)
    assert state.outcome == "promoted" and "gate.fired" not in [d.kind for d in decisions]
    first = next(d for d in decisions if d.kind == "evaluation")
    assert "not judged while the canary warms up" in first.reason and "error-rate" in first.reason
    # Errors are judged from the first evaluation, warm-up or not.
    state, decisions, _ = run_ticks(p, started(p), 0, 1000, make=lambda t: obs(canary_errors=20, canary_ms=80))
    assert state.fired_gate == "error-rate" and next(d for d in decisions if d.kind == "gate.fired").at == 60


def test_a_latency_regression_is_caught_once_the_warm_up_is_over() -> None:
    p95 = Gate("p95", "latency_p95_ms", ">", 0.2, "+20%", relative=True, severity="immediate")
    p = replace(policy(p95), analysis=replace(ANALYSIS, warmup=180))
    state, decisions, _ = run_ticks(p, started(p), 0, 1000, make=lambda t: obs(canary_ms=80))
    assert state.fired_gate == "p95" and next(d for d in decisions if d.kind == "gate.fired").at == 180


def test_warming_up_neither_passes_a_stage_nor_counts_as_too_little_data() -> None:
    p95 = Gate("p95", "latency_p95_ms", ">", 0.2, "+20%", relative=True, severity="immediate")
    p = replace(policy(p95, stages=(Stage(10, 60), Stage(100, 60))), analysis=replace(ANALYSIS, warmup=1200))
    state, decisions, _ = run_ticks(p, started(p), 0, 1190)
    kinds = [d.kind for d in decisions]
    assert state.stage == 0 and "stage.passed" not in kinds and "hold.started" not in kinds
    state, decisions, _ = run_ticks(p, state, 1200, 3000)
    assert state.outcome == "promoted"


def test_relative_gate_at_full_weight_uses_frozen_baseline() -> None:
    p95 = Gate("p95", "latency_p95_ms", ">", 0.2, "+20%", relative=True, severity="immediate")
    p = policy(p95, stages=(Stage(100, 600),))
    state = replace(started(p), frozen_baseline=stats("stable", 2000, 4, 40.0, 0.9))
    no_stable = lambda t: obs(stable_requests=0, canary_ms=60)  # noqa: E731
    state, decisions, _ = run_ticks(p, state, 0, 1000, make=no_stable)
    assert state.fired_gate == "p95"
    assert "frozen at cut-over from 2000 stable requests" in next(d for d in decisions if d.kind == "gate.fired").reason


def test_the_baseline_frozen_at_cut_over_is_the_whole_stage_of_stable_counts_not_its_last_window() -> None:
    # Stage 1 at 50%: the stable version makes 2 errors in 2000 requests (0.1%), but its last window
    # holds none of them. At 100% the canary runs at 0.1% too: compared with that last window (0.00%)
    # every canary error would breach; compared with the stage's counts it is within +50%.
    errors = Gate("errors", "error_rate", ">", 0.5, "+50%", relative=True, severity="immediate")
    p = policy(errors, stages=(Stage(50, 300), Stage(100, 600)))
    stable_errors = {60: 1, 120: 0, 180: 1, 240: 0, 300: 0}

    def make(t: float) -> Observations:
        if t <= 300:
            c, s = stats("canary", 400, 0, share=0.5), stats("stable", 400, stable_errors[int(t)], share=0.5)
        else:
            c, s = stats("canary", 1000, 1, share=1.0), stats("stable", 0, 0, share=0.0)
        return Observations(c, s, c, s)

    state, decisions, _ = run_ticks(p, started(p), 0, 1000, make=make)
    assert state.outcome == "promoted" and "gate.fired" not in [d.kind for d in decisions]
    at_full = [d for d in decisions if d.kind == "evaluation" and d.at > 300]
    assert at_full and all("baseline 0.10% +50%, baseline frozen at cut-over from 2000 stable requests" in d.reason
                           for d in at_full), at_full[0].reason
    # The stage's counts are part of the saved state: a resumed run keeps its frozen baseline.
    assert ReleaseState.from_json(json.loads(json.dumps(state.to_json()))) == state


def test_at_full_weight_a_sequential_gate_is_not_swayed_by_the_stable_fleets_stragglers() -> None:
    # CI, on a loaded machine: the first slice after cut-over held 31 stable requests that had been in
    # flight before it and 102 canary requests from its first seconds at full load. Weighed against each
    # other they were "evidence" of a slower canary, which nothing later could take back (the stable fleet
    # serves nothing at 100%), and the gate fired on a healthy canary.
    p95 = Gate("p95", "latency_p95_ms", ">", 0.5, "+50%", relative=True, severity="immediate", test="sequential")
    p = policy(p95, stages=(Stage(10, 300), Stage(100, 600)))

    def make(t: float) -> Observations:
        if t <= 300:
            c, s = stats("canary", 100, 0, 40.0, share=0.1), stats("stable", 900, 0, 40.0, share=0.9)
        elif t <= 360:  # the cut-over slice: fast stable stragglers, the canary's first seconds at 100%
            c, s = stats("canary", 1000, 0, 90.0, share=1.0), stats("stable", 30, 0, 40.0, share=0.0)
        else:
            c, s = stats("canary", 1000, 0, 40.0, share=1.0), stats("stable", 0, 0, share=0.0)
        return Observations(c, s, c, s)

    state, decisions, _ = run_ticks(p, started(p), 0, 1200, make=make)
    assert state.outcome == "promoted" and "gate.fired" not in [d.kind for d in decisions]
    at_full = [d for d in decisions if d.kind == "evaluation" and d.at > 300]
    assert at_full and all("the stable version serves no traffic at this weight, so the evidence stands as at "
                           "cut-over" in d.reason for d in at_full), at_full[0].reason


def test_urgent_gate_opens_decision_window_and_freezes_weight() -> None:
    urgent = replace(ERRORS_2PCT, for_seconds=None, severity="urgent")
    p = policy(urgent, urgent=DecisionPolicy(600, ("sre",), "rollback"))
    state, decisions, actions = run_ticks(p, started(p), 0, 400, make=lambda t: obs(canary_errors=20))
    assert state.phase == "deciding" and state.window and state.window.authority == ("sre",)
    assert "decision.requested" in [d.kind for d in decisions]
    assert not [a for a in actions if isinstance(a, SetWeight) and a.weight > 10]


def test_decision_window_default_is_taken_when_it_closes() -> None:
    urgent = replace(ERRORS_2PCT, for_seconds=None, severity="urgent")
    p = policy(urgent, urgent=DecisionPolicy(300, ("sre",), "rollback"))
    state, decisions, _ = run_ticks(p, started(p), 0, 2000, make=lambda t: obs(canary_errors=20))
    assert state.phase == "rolling_back"
    default = next(d for d in decisions if d.kind == "decision.default")
    assert default.at >= 60 + 300 and "default 'rollback'" in default.reason


def test_default_hold_ends_the_run_held_at_current_weight() -> None:
    conditional = replace(ERRORS_2PCT, for_seconds=None, severity="conditional")
    p = policy(conditional, conditional=DecisionPolicy(300, ("sre",), "hold"))
    state, _, _ = run_ticks(p, started(p), 0, 2000, make=lambda t: obs(canary_errors=20))
    assert state.outcome == "held" and state.weight == 10


def test_authorised_person_can_continue_an_open_window() -> None:
    urgent = replace(ERRORS_2PCT, for_seconds=None, severity="urgent")
    p = policy(urgent, urgent=DecisionPolicy(600, ("sre",), "rollback"))
    state, _, _ = run_ticks(p, started(p), 0, 100, make=lambda t: obs(canary_errors=20))
    step = engine.decide(p, state, 110, Inputs(decision=PersonDecision("sam", "sre", "continue")))
    assert step.state.phase == "stage" and step.state.window is None
    assert any(d.kind == "decision.taken" and "sam (sre)" in d.reason for d in step.decisions)


def test_decision_from_outside_the_authority_is_refused() -> None:
    urgent = replace(ERRORS_2PCT, for_seconds=None, severity="urgent")
    p = policy(urgent, urgent=DecisionPolicy(600, ("sre",), "rollback"))
    state, _, _ = run_ticks(p, started(p), 0, 100, make=lambda t: obs(canary_errors=20))
    step = engine.decide(p, state, 110, Inputs(decision=PersonDecision("dana", "lead", "rollback")))
    assert step.state.phase == "deciding"
    assert any(d.kind == "decision.refused" and "authority" in d.reason for d in step.decisions)


def test_immediate_gate_rolls_back_even_while_a_window_is_open() -> None:
    urgent = Gate("slow", "latency_p95_ms", ">", 50, "50ms", severity="urgent")
    p = policy(urgent, replace(ERRORS_2PCT, for_seconds=120),
               urgent=DecisionPolicy(6000, ("sre",), "hold"))
    state, _, _ = run_ticks(p, started(p), 0, 2000, make=lambda t: obs(canary_ms=80, canary_errors=20))
    assert state.phase == "rolling_back" and state.fired_gate == "error-rate"


def test_stage_waits_for_sign_off_then_passes() -> None:
    p = policy(ERRORS_2PCT, stages=(Stage(10, 600, ("sre",)), Stage(100, 600)))
    state, decisions, _ = run_ticks(p, started(p), 0, 1000)
    assert state.stage == 0 and "approval.requested" in [d.kind for d in decisions]
    signed = Inputs(signoffs=frozenset({(0, "sre")}))
    state, decisions, _ = run_ticks(p, state, 1010, 1100, inputs=signed)
    assert state.stage == 1 and "stage.passed" in [d.kind for d in decisions]


def test_kill_switch_rolls_back_with_who_pulled_it() -> None:
    p = policy(ERRORS_2PCT)
    step = engine.decide(p, started(p), 30, Inputs(kill=PersonDecision("sam", "sre", "rollback", "pager")))
    assert step.state.phase == "rolling_back" and step.state.fired_gate == "kill-switch"
    assert "sam (sre)" in step.decisions[-1].reason


def test_rollback_completed_ends_rolled_back_at_zero() -> None:
    p = policy(ERRORS_2PCT)
    rolling = engine.decide(p, started(p), 30, Inputs(smoke_failure="exit 1")).state
    done = engine.rollback_completed(rolling, 31, "done")
    assert done.state.outcome == "rolled_back" and done.state.weight == 0
    assert [d.event for d in done.decisions] == ["rollback.completed", "release.completed"]


def test_state_round_trips_through_json() -> None:
    p = policy(ERRORS_2PCT)
    state, _, _ = run_ticks(p, started(p), 0, 400, make=lambda t: obs(canary_errors=20))
    assert ReleaseState.from_json(state.to_json()) == state
