"""Gates against a same-age baseline (`analysis.baseline: same-age`): a fresh canary is compared with a
fresh copy of the stable version, so a warm-up both share is no regression, and a real one still is."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace

from launchdeck.core import comparison, engine
from launchdeck.core.engine import Inputs, Observations
from launchdeck.core.observation import WindowStats
from launchdeck.core.policy import Analysis, Gate, Policy, Stage
from launchdeck.core.sketch import LatencyHistogram
from launchdeck.core.state import ReleaseState

SAME_AGE = Analysis(interval=60, window=60, min_requests=50, baseline="same-age")
#: 100 latencies spread from 20 to 200 ms (log-spaced): one "request" each.
SPREAD = [20.0 * 10 ** (i / 99) for i in range(100)]


def p95(against: str) -> Gate:
    return Gate("p95", "latency_p95_ms", ">", 0.2, "+20%", relative=True, test="sequential", alpha=0.005,
                against=against)


def errors(against: str) -> Gate:
    return Gate("errors", "error_rate", ">", 0.0, "+0%", relative=True, test="sequential", alpha=0.005,
                against=against)


def policy(*gates: Gate, stages: tuple[Stage, ...] = (Stage(5, 1200), Stage(100, 600))) -> Policy:
    return Policy(stages=stages, analysis=SAME_AGE, gates=gates)


def stats(version: str, copies: int, slower: float = 1.0, errors: int = 0, share: float = 0.05) -> WindowStats:
    """``copies`` x 100 requests with the SPREAD latencies times ``slower``."""
    latency = LatencyHistogram.of([ms * slower for ms in SPREAD] * copies)
    return WindowStats(version, 100 * copies, errors, 60.0, share, latency)


def warming(t: float) -> float:
    """A fresh process: 50% slower at first, warm after about twenty minutes."""
    return 1.0 + 0.5 * math.exp(-t / 300.0)


def fleet(canary: Callable[[float], float], baseline: Callable[[float], float] = warming,
          stable_errors: int = 2) -> Callable[[float], Observations]:
    """Observations at 5% canary, 5% baseline, 90% warm stable (one evaluation's slice = its window)."""
    def make(t: float) -> Observations:
        c, b = stats("canary", 3, canary(t)), stats("baseline", 3, baseline(t))
        s = stats("stable", 54, 1.0, errors=stable_errors, share=0.9)
        return Observations(c, s, c, s, b, b)
    return make


def run(p: Policy, make: Callable[[float], Observations], end: float = 1800,
        state: ReleaseState | None = None) -> tuple[ReleaseState, list[engine.Decision]]:
    state = state or engine.decide(p, ReleaseState(), 0.0).state
    decisions: list[engine.Decision] = []
    t = 0.0
    while t <= end and state.phase not in ("done", "rolling_back"):
        o = make(t) if engine.evaluation_due(p, state, t) else None
        step = engine.decide(p, state, t, Inputs(observations=o))
        state, decisions = step.state, decisions + list(step.decisions)
        t += 10
    return state, decisions


def test_a_canary_warming_up_like_its_baseline_is_promoted() -> None:
    state, decisions = run(policy(p95("baseline")), fleet(canary=warming))
    assert state.outcome == "promoted", state.reason


def test_the_same_warm_up_compared_with_the_warm_fleet_is_rolled_back() -> None:
    state, decisions = run(policy(p95("stable")), fleet(canary=warming))
    assert state.phase == "rolling_back" and state.fired_gate == "p95"


def test_a_canary_30_percent_slower_than_its_warming_baseline_is_rolled_back() -> None:
    state, decisions = run(policy(p95("baseline")), fleet(canary=lambda t: 1.3 * warming(t)))
    assert state.phase == "rolling_back" and state.fired_gate == "p95"
    fired = next(d for d in decisions if d.kind == "gate.fired")
    assert "vs baseline" in fired.reason and "same-age baseline +20%" in fired.reason
    assert "after 900 canary and 900 baseline requests" in fired.reason


def test_a_gate_vs_stable_compares_with_the_warm_fleet_beside_a_same_age_baseline() -> None:
    # The canary fails like the stable fleet (2 in 5,400: 0.04%) while the baseline is spotless: compared
    # with the baseline, its errors are evidence; compared with the fleet, they are not.
    p = policy(errors("stable"))
    same_rate = fleet(canary=warming)

    def make(t: float) -> Observations:
        o = same_rate(t)
        c = replace(o.canary, errors=1 if int(t) % 600 == 0 else 0)
        return replace(o, canary=c, canary_slice=c)

    state, decisions = run(p, make)
    assert state.outcome == "promoted"
    evaluation = next(d for d in decisions if d.kind == "evaluation" and d.inputs["verdicts"][0]["samples"])
    assert set(evaluation.inputs["verdicts"][0]["samples"]) == {"canary", "stable"}


def test_every_evaluation_records_the_baselines_numbers_beside_the_other_two() -> None:
    _, decisions = run(policy(p95("baseline")), fleet(canary=warming), end=120)
    evaluation = next(d for d in decisions if d.kind == "evaluation")
    assert {"canary", "stable", "baseline"} <= set(evaluation.inputs)
    assert evaluation.inputs["baseline"]["version"] == "baseline" and evaluation.inputs["baseline"]["requests"] == 300
    assert set(evaluation.inputs["verdicts"][0]["samples"]) == {"canary", "baseline"}
    json.dumps(evaluation.inputs)


def test_at_full_weight_a_gate_compares_with_the_baselines_counts_frozen_at_cut_over() -> None:
    errs = Gate("errors", "error_rate", ">", 0.5, "+50%", relative=True, against="baseline")
    p = policy(errs, stages=(Stage(5, 300), Stage(100, 600)))

    def make(t: float) -> Observations:
        if t <= 300:
            c, b = stats("canary", 3, errors=1), stats("baseline", 3, errors=1)
            s = stats("stable", 54, share=0.9)
        else:  # the canary serves everything; the baseline's window holds no request
            c, b, s = stats("canary", 20, errors=5, share=1.0), stats("baseline", 0, share=0.0), stats("stable", 0)
        return Observations(c, s, c, s, b, b)

    state, decisions = run(p, make)
    assert state.outcome == "promoted"
    at_full = [d.reason for d in decisions if d.kind == "evaluation" and d.at > 300]
    assert at_full and all("frozen at cut-over from 1500 baseline requests" in r for r in at_full)


def test_a_gate_against_a_baseline_that_was_not_observed_is_inconclusive() -> None:
    p = policy(p95("baseline"))
    o = fleet(canary=warming)(0.0)
    step = engine.decide(p, engine.decide(p, ReleaseState(), 0.0).state, 60.0,
                         Inputs(observations=replace(o, baseline=None, baseline_slice=None)))
    verdict = step.decisions[0].inputs["verdicts"][0]
    assert verdict["status"] == "inconclusive" and "not observed" in verdict["reason"]


def test_the_stable_fleet_serving_nothing_beside_a_half_share_baseline_is_compared_frozen() -> None:
    p = policy(errors("stable"), stages=(Stage(5, 300), Stage(50, 300), Stage(100, 300)))
    state = replace(engine.decide(p, ReleaseState(), 0.0).state, weight=50.0,
                    frozen_baseline=stats("stable", 54, share=0.9))
    thin = stats("stable", 0, share=0.0)
    _, sides = comparison.observe(p, state, thin, thin, stats("baseline", 3), stats("baseline", 3))
    assert sides["stable"].window.requests == 5400 and "frozen at cut-over" in sides["stable"].note
    assert sides["baseline"].window.requests == 300 and sides["baseline"].note == ""


def test_the_baselines_counts_survive_a_restart() -> None:
    state, _ = run(policy(p95("baseline")), fleet(canary=warming), end=300)
    assert state.same_age_reference is not None and state.baseline_total == 1500
    again = ReleaseState.from_json(json.loads(json.dumps(state.to_json())))
    assert again == state


def test_until_the_baseline_has_a_window_of_its_own_its_yardstick_is_the_fleets() -> None:
    p = policy(p95("baseline"))
    fleet_window = stats("stable", 54, share=0.9)
    state = replace(engine.decide(p, ReleaseState(), 0.0).state, baseline=fleet_window)
    o = fleet(canary=warming)(0.0)
    state, sides = comparison.observe(p, state, o.stable, o.stable_slice, o.baseline, o.baseline_slice)
    assert sides["baseline"].reference is fleet_window
    _, sides = comparison.observe(p, state, o.stable, o.stable_slice, o.baseline, o.baseline_slice)
    assert sides["baseline"].reference == o.baseline


def with_errors(canary: int, baseline: int) -> Callable[[float], Observations]:
    """The warming fleet of ``fleet`` with this many errors per minute from canary and baseline."""
    base = fleet(canary=warming)

    def make(t: float) -> Observations:
        o = base(t)
        c, b = replace(o.canary, errors=canary), replace(o.baseline, errors=baseline)
        return replace(o, canary=c, canary_slice=c, baseline=b, baseline_slice=b)
    return make


def test_an_error_gate_against_the_baseline_discounts_bursts_and_still_rolls_back_five_times_the_errors() -> None:
    state, decisions = run(policy(errors("baseline")), with_errors(canary=10, baseline=2))
    assert state.phase == "rolling_back" and state.fired_gate == "errors"
    fired = next(d for d in decisions if d.kind == "gate.fired")
    assert "each error counted as 1/" in fired.reason and "bursts" in fired.reason


def test_an_error_gate_against_the_warm_fleet_is_not_discounted() -> None:
    state, decisions = run(policy(errors("stable")), with_errors(canary=4, baseline=0))
    assert state.gates["errors"].evidence.design_effect == 1.0
    assert all("counted as 1/" not in d.reason for d in decisions)


def test_the_error_gates_dispersion_survives_a_restart() -> None:
    state, _ = run(policy(errors("baseline")), with_errors(canary=3, baseline=3), end=400)
    assert state.gates["errors"].evidence.dispersion
    again = ReleaseState.from_json(json.loads(json.dumps(state.to_json())))
    assert again.gates["errors"].evidence == state.gates["errors"].evidence
