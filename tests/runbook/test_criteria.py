from __future__ import annotations

from launchdeck.core.observation import WindowStats
from launchdeck.runbook.criteria import Criterion, evaluate, verdict

ERRORS = Criterion("error_rate", "<", 0.005, "0.5%")


def test_criterion_passes_and_fails_on_the_value() -> None:
    good = evaluate([ERRORS], WindowStats("canary", 1000, 2, 60, 1.0), min_requests=100)
    bad = evaluate([ERRORS], WindowStats("canary", 1000, 9, 60, 1.0), min_requests=100)
    assert verdict(good) == "passed" and verdict(bad) == "failed"
    assert "0.90%" in bad[0].describe()


def test_too_little_traffic_is_no_data_and_never_passes() -> None:
    results = evaluate([ERRORS], WindowStats("canary", 10, 0, 60, 1.0), min_requests=100)
    assert results[0].status == "no-data" and verdict(results) == "failed"
