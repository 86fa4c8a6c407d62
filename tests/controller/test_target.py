from __future__ import annotations

from launchdeck.controller.target import thin_windows
from launchdeck.plan.model import ReleaseSpec


def spec(rps: int) -> ReleaseSpec:
    return ReleaseSpec.model_validate({"target": {"load": {"rps": rps}},
                                       "stages": [{"weight": "5%"}, {"weight": "50%"}],
                                       "analysis": {"window": "5m", "minRequests": 100}})


def test_stage_whose_windows_the_load_cannot_fill_is_warned_about() -> None:
    warnings = thin_windows(spec(200), time_scale=60)  # 5% of 200 rps for 5 s: about 50 requests
    assert len(warnings) == 1 and warnings[0].startswith("stage 1 at 5%") and "about 50" in warnings[0]


def test_enough_traffic_or_a_real_target_gives_no_warning() -> None:
    assert thin_windows(spec(1000), time_scale=60) == []
    real = ReleaseSpec.model_validate({"target": {"router": {"type": "haproxy", "socket": "/s", "backend": "b",
                                                             "servers": {"stable": "a", "canary": "b"}},
                                                  "metrics": {"type": "prometheus", "url": "http://x"}},
                                       "stages": [{"weight": "5%"}], "analysis": {"minRequests": 10_000}})
    assert thin_windows(real, time_scale=600) == []
