"""Which judge each gate gets: its own `test:`, else `analysis.method`, else the safe default."""

from __future__ import annotations

from typing import Any

from launchdeck.plan import to_policy
from launchdeck.plan.model import ReleaseSpec

GATES = [
    {"name": "errors-vs-stable", "metric": "error_rate", "op": ">", "threshold": "+50%", "vs": "baseline"},
    {"name": "p95-vs-stable", "metric": "latency_p95_ms", "op": ">", "threshold": "+20%", "vs": "baseline"},
    {"name": "errors-2pct", "metric": "error_rate", "op": ">=", "threshold": "2%"},
    {"name": "throughput", "metric": "throughput_rps", "op": "<", "threshold": "-10%", "vs": "baseline"},
    {"name": "availability", "metric": "availability", "op": "<", "threshold": "-1%", "vs": "baseline"},
]


def judges(analysis: dict[str, Any] | None = None, **target: Any) -> dict[str, str]:
    spec = ReleaseSpec.model_validate({"target": target, "stages": [{"weight": "10%"}, {"weight": "100%"}],
                                       "analysis": analysis or {}, "gates": GATES})
    return {g.name: g.test for g in to_policy(spec).gates}


def test_without_a_method_gates_vs_baseline_on_errors_and_latency_are_sequential() -> None:
    assert judges() == {"errors-vs-stable": "sequential", "p95-vs-stable": "sequential", "errors-2pct": "threshold",
                        "throughput": "threshold", "availability": "threshold"}


def test_method_threshold_keeps_the_threshold_judge_everywhere() -> None:
    assert set(judges({"method": "threshold"}).values()) == {"threshold"}


def test_latency_judged_from_prometheus_keeps_the_threshold_judge_without_a_method() -> None:
    # The sequential latency test counts requests per latency bucket, which Prometheus does not give.
    found = judges(metrics={"type": "prometheus", "url": "http://127.0.0.1:9090"})
    assert found["p95-vs-stable"] == "threshold" and found["errors-vs-stable"] == "sequential"


def test_the_release_alpha_is_shared_by_the_gates_judged_sequentially_by_default() -> None:
    spec = ReleaseSpec.model_validate({"stages": [{"weight": "100%"}], "analysis": {"alpha": "2%"}, "gates": GATES})
    alphas = {g.name: g.alpha for g in to_policy(spec).gates}
    assert alphas["errors-vs-stable"] == alphas["p95-vs-stable"] == 0.01 and alphas["errors-2pct"] is None
