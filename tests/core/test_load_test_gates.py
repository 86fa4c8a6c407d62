"""Gates on a stage's load test (`source: loadtest`): they wait while it runs (the stage cannot pass, yet
no hold comes of it), judge its figures once it has run, and are not judged in stages without one."""

from __future__ import annotations

from launchdeck.core import engine
from launchdeck.core.engine import Inputs, Observations
from launchdeck.core.observation import LoadTestResult, WindowStats
from launchdeck.core.policy import Analysis, Gate, Policy, Stage
from launchdeck.core.state import ReleaseState

P95_UNDER_LOAD = Gate("p95-under-load", "latency_p95_ms", ">", 300.0, "300ms", source="loadtest")
POLICY = Policy(stages=(Stage(50, 60), Stage(100, 60)), gates=(P95_UNDER_LOAD,),
                analysis=Analysis(interval=60, window=60, min_requests=10, max_inconclusive=1))
HEALTHY = WindowStats("canary", 500, 0, 60.0, 0.5)


def observed(loadtest: LoadTestResult | None) -> Observations:
    return Observations(HEALTHY, HEALTHY, HEALTHY, HEALTHY, loadtest=loadtest)


def load(p95: float) -> LoadTestResult:
    return LoadTestResult(stats=WindowStats("loadtest", 200, 1, 10.0, 1.0, values={"latency_p95_ms": p95}),
                          tool="Locust")


def tick(state: ReleaseState, now: float, loadtest: LoadTestResult | None) -> engine.Step:
    return engine.decide(POLICY, state, now, Inputs(observations=observed(loadtest)))


def test_a_running_load_test_holds_the_stage_without_a_hold() -> None:
    state = engine.decide(POLICY, ReleaseState(), 0.0).state
    for now in (60.0, 120.0, 180.0):  # past the hold, past maxInconclusive windows
        state = tick(state, now, LoadTestResult(tool="Locust")).state
    assert (state.phase, state.stage, state.inconclusive_streak) == ("stage", 0, 0)
    assert "waiting for the stage's Locust load test" in state.gates["p95-under-load"].reason


def test_a_slow_canary_under_load_fires_the_gate() -> None:
    state = engine.decide(POLICY, ReleaseState(), 0.0).state
    step = tick(state, 60.0, load(p95=850.0))
    assert step.state.phase == "rolling_back" and step.state.fired_gate == "p95-under-load"
    assert "Locust load test latency_p95_ms 850ms > 300ms" in step.state.reason


def test_a_fast_canary_under_load_passes_and_stages_without_a_test_do_not_judge_the_gate() -> None:
    state = engine.decide(POLICY, ReleaseState(), 0.0).state
    state = tick(state, 60.0, load(p95=120.0)).state
    assert state.stage == 1  # passed stage 1
    state = tick(state, 120.0, None).state  # stage 2 runs no load test
    assert state.outcome == "promoted"
