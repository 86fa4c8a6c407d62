from __future__ import annotations

import pytest

from launchdeck.plan import units


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), ("7d", 604800),
                                               ("1m30s", 90), ("1h30m", 5400), ("250ms", 0.25), (45, 45)])
def test_durations(text: object, seconds: float) -> None:
    assert units.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "m5", "-5m", "", "1h-30m"])
def test_bad_durations_say_what_to_write(text: str) -> None:
    with pytest.raises(ValueError, match="write one like"):
        units.parse_duration(text)


def test_ratios_and_latencies() -> None:
    assert units.parse_ratio("2%") == 0.02 and units.parse_ratio("0.1%") == 0.001 and units.parse_ratio(0.02) == 0.02
    assert units.parse_latency_ms("1.2s") == 1200 and units.parse_latency_ms("120ms") == 120
    with pytest.raises(ValueError):
        units.parse_ratio("150%")


def test_threshold_unit_follows_the_metric() -> None:
    assert units.parse_threshold("2%", "error_rate").value == 0.02
    assert units.parse_threshold("350ms", "latency_p95_ms").value == 350
    relative = units.parse_threshold("-10%", "throughput_rps")
    assert relative.relative and relative.value == -0.1
