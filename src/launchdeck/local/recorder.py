"""What the local router saw, per version and per wall-clock second, assembled into windows.

Every proxied request is recorded into the slice it completed in (``floor(at / resolution)``;
the resolution is one second unless the caller asks for finer slices, as the controller does so
that compressed plan time still gets windows with clean edges):
request and error counts plus a mergeable latency histogram. A window ``[start, end)`` is the merge
of the slices whose second ``s`` satisfies ``start <= s < end``. Granularity is one second: a
slice belongs wholly to the window that contains its first instant, so a window with fractional
edges is shifted by less than a second, and consecutive windows ``[a, b)``, ``[b, c)`` partition
the slices between them, never counting one twice. Slices older than the retention (measured
from the newest recorded second) are dropped so memory stays bounded; totals are kept forever.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from launchdeck.core.observation import WindowStats
from launchdeck.core.sketch import LatencyHistogram, bucket_of

#: Default retention of per-second slices: two hours of wall time.
DEFAULT_RETENTION_S = 2 * 60 * 60.0


def is_error(status: int) -> bool:
    """Server errors count against a version; 502 stands for a failed connection."""
    return status >= 500


@dataclass
class _Slice:
    requests: int = 0
    errors: int = 0
    latency: dict[int, int] = field(default_factory=dict)


class Recorder:
    """Thread-safe per-version, per-second counts of requests, errors and latencies."""

    def __init__(self, *, retention_s: float = DEFAULT_RETENTION_S, resolution_s: float = 1.0) -> None:
        if not retention_s > 0:
            raise ValueError(f"retention_s must be > 0, got {retention_s}")
        if not resolution_s > 0:
            raise ValueError(f"resolution_s must be > 0, got {resolution_s}")
        self.resolution_s = resolution_s
        self.retention_s = retention_s
        self._retention = retention_s / resolution_s  # in slices
        self._lock = threading.Lock()
        self._slices: dict[str, dict[int, _Slice]] = {}
        self._totals: dict[str, list[int]] = {}
        self._newest: int | None = None

    def record(self, version: str, status: int, latency_ms: float, at: float) -> None:
        """One finished request: its version, HTTP status, latency and Unix completion time."""
        second = math.floor(at / self.resolution_s)
        error = is_error(status)
        with self._lock:
            totals = self._totals.setdefault(version, [0, 0])
            totals[0] += 1
            totals[1] += error
            if self._newest is None or second > self._newest:
                self._newest = second
                self._prune(second - self._retention)
            if second < self._newest - self._retention:
                return  # already older than what we keep
            slices = self._slices.setdefault(version, {})
            piece = slices.get(second)
            if piece is None:
                piece = slices[second] = _Slice()
            piece.requests += 1
            piece.errors += error
            bucket = bucket_of(latency_ms)
            piece.latency[bucket] = piece.latency.get(bucket, 0) + 1

    def _prune(self, cutoff: float) -> None:
        """Drop slices whose second is before ``cutoff`` (lock held)."""
        for slices in self._slices.values():
            stale = [s for s in slices if s < cutoff]
            for s in stale:
                del slices[s]

    def _seconds(self, slices: dict[int, _Slice], start: float, end: float) -> list[int]:
        first, stop = math.ceil(start / self.resolution_s), math.ceil(end / self.resolution_s)
        if stop - first <= len(slices):
            return [s for s in range(first, stop) if s in slices]
        return [s for s in slices if first <= s < stop]

    def window(self, version: str, start: float, end: float) -> WindowStats:
        """Merged slices with ``start <= second < end``; ``share`` among all versions' requests."""
        if end < start:
            raise ValueError(f"window ends ({end}) before it starts ({start})")
        requests = errors = everyone = 0
        latency: dict[int, int] = {}
        with self._lock:
            for name, slices in self._slices.items():
                for s in self._seconds(slices, start, end):
                    piece = slices[s]
                    everyone += piece.requests
                    if name != version:
                        continue
                    requests += piece.requests
                    errors += piece.errors
                    for bucket, count in piece.latency.items():
                        latency[bucket] = latency.get(bucket, 0) + count
        return WindowStats(
            version=version,
            requests=requests,
            errors=errors,
            seconds=end - start,
            share=requests / everyone if everyone else 0.0,
            latency=LatencyHistogram(latency),
        )

    def totals(self, version: str) -> tuple[int, int]:
        """(requests, errors) recorded for ``version`` since the recorder was created."""
        with self._lock:
            requests, errors = self._totals.get(version, (0, 0))
            return requests, errors

    def versions(self) -> list[str]:
        """Every version recorded so far, sorted."""
        with self._lock:
            return sorted(self._totals)

    def retained_seconds(self, version: str) -> list[float]:
        """The start of every slice ``version`` still has, in Unix seconds (oldest first)."""
        with self._lock:
            return [s * self.resolution_s for s in sorted(self._slices.get(version, {}))]
