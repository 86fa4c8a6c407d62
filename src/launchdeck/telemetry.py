"""launchdeck's own metrics (prometheus-client), in a registry of its own: what workers count as they drive
releases, exposed by the server at ``/metrics``.

The worker increments these without importing the server (nor FastAPI). Gauges read from the store
at scrape time (releases by phase, messages pending) are the server's (``server/metrics.py``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

# The `_created` timestamp series double every counter's lines and no dashboard reads them.
disable_created_metrics()
REGISTRY = CollectorRegistry(auto_describe=True)

TICKS = Counter("launchdeck_ticks", "Ticks driven (one release observed, decided and committed).",
                registry=REGISTRY)
TICK_LAG = Histogram("launchdeck_tick_lag_seconds",
                     "How late a release's tick started after it was due (wall-clock seconds).",
                     buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0), registry=REGISTRY)
LEASE_TAKEOVERS = Counter("launchdeck_lease_takeovers",
                          "Releases whose expired lease this process took over from another holder.",
                          registry=REGISTRY)
ROUTER_ERRORS = Counter("launchdeck_router_errors", "Router calls that failed or did not obey, by router type.",
                        ["router"], registry=REGISTRY)
METRICS_SOURCE_ERRORS = Counter("launchdeck_metrics_source_errors",
                                "Metrics source reads that failed, by source type.", ["source"], registry=REGISTRY)

#: The names `/metrics` exposes, with the store-read gauges (``launchdeck_releases``, ``launchdeck_messages_pending``).
NAMES = ("launchdeck_releases", "launchdeck_ticks_total", "launchdeck_tick_lag_seconds",
         "launchdeck_lease_takeovers_total", "launchdeck_router_errors_total", "launchdeck_metrics_source_errors_total",
         "launchdeck_messages_pending")
