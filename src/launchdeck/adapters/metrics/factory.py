"""The one place a plan's ``target.metrics`` becomes a MetricsSource for a real target."""

from __future__ import annotations

from collections.abc import Iterable

from launchdeck.adapters.metrics import MetricsSource
from launchdeck.errors import TargetError
from launchdeck.plan import model


def build(spec: model.MetricsSpec, metadata: model.Metadata, *, events: Iterable[str] = ()) -> MetricsSource:
    """The source for a real target; ``events`` are the event gates' events, counted by ``spec.events``'
    queries or by the default one (the sample app's ``app_events_total``)."""
    if spec.type != "prometheus":
        raise TargetError(f"metrics type {spec.type!r} comes with the embedded fleet")
    from launchdeck.adapters.metrics.prometheus import DEFAULT_QUERIES, PrometheusMetrics, event_query

    labels = {"stable": metadata.previous_version or "stable", "canary": metadata.version, **spec.labels}
    assert spec.url
    # The plan's queries refine the defaults; the counts (requests, errors) stay available either way.
    return PrometheusMetrics(spec.url, {**DEFAULT_QUERIES, **spec.queries}, version_labels=labels,
                             events={name: spec.events.get(name) or event_query(name) for name in events})
