"""/metrics: launchdeck's own metrics by name, in Prometheus' text format, read from the store at each scrape."""

from __future__ import annotations

from ld_server import Api
from prometheus_client.parser import text_string_to_metric_families

from launchdeck import telemetry


def test_metrics_expose_every_name_and_count_releases_by_phase(api: Api) -> None:
    assert api.start("metered-v2").status_code == 201
    answer = api.get("/metrics", who=None)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    names = {s.name for f in families.values() for s in f.samples} | set(families)
    missing = [n for n in telemetry.NAMES if n not in names and n.removesuffix("_total") not in names]
    assert missing == [], missing
    starting = [s for s in families["launchdeck_releases"].samples if s.labels == {"phase": "starting", "outcome": ""}]
    assert starting and starting[0].value >= 1
