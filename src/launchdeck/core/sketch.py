"""Mergeable log-spaced latency histograms: bounded memory, quantiles within ~2% relative error.

Buckets grow geometrically by GROWTH from MIN_MS, so a quantile read from a bucket midpoint is off
by at most half a bucket (about 2%). Two histograms merge by adding counts, which is what lets
windows be assembled from per-second slices and versions be compared without keeping samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

GROWTH = 1.04
MIN_MS = 0.1
_LOG_GROWTH = math.log(GROWTH)


def bucket_of(latency_ms: float) -> int:
    """Index of the bucket holding ``latency_ms`` (everything under MIN_MS goes to bucket 0)."""
    if latency_ms <= MIN_MS:
        return 0
    return int(math.log(latency_ms / MIN_MS) / _LOG_GROWTH) + 1


def bucket_mid_ms(index: int) -> float:
    """Representative latency of a bucket: the geometric middle of its bounds."""
    if index == 0:
        return MIN_MS
    low = MIN_MS * GROWTH ** (index - 1)
    return low * math.sqrt(GROWTH)


@dataclass(frozen=True)
class LatencyHistogram:
    """Counts per log-spaced bucket, stored sparsely as ``{bucket: count}``."""

    counts: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, latencies_ms: list[float] | tuple[float, ...]) -> LatencyHistogram:
        counts: dict[int, int] = {}
        for value in latencies_ms:
            b = bucket_of(value)
            counts[b] = counts.get(b, 0) + 1
        return cls(counts)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def merge(self, other: LatencyHistogram) -> LatencyHistogram:
        merged = dict(self.counts)
        for b, c in other.counts.items():
            merged[b] = merged.get(b, 0) + c
        return LatencyHistogram(merged)

    def quantile(self, q: float) -> float | None:
        """The q-quantile in ms, or None for an empty histogram."""
        total = self.total
        if total == 0:
            return None
        rank = max(1, math.ceil(q * total))
        seen = 0
        for b in sorted(self.counts):
            seen += self.counts[b]
            if seen >= rank:
                return bucket_mid_ms(b)
        return bucket_mid_ms(max(self.counts))

    def to_json(self) -> dict[str, int]:
        return {str(b): c for b, c in sorted(self.counts.items())}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> LatencyHistogram:
        return cls({int(b): int(c) for b, c in data.items()})
