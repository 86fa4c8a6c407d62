"""``GET /metrics``: launchdeck's own metrics in Prometheus' text format.

What workers count (ticks, tick lag, lease takeovers, router and metrics-source errors) comes from
``launchdeck.telemetry``; releases by phase and messages pending are read from the store at each scrape,
so every server reports the whole store, whichever process drives what. Each app has its own registry:
two apps in one process (tests) never share or double-register a collector.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from launchdeck import telemetry
from launchdeck.store import queries
from launchdeck.store.repo import Store

router = APIRouter(tags=["operations"])


class StoreCollector(Collector):
    """Gauges read from the store at scrape time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        releases = GaugeMetricFamily("launchdeck_releases", "Releases in the store by phase (finished ones: "
                                     "phase done, by outcome).", labels=["phase", "outcome"])
        for (phase, outcome), count in sorted(queries.releases_by_phase(self.store).items()):
            releases.add_metric([phase, outcome], count)
        yield releases
        yield GaugeMetricFamily("launchdeck_messages_pending", "Messages decided but not yet delivered.",
                                value=queries.messages_pending(self.store))


class _Shared(Collector):
    """The process-wide telemetry registry, forwarded into an app's registry."""

    def collect(self) -> Iterator[Metric]:
        yield from telemetry.REGISTRY.collect()


def registry_for(store: Store) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Shared())
    registry.register(StoreCollector(store))
    return registry


@router.get("/metrics", response_class=Response,
            responses={200: {"description": "Prometheus text format", "content": {"text/plain": {}}}})
async def metrics(request: Request) -> Response:
    """launchdeck's own metrics (no token needed: counts only, nothing of any release)."""
    body = await run_in_threadpool(generate_latest, request.app.state.metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
