"""Chart steps from evaluations (``services.series``): each side's figure from its window, the error rate's 95%
interval, the limit put on the gate's metric, and markers for weight changes."""

from __future__ import annotations

import pytest

from launchdeck.services import series


def window(version: str, requests: int, errors: int) -> dict[str, object]:
    return {"version": version, "requests": requests, "errors": errors, "seconds": 10.0, "share": 0.5,
            "latency": {"100": requests // 2, "300": requests - requests // 2}, "values": {}}


EVALUATION = {"canary": window("canary", 200, 10), "stable": window("stable", 200, 0),
              "verdicts": [{"gate": "errors", "status": "breach", "limit": 0.02},
                           {"gate": "slow", "status": "pass", "limit": 400.0}]}
BY_GATE: dict[str, str | None] = {"errors": "error_rate", "slow": "latency_p95_ms"}


def test_a_step_has_each_sides_figure_and_the_gates_limit() -> None:
    step = series.point(EVALUATION, 42.0, ["error_rate", "latency_p95_ms", "throughput_rps"], BY_GATE)
    assert step["t"] == 42.0
    assert step["error_rate"]["canary"] == pytest.approx(0.05) and step["error_rate"]["stable"] == 0.0
    assert step["error_rate"]["limit"] == 0.02 and step["latency_p95_ms"]["limit"] == 400.0
    assert step["throughput_rps"]["limit"] is None
    assert step["latency_p95_ms"]["canary"] == pytest.approx(step["latency_p95_ms"]["stable"]) and step["latency_p95_ms"]["canary"] > 250


def test_the_error_rate_interval_holds_the_estimate() -> None:
    rate = series.point(EVALUATION, 1.0, ["error_rate"], BY_GATE)["error_rate"]
    assert 0 < rate["low"] < rate["canary"] < rate["high"] < 0.1


def test_a_side_without_data_is_none_not_zero() -> None:
    empty = {"canary": window("canary", 0, 0), "stable": window("stable", 50, 1), "verdicts": []}
    step = series.point(empty, 1.0, ["error_rate"], BY_GATE)["error_rate"]
    assert step["canary"] is None and step["low"] is None and step["stable"] == pytest.approx(0.02)


def test_metrics_are_the_gates_then_the_standard_ones() -> None:
    gates = [{"metric": "latency_p99_ms"}, {"metric": "error_rate"}, {"metric": None}]
    assert series.metrics_of(gates) == ["latency_p99_ms", "error_rate", "latency_p95_ms", "throughput_rps"]


def test_weight_changes_are_marked_with_the_new_weight() -> None:
    assert series.marker("stage.started", 5.0, "stage 2", {"weight": 50.0})["weight"] == 50.0
    assert series.marker("rollback.started", 9.0, "kill switch", {})["weight"] == 0.0
    assert series.marker("gate.fired", 8.0, "p95 fired", {"weight": 50.0})["weight"] is None
