"""What a metrics source saw of one version over one window, and the metrics derived from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from launchdeck.core.sketch import LatencyHistogram

_QUANTILES = {"latency_p50_ms": 0.50, "latency_p95_ms": 0.95, "latency_p99_ms": 0.99}


@dataclass(frozen=True)
class WindowStats:
    """Counts for one version over a window of plan time.

    ``share`` is the version's share of traffic during the window (0..1); throughput is divided
    by it so that a canary at 20% is held to the same per-share throughput as the stable version.
    ``values`` carries metrics a source computed itself (Prometheus queries); they take precedence
    over what the counts would give, and a ``None`` there means the source had no data.
    ``events`` counts occurrences of named events (cross-tenant denials, residency violations) the
    version reported over the window, for event gates; ``None``: the source could not count it.
    """

    version: str
    requests: int
    errors: int
    seconds: float
    share: float
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    values: dict[str, float | None] = field(default_factory=dict)
    events: dict[str, float | None] = field(default_factory=dict)

    def metric(self, name: str) -> float | None:
        """The metric's value over this window (``core.metrics.STANDARD_METRICS`` and the source's
        own), or None when there is no data for it."""
        if name in self.values:
            return self.values[name]
        if name == "requests":
            return float(self.requests)
        if self.requests == 0:
            return None
        if name == "error_rate":
            return self.errors / self.requests
        if name == "availability":
            return 1.0 - self.errors / self.requests
        if name == "throughput_rps":
            if self.seconds <= 0 or self.share <= 0:
                return None
            return (self.requests - self.errors) / self.seconds / self.share
        if name in _QUANTILES:
            return self.latency.quantile(_QUANTILES[name])
        return None

    def merged(self, later: WindowStats) -> WindowStats:
        """This window and a later one as a single span: counts and latencies add up.

        Values a source computed itself (Prometheus) cannot be added: counts (``requests``,
        ``errors``) are summed, other figures averaged weighted by requests, and a side with no data
        for a figure leaves the other's. Quantiles averaged that way are an approximation; the
        histograms, when there are any, are exact."""
        values: dict[str, float | None] = {}
        for name in {**self.values, **later.values}:
            a, b = self.values.get(name), later.values.get(name)
            if a is None or b is None:
                values[name] = b if a is None else a
            elif name in ("requests", "errors"):
                values[name] = a + b
            else:
                weight = self.requests + later.requests
                values[name] = (a * self.requests + b * later.requests) / weight if weight else b
        events = {name: None if self.events.get(name, 0.0) is None or later.events.get(name, 0.0) is None
                  else (self.events.get(name) or 0.0) + (later.events.get(name) or 0.0)
                  for name in {**self.events, **later.events}}
        seconds = self.seconds + later.seconds
        share = (self.share * self.seconds + later.share * later.seconds) / seconds if seconds > 0 else later.share
        return WindowStats(self.version, self.requests + later.requests, self.errors + later.errors, seconds,
                           share, self.latency.merge(later.latency), values, events)

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "requests": self.requests,
            "errors": self.errors,
            "seconds": self.seconds,
            "share": self.share,
            "latency": self.latency.to_json(),
            "values": dict(self.values),
            **({"events": dict(self.events)} if self.events else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> WindowStats:
        return cls(
            version=str(data["version"]),
            requests=int(data["requests"]),  # type: ignore[call-overload]
            errors=int(data["errors"]),  # type: ignore[call-overload]
            seconds=float(data["seconds"]),  # type: ignore[arg-type]
            share=float(data["share"]),  # type: ignore[arg-type]
            latency=LatencyHistogram.from_json(data.get("latency") or {}),  # type: ignore[arg-type]
            values=dict(data.get("values") or {}),  # type: ignore[call-overload]
            events=dict(data.get("events") or {}),  # type: ignore[call-overload]
        )


@dataclass(frozen=True)
class LoadTestResult:
    """The current stage's load test as the engine sees it: still running (neither ``stats`` nor
    ``failed``), finished (``stats``: requests, failures and the figures the tool measured, in
    ``values``), or failed to run (``failed``: why)."""

    stats: WindowStats | None = None
    failed: str | None = None
    tool: str = "load test"

    @property
    def running(self) -> bool:
        return self.stats is None and self.failed is None
