"""The warnings a valid plan gets: here, figures no gate watches once the canary serves everyone."""

from __future__ import annotations

from typing import Any

from launchdeck.plan import advice
from launchdeck.plan.model import ReleaseSpec

ERRORS_VS_BASELINE = {"name": "errors", "metric": "error_rate", "op": ">", "threshold": "+50%", "vs": "baseline"}
P95_VS_BASELINE = {"name": "p95", "metric": "latency_p95_ms", "op": ">", "threshold": "+20%", "vs": "baseline"}
ERRORS_CEILING = {"name": "errors-ceiling", "metric": "error_rate", "op": ">", "threshold": "2%"}


def spec(*gates: dict[str, Any], last_weight: str = "100%", method: str | None = None) -> ReleaseSpec:
    analysis = {"interval": "30s", "window": "2m"} | ({"method": method} if method else {})
    return ReleaseSpec.model_validate({
        "target": {"load": {"rps": 2000}},
        "stages": [{"weight": "10%", "hold": "5m"}, {"weight": last_weight, "hold": "5m"}],
        "analysis": analysis, "gates": list(gates)})


def test_errors_watched_only_by_a_sequential_gate_vs_baseline_are_unwatched_at_100_percent() -> None:
    (warning,) = advice.unwatched_at_full_weight(spec(ERRORS_VS_BASELINE))
    assert "at 100%" in warning and "'errors'" in warning and "no gate watches the canary's errors" in warning
    assert 'add an absolute gate such as `{metric: error_rate, op: ">", threshold: 2%}`' in warning
    assert warning in advice.warnings(spec(ERRORS_VS_BASELINE))  # what validate, run and the server say


def test_latency_gets_its_own_warning() -> None:
    (warning,) = advice.unwatched_at_full_weight(spec(ERRORS_VS_BASELINE, P95_VS_BASELINE, ERRORS_CEILING))
    assert "'p95'" in warning and "no gate watches the canary's latency" in warning


def test_an_absolute_gate_watches_the_canary_at_100_percent() -> None:
    assert advice.unwatched_at_full_weight(spec(ERRORS_VS_BASELINE, ERRORS_CEILING)) == []


def test_the_threshold_judge_compares_with_the_counts_frozen_at_cut_over() -> None:
    assert advice.unwatched_at_full_weight(spec(ERRORS_VS_BASELINE, method="threshold")) == []


def test_a_plan_that_never_judges_the_canary_at_100_percent_gets_no_warning() -> None:
    assert advice.unwatched_at_full_weight(spec(ERRORS_VS_BASELINE, last_weight="50%")) == []
