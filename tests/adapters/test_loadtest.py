"""Load-test reports: Locust's JSON stats and k6's summary exports (both shapes) read into the same figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launchdeck.adapters.loadtest import Report, k6, locust
from launchdeck.errors import TargetError
from launchdeck.plan.hooks_model import LoadTestSpec

#: `locust --headless --json-file stats` for two endpoints (fields as Locust 2.x writes them).
LOCUST_STATS = [
    {"name": "/", "method": "GET", "start_time": 1000.0, "last_request_timestamp": 1010.0, "num_requests": 90,
     "num_none_requests": 0, "num_failures": 2, "total_response_time": 3600.0, "max_response_time": 300.0,
     "min_response_time": 10.0, "total_content_length": 900, "response_times": {"20": 50, "40": 35, "300": 5},
     "num_reqs_per_sec": {}, "num_fail_per_sec": {}},
    {"name": "/search", "method": "GET", "start_time": 1000.5, "last_request_timestamp": 1009.0, "num_requests": 10,
     "num_none_requests": 0, "num_failures": 0, "total_response_time": 900.0, "max_response_time": 120.0,
     "min_response_time": 60.0, "total_content_length": 100, "response_times": {"60": 5, "120": 5},
     "num_reqs_per_sec": {}, "num_fail_per_sec": {}},
]


def test_locust_stats_merge_every_endpoint_into_nearest_rank_percentiles() -> None:
    report = locust.parse(LOCUST_STATS, host="http://127.0.0.1:8080", users=5, seconds=10)
    assert (report.requests, report.failures, report.seconds) == (100, 2, 10.0)
    assert (report.p50_ms, report.p95_ms, report.p99_ms) == (20.0, 120.0, 300.0)  # ranks 50, 95, 99 of 100
    assert report.rps == 10.0
    stats = report.stats()
    assert stats.metric("error_rate") == 0.02 and stats.metric("latency_p95_ms") == 120.0
    assert Report.from_json(report.to_json()) == report


def test_a_k6_summary_export_is_read() -> None:
    export = {"metrics": {
        "http_reqs": {"count": 1200, "rate": 40.0},
        "http_req_failed": {"passes": 12, "fails": 1188, "value": 0.01},
        "http_req_duration": {"avg": 52.1, "min": 8.2, "med": 41.0, "max": 912.3, "p(90)": 88.0, "p(95)": 121.5}},
        "root_group": {"name": "", "path": "", "groups": {}, "checks": {}}}
    report = k6.parse(export)
    assert (report.requests, report.failures, report.p50_ms, report.p95_ms, report.p99_ms) == (1200, 12, 41.0, 121.5, None)
    assert report.seconds == 30.0 and report.rps == 40.0


def test_a_k6_handle_summary_document_is_read() -> None:
    data = {"state": {"testRunDurationMs": 60000.0},
            "metrics": {"http_reqs": {"type": "counter", "contains": "default", "values": {"count": 600, "rate": 10.0}},
                        "http_req_failed": {"type": "rate", "contains": "default", "values": {"rate": 0.05, "passes": 30, "fails": 570}},
                        "http_req_duration": {"type": "trend", "contains": "time",
                                              "values": {"med": 35.0, "p(95)": 80.0, "p(99)": 150.0}}}}
    report = k6.parse(data)
    assert (report.requests, report.failures, report.p99_ms, report.seconds) == (600, 30, 150.0, 60.0)


def test_a_file_that_is_no_k6_summary_is_a_target_error(tmp_path: Path) -> None:
    (tmp_path / "k6.json").write_text(json.dumps({"metrics": {"iterations": {"count": 3}}}))
    with pytest.raises(TargetError, match="has no http_reqs metric"):
        k6.read(LoadTestSpec(k6="k6.json"), cwd=tmp_path)
