"""The tenant's guard rails in the engine: a hold at the weight, a shrink to the first step, and a
rollback that waits for a person (autonomy tiers 1 and 2, an emergency override)."""

from __future__ import annotations

from dataclasses import replace

from test_engine import ERRORS_2PCT, obs, policy, run_ticks, started

from launchdeck.core import engine
from launchdeck.core.engine import Inputs, PersonDecision
from launchdeck.core.policy import Stage

STAGES = (Stage(10, 600), Stage(50, 600), Stage(100, 600))


def test_a_guard_hold_keeps_the_weight_until_lifted() -> None:
    p = policy(stages=STAGES)
    held = Inputs(guard_hold="spend at 95% of the budget")
    state, decisions, _ = run_ticks(p, started(p), 10.0, 3000.0, inputs=held)
    assert state.phase == "stage" and state.weight == 10 and "stage.passed" not in [d.kind for d in decisions]
    assert "spend at 95%" in (state.paused_by or "")
    step = engine.decide(p, state, 3010.0, Inputs())
    assert step.state.paused_by is None and step.decisions[0].kind == "release.resumed"


def test_a_persons_pause_is_not_lifted_by_the_guard() -> None:
    p = policy(stages=STAGES)
    state = engine.decide(p, started(p), 10.0, Inputs(pause=PersonDecision("sam", "sre", "pause"))).state
    assert engine.decide(p, state, 20.0, Inputs()).state.paused_by == "sam (sre)"


def test_shrink_goes_back_to_the_first_step_and_holds() -> None:
    p = policy(stages=STAGES)
    state, _, _ = run_ticks(p, started(p), 10.0, 700.0)
    assert state.weight == 50
    step = engine.decide(p, state, 710.0, Inputs(guard_hold="budget protect", guard_shrink=True))
    assert step.state.weight == 10 and step.state.stage == 0 and step.state.paused_by
    assert engine.SetWeight(10) in step.actions and "release.shrunk" in [d.kind for d in step.decisions]


def test_rollback_authority_turns_an_immediate_rollback_into_a_question() -> None:
    p = policy(replace(ERRORS_2PCT, for_seconds=0), rollback_authority=("sre",))
    step = engine.decide(p, started(p), 60.0, Inputs(observations=obs(canary_errors=40)))
    assert step.state.phase == "deciding" and step.state.window is not None
    assert step.state.window.authority == ("sre",) and step.state.window.default == "hold"
    assert not any(isinstance(a, engine.StartRollback) for a in step.actions)
    decided = engine.decide(p, step.state, 70.0, Inputs(decision=PersonDecision("sam", "sre", "rollback")))
    assert decided.state.phase == "rolling_back"


def test_without_rollback_authority_the_same_gate_rolls_back_alone() -> None:
    p = policy(replace(ERRORS_2PCT, for_seconds=0))
    step = engine.decide(p, started(p), 60.0, Inputs(observations=obs(canary_errors=40)))
    assert step.state.phase == "rolling_back"
