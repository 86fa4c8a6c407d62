"""Metrics source for the embedded local target: windows read straight from the router's Recorder, and
event counts read from each sample app's ``/metrics``.

The local router records every request it proxies; this adapter answers the engine's questions
("what did this version do between these two Unix times?") from those per-second slices, so it
shares the recorder's one-second granularity (see :mod:`launchdeck.local.recorder`).

Events (``app_events_total{version, event}``) are counted by the apps themselves, so they are scraped:
each question scrapes the version's app and keeps its counters as of the question's end; the events
in ``[start, end)`` are the counters at ``end`` minus those kept at the latest end at or before
``start`` (zero before the first). Consecutive slices share their edges, so each occurrence is counted
in exactly one of them. A scrape that fails counts nothing: the event is ``None``, inconclusive.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

from launchdeck.core.observation import WindowStats
from launchdeck.local.recorder import Recorder

EVENTS_METRIC = "app_events"


class AppEvents:
    """Event counters scraped from each version's sample app, kept per question's end time."""

    def __init__(self, urls: Mapping[str, str], timeout_s: float = 2.0) -> None:
        self.urls = dict(urls)
        self.timeout_s = timeout_s
        self._history: dict[str, list[tuple[float, dict[str, float]]]] = {}

    async def count(self, version: str, names: Iterable[str], start: float, end: float) -> dict[str, float | None]:
        names = list(names)
        totals = await self._scrape(version)
        if totals is None:
            return dict.fromkeys(names, None)
        history = self._history.setdefault(version, [])
        at = bisect.bisect_right([t for t, _ in history], end)
        if at and history[at - 1][0] == end:
            history[at - 1] = (end, {k: max(v, history[at - 1][1].get(k, 0.0)) for k, v in totals.items()})
        else:
            history.insert(at, (end, totals))
        before = bisect.bisect_right([t for t, _ in history], start)
        earlier = history[before - 1][1] if before else {}
        return {name: max(0.0, totals.get(name, 0.0) - earlier.get(name, 0.0)) for name in names}

    async def _scrape(self, version: str) -> dict[str, float] | None:
        url = self.urls.get(version)
        if url is None:
            return None
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.get(url + "/metrics")
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        totals: dict[str, float] = {}
        for family in text_string_to_metric_families(response.text):
            if family.name == EVENTS_METRIC:
                for sample in family.samples:
                    if sample.name == EVENTS_METRIC + "_total" and "event" in sample.labels:
                        totals[sample.labels["event"]] = totals.get(sample.labels["event"], 0.0) + sample.value
        return totals


class LocalMetrics:
    """A :class:`~launchdeck.adapters.metrics.MetricsSource` backed by a :class:`Recorder` (and the apps'
    event counters, for the events named in ``events``)."""

    def __init__(self, recorder: Recorder, *, app_events: AppEvents | None = None, events: Iterable[str] = (),
                 costs: dict[str, float] | None = None) -> None:
        self.recorder = recorder
        self.app_events = app_events
        self.events = tuple(events)
        self.costs = dict(costs or {})
        """Cost per request of each version (the plan's ``costPerRequest``), reported as ``cost_per_request``."""

    async def observe(self, version: str, start: float, end: float) -> WindowStats:
        """Counts for ``version`` over ``[start, end)``; zero requests if nothing was seen."""
        stats = self.recorder.window(version, start, end)
        cost = self.costs.get(version)
        if cost is not None and stats.requests:
            stats = WindowStats(stats.version, stats.requests, stats.errors, stats.seconds, stats.share, stats.latency,
                                {**stats.values, "cost_per_request": cost}, stats.events)
        if not self.events:
            return stats
        counted = (await self.app_events.count(version, self.events, start, end) if self.app_events
                   else dict.fromkeys(self.events, None))
        return WindowStats(stats.version, stats.requests, stats.errors, stats.seconds, stats.share, stats.latency,
                           stats.values, counted)
