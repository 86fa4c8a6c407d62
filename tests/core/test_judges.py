"""Judges: threshold verdicts with reasons, and the sequential test's error guarantees by simulation."""

from __future__ import annotations

import numpy as np

from launchdeck.core import judges
from launchdeck.core.observation import WindowStats
from launchdeck.core.policy import Gate
from launchdeck.core.sequential import Evidence

NON_REGRESSION = Gate("err", "error_rate", ">", 0.0, "+0%", relative=True, severity="urgent", test="sequential")


def w(version: str, n: int, e: int, share: float = 0.5) -> WindowStats:
    return WindowStats(version, n, e, 60.0, share)


def test_threshold_reason_names_value_and_limit() -> None:
    gate = Gate("error-rate", "error_rate", ">=", 0.02, "2%")
    v = judges.threshold(gate, w("canary", 100, 5), w("stable", 1000, 2), min_requests=50)
    assert v.status == "breach" and "5.00%" in v.reason and "2.00%" in v.reason


def test_threshold_with_too_few_requests_is_inconclusive_not_pass() -> None:
    gate = Gate("error-rate", "error_rate", ">=", 0.02, "2%")
    v = judges.threshold(gate, w("canary", 10, 0), w("stable", 1000, 2), min_requests=50)
    assert v.status == "inconclusive"


def test_missing_metric_value_is_inconclusive() -> None:
    gate = Gate("error-rate", "error_rate", ">=", 0.02, "2%")
    canary = WindowStats("canary", 100, 0, 60.0, 0.5, values={"error_rate": None})
    assert judges.threshold(gate, canary, None, min_requests=50).status == "inconclusive"


def _simulate(rate_c: float, rate_b: float, runs: int, steps: int, n_per_step: int, seed: int) -> np.ndarray:
    """Fraction of runs in which the sequential test fired at any of its looks."""
    rng = np.random.default_rng(seed)
    fired = np.zeros(runs, dtype=bool)
    for r in range(runs):
        evidence = Evidence()
        for _ in range(steps):
            c = w("canary", n_per_step, int(rng.binomial(n_per_step, rate_c)), 0.1)
            b = w("stable", 9 * n_per_step, int(rng.binomial(9 * n_per_step, rate_b)), 0.9)
            evidence = judges.sequential_update(NON_REGRESSION, evidence, c, b)
            if evidence.value >= 100:
                fired[r] = True
                break
    return fired


def test_sequential_false_alarm_rate_stays_under_alpha_with_continuous_looks() -> None:
    # 400 A/A runs, 60 looks each: with alpha = 1% the count of false alarms is Binomial(400, <=0.01);
    # 10 or more would happen with probability < 0.3% if the guarantee held.
    fired = _simulate(0.01, 0.01, runs=400, steps=60, n_per_step=50, seed=7)
    assert fired.sum() < 10


def test_sequential_detects_a_fivefold_error_increase() -> None:
    fired = _simulate(0.05, 0.01, runs=50, steps=60, n_per_step=50, seed=11)
    assert fired.mean() > 0.9


def test_sequential_verdict_reports_evidence_and_bound() -> None:
    evidence = Evidence()
    for _ in range(10):
        evidence = judges.sequential_update(NON_REGRESSION, evidence, w("canary", 100, 10, 0.1), w("stable", 900, 9, 0.9))
    v = judges.sequential(NON_REGRESSION, evidence, w("canary", 100, 10), w("stable", 900, 9), alpha=0.01,
                          min_requests=50, canary_total=1000, baseline_total=9000)
    assert v.status == "breach" and v.evidence is not None and v.evidence >= 100 and v.bound == 100
    assert "evidence" in v.reason and "after 1000 canary and 9000 stable requests" in v.reason


def test_release_alpha_is_split_across_sequential_gates(tmp_path: object) -> None:
    from launchdeck.plan.compile import to_policy
    from launchdeck.plan.model import ReleaseSpec

    spec = ReleaseSpec.model_validate({
        "stages": [{"weight": "10%"}], "analysis": {"alpha": "1%"},
        "gates": [{"name": "e", "metric": "error_rate", "op": ">", "threshold": "+0%", "vs": "baseline", "test": "sequential"},
                  {"name": "p", "metric": "latency_p95_ms", "op": ">", "threshold": "+10%", "vs": "baseline", "test": "sequential"},
                  {"name": "t", "metric": "error_rate", "op": ">=", "threshold": "5%"}]})
    gates = {g.name: g for g in to_policy(spec).gates}
    assert gates["e"].alpha == gates["p"].alpha == 0.005 and gates["t"].alpha is None
