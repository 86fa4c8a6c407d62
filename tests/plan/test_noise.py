"""Warnings for gates that can only be judged on noise: too few errors per window to compare rates."""

from __future__ import annotations

from typing import Any

import pytest

from launchdeck.plan.model import ReleaseSpec
from launchdeck.plan.noise import expected_canary_errors, noisy_gates

ERRORS_VS_STABLE = {"name": "errors", "metric": "error_rate", "op": ">", "threshold": "+50%", "vs": "baseline",
                    "for": "3m", "severity": "immediate"}
HAPROXY = {"router": {"type": "haproxy", "socket": "/s", "backend": "b", "servers": {"stable": "a", "canary": "b"}},
           "metrics": {"type": "prometheus", "url": "http://127.0.0.1:9090"}}


def spec(*, method: str | None = "threshold", rps: float = 200, gate: dict[str, Any] = ERRORS_VS_STABLE,
         target: dict[str, Any] | None = None) -> ReleaseSpec:
    analysis = {"interval": "30s", "window": "2m"} | ({"method": method} if method else {})
    return ReleaseSpec.model_validate({
        "target": target or {"load": {"rps": rps}, "versions": {"stable": {"errorRate": "0.1%"},
                                                                "canary": {"errorRate": "0.1%"}}},
        "stages": [{"weight": "10%", "hold": "5m"}, {"weight": "50%", "hold": "5m"}, {"weight": "100%", "hold": "5m"}],
        "analysis": analysis, "gates": [gate]})


def test_a_relative_error_gate_on_a_handful_of_errors_is_warned_about_with_what_to_change() -> None:
    # 200 rps x 10% x 120 s x 0.1%: about 2.4 canary errors per window at the first stage.
    assert expected_canary_errors(spec()) == pytest.approx(2.4)
    (warning,) = noisy_gates(spec())
    assert warning.startswith("gate 'errors' (error_rate > +50% vs baseline, threshold judge) is judged on noise")
    assert "about 2.4 errors per 2m window" in warning
    for remedy in ("drop `method: threshold`", "analysis.window 4m10s", "target.load.rps 417", "a first weight of 21%"):
        assert remedy in warning, (remedy, warning)


def test_a_higher_time_scale_means_fewer_errors_per_window() -> None:
    (warning,) = noisy_gates(spec(rps=2000), time_scale=60)
    assert "about 0.4 errors per 2m window" in warning and "2s of wall time (2m at --time-scale 60)" in warning
    assert "--time-scale 4.8" in warning
    assert noisy_gates(spec(rps=2000), time_scale=1) == []  # 24 errors per window: a fair comparison


def test_the_sequential_judge_and_absolute_gates_are_not_warned_about() -> None:
    assert noisy_gates(spec(method=None)) == []  # the default for gates vs baseline: sequential
    assert noisy_gates(spec(method="sequential")) == []
    absolute = {"name": "errors", "metric": "error_rate", "op": ">=", "threshold": "2%"}
    assert noisy_gates(spec(gate=absolute)) == []


def test_a_gate_asking_for_threshold_itself_is_told_to_drop_it() -> None:
    (warning,) = noisy_gates(spec(method=None, gate=ERRORS_VS_STABLE | {"test": "threshold"}))
    assert "drop `test: threshold` from the gate" in warning


def test_a_real_target_whose_load_is_unknown_says_so() -> None:
    (warning,) = noisy_gates(spec(target=HAPROXY))
    assert "cannot know this target's load" in warning and "at least 5 canary errors" in warning
    assert expected_canary_errors(spec(target=HAPROXY)) is None
