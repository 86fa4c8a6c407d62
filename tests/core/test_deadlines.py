"""A release woken only when the clock can change it decides exactly what one ticked every second decides.

Each scenario runs the same policy, observations and people's input twice: once ticking every plan
second, once ticking only at ``next_change_at``. Any deadline ``next_change_at`` forgot shows up as a
decision taken late (or never) in the second run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from launchdeck.core import engine
from launchdeck.core.deadlines import next_change_at
from launchdeck.core.engine import Inputs, Observations, PersonDecision
from launchdeck.core.observation import WindowStats
from launchdeck.core.policy import Analysis, DecisionPolicy, Gate, Policy, Stage
from launchdeck.core.sketch import LatencyHistogram
from launchdeck.core.state import ReleaseState

ANALYSIS = Analysis(interval=60, window=300, min_requests=50, max_inconclusive=3, hold_timeout=1800)
ERRORS = Gate("error-rate", "error_rate", ">=", 0.02, "2%", for_seconds=120, severity="immediate")
ROLES = {"sre": frozenset({"sam"}), "lead": frozenset({"dana"})}
END = 12_000.0

Observe = Callable[[float], Observations]
People = Callable[[float], Inputs]


def observe(canary_errors: int = 0, canary_requests: int = 200) -> Observations:
    def stats(version: str, requests: int, errors: int, share: float) -> WindowStats:
        return WindowStats(version, requests, errors, 300.0, share, LatencyHistogram.of([40.0] * requests))

    c, s = stats("canary", canary_requests, canary_errors, 0.1), stats("stable", 2000, 4, 0.9)
    return Observations(c, s, c, s)


def nobody(t: float) -> Inputs:
    return Inputs()


def run(policy: Policy, make: Observe, people: People, ticks: Callable[[float, ReleaseState], float | None]
        ) -> list[tuple[float, str, str]]:
    """Every decision (time, kind, reason) of a run whose next tick after ``t`` is ``ticks(t, state)``."""
    state, t, seen = ReleaseState(), 0.0, []
    while t is not None and t <= END and state.phase not in ("done", "rolling_back"):
        due = engine.evaluation_due(policy, state, t)
        step = engine.decide(policy, state, t, replace(people(t), observations=make(t) if due else None))
        state = step.state
        seen += [(d.at, d.kind, d.reason) for d in step.decisions]
        t = ticks(t, state)
    return seen


def every_second(t: float, state: ReleaseState) -> float:
    return t + 1


def woken(policy: Policy, rings: tuple[float, ...]) -> Callable[[float, ReleaseState], float | None]:
    """Ticks at ``next_change_at``, and when a person's input arrives (``rings``: a worker's release is rung)."""
    def ticks(t: float, state: ReleaseState) -> float | None:
        nxt = next_change_at(policy, state, t)
        assert nxt is None or nxt > t, f"next_change_at({t}) = {nxt}: a tick that changes nothing, forever"
        return min((at for at in (nxt, *rings) if at is not None and at > t), default=None)
    return ticks


def both(policy: Policy, make: Observe = lambda t: observe(), people: People = nobody,
         rings: tuple[float, ...] = ()) -> list[tuple[float, str, str]]:
    dense = run(policy, make, people, every_second)
    sparse = run(policy, make, people, woken(policy, rings))
    assert sparse == dense
    return dense


def kinds(decisions: list[tuple[float, str, str]]) -> list[str]:
    return [kind for _, kind, _ in decisions]


def test_a_stage_passes_when_its_hold_ends_between_two_evaluations() -> None:
    p = Policy((Stage(10, 650), Stage(50, 610), Stage(100, 90)), ANALYSIS, (ERRORS,), roles=ROLES)
    decisions = both(p)
    passed = [at for at, kind, _ in decisions if kind == "stage.passed"]
    assert passed[:2] == [650, 1260] and kinds(decisions)[-1] == "release.promoted"


def test_a_sign_off_nobody_gives_ends_the_release_held_at_its_timeout() -> None:
    p = Policy((Stage(10, 650, ("sre",)), Stage(100, 600)), ANALYSIS, (ERRORS,), roles=ROLES)
    decisions = both(p)
    assert "approval.requested" in kinds(decisions) and kinds(decisions)[-1] == "release.held"
    assert decisions[-1][0] == 650 + ANALYSIS.hold_timeout


def test_a_sign_off_given_later_is_taken_at_the_tick_it_arrives() -> None:
    p = Policy((Stage(10, 650, ("sre",)), Stage(100, 600)), ANALYSIS, (ERRORS,), roles=ROLES)

    def people(t: float) -> Inputs:
        return Inputs(signoffs=frozenset({(0, "sre")})) if t >= 900 else Inputs()

    decisions = both(p, people=people, rings=(900,))
    assert next(at for at, kind, _ in decisions if kind == "stage.passed") == 900


def test_a_decision_window_nobody_answers_takes_its_default_when_it_closes() -> None:
    urgent = replace(ERRORS, for_seconds=None, severity="urgent")
    p = Policy((Stage(10, 600), Stage(100, 600)), ANALYSIS, (urgent,), roles=ROLES,
               urgent=DecisionPolicy(333, ("sre",), "rollback"))
    decisions = both(p, lambda t: observe(canary_errors=20))
    default = next(d for d in decisions if d[1] == "decision.default")
    assert default[0] == 60 + 333


def test_a_held_release_ends_held_when_nobody_decides_within_the_timeout() -> None:
    p = Policy((Stage(10, 600), Stage(100, 600)), replace(ANALYSIS, hold_timeout=1234), (ERRORS,), roles=ROLES)
    decisions = both(p, lambda t: observe(canary_requests=10))
    held = next(at for at, kind, _ in decisions if kind == "hold.started")
    assert kinds(decisions)[-1] == "release.held" and decisions[-1][0] == held + 1234


def test_a_continued_window_goes_back_to_judging_and_passing_stages() -> None:
    urgent = replace(ERRORS, for_seconds=None, severity="urgent")
    p = Policy((Stage(10, 700), Stage(100, 600)), ANALYSIS, (urgent,), roles=ROLES,
               urgent=DecisionPolicy(600, ("sre",), "continue"))
    decisions = both(p, lambda t: observe(canary_errors=20 if t < 200 else 0))
    assert "decision.default" in kinds(decisions) and kinds(decisions)[-1] == "release.promoted"


def test_a_paused_stage_waits_for_nothing_but_its_evaluations() -> None:
    p = Policy((Stage(10, 650), Stage(100, 600)), ANALYSIS, (ERRORS,), roles=ROLES)
    paused = replace(engine.decide(p, ReleaseState(), 0.0).state, paused_by="sam (sre)", last_eval_at=600.0)
    assert next_change_at(p, paused, 630.0) == 660.0  # the evaluation, not the hold's end at 650


@pytest.mark.parametrize("phase", ["done", "rolling_back"])
def test_nothing_is_due_by_the_clock_once_done_or_rolling_back(phase: str) -> None:
    p = Policy((Stage(10, 600),), ANALYSIS, (ERRORS,))
    assert next_change_at(p, replace(ReleaseState(), phase=phase), 100.0) is None  # type: ignore[arg-type]


def test_a_starting_release_and_an_overdue_evaluation_are_due_now() -> None:
    p = Policy((Stage(10, 600),), ANALYSIS, (ERRORS,))
    assert next_change_at(p, ReleaseState(), 5.0) == 5.0
    stage = engine.decide(p, ReleaseState(), 0.0).state
    assert next_change_at(p, stage, 75.0) == 75.0 and next_change_at(p, stage, 30.0) == 60.0


def test_a_person_continuing_an_open_window_is_taken_when_it_arrives() -> None:
    urgent = replace(ERRORS, for_seconds=None, severity="urgent")
    p = Policy((Stage(10, 600), Stage(100, 600)), ANALYSIS, (urgent,), roles=ROLES,
               urgent=DecisionPolicy(600, ("sre",), "rollback"))

    def people(t: float) -> Inputs:
        return Inputs(decision=PersonDecision("sam", "sre", "continue")) if t == 120 else Inputs()

    decisions = both(p, lambda t: observe(canary_errors=20 if t < 100 else 0), people, rings=(120,))
    assert ("decision.taken", 120) in [(kind, at) for at, kind, _ in decisions]
    assert kinds(decisions)[-1] == "release.promoted"
