"""Load tests with the ecosystem's own tools: Locust run headless (``locust``), or the summary JSON of a
k6 run made elsewhere (``k6``). Either gives a :class:`Report`: requests, failures, latency percentiles
and throughput, as the figures a ``source: loadtest`` gate judges and as the record kept in the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from launchdeck.core.observation import WindowStats


@dataclass(frozen=True)
class Report:
    tool: str
    requests: int
    failures: int
    seconds: float
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    rps: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    """What else the tool said: the host, users, per-endpoint counts; kept in the evidence."""

    def stats(self) -> WindowStats:
        """The figures as a window of the load test's own traffic (``values`` take precedence)."""
        rate = self.failures / self.requests if self.requests else None
        values: dict[str, float | None] = {
            "requests": float(self.requests), "error_rate": rate, "availability": None if rate is None else 1 - rate,
            "latency_p50_ms": self.p50_ms, "latency_p95_ms": self.p95_ms, "latency_p99_ms": self.p99_ms,
            "throughput_rps": self.rps}
        return WindowStats("loadtest", self.requests, self.failures, self.seconds, 1.0, values=values)

    def to_json(self) -> dict[str, Any]:
        return {"tool": self.tool, "requests": self.requests, "failures": self.failures,
                "errorRate": round(self.failures / self.requests, 6) if self.requests else None,
                "p50Ms": self.p50_ms, "p95Ms": self.p95_ms, "p99Ms": self.p99_ms, "rps": self.rps,
                "seconds": round(self.seconds, 3), **self.details}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        known = {"tool", "requests", "failures", "errorRate", "p50Ms", "p95Ms", "p99Ms", "rps", "seconds"}
        return cls(str(data["tool"]), int(data["requests"]), int(data["failures"]), float(data["seconds"]),
                   data.get("p50Ms"), data.get("p95Ms"), data.get("p99Ms"), data.get("rps"),
                   {k: v for k, v in data.items() if k not in known})

    def describe(self) -> str:
        def ms(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.0f} ms"
        rate = f"{self.failures / self.requests * 100:.2f}%" if self.requests else "n/a"
        rps = "n/a" if self.rps is None else f"{self.rps:.1f}/s"
        return (f"{self.tool}: {self.requests} requests, {self.failures} failed ({rate}), p50 {ms(self.p50_ms)}, "
                f"p95 {ms(self.p95_ms)}, p99 {ms(self.p99_ms)}, {rps}")
