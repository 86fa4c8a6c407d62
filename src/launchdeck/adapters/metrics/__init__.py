"""Metrics sources: what each version did over a span of wall-clock time."""

from __future__ import annotations

from typing import Protocol

from launchdeck.core.observation import WindowStats


class MetricsSource(Protocol):
    async def observe(self, version: str, start: float, end: float) -> WindowStats:
        """Counts for ``version`` ("stable" or "canary") between two Unix times (seconds).

        A source that fails or has nothing returns zero requests (or ``None`` values), which the
        engine treats as inconclusive, never as a pass; it raises TargetError only for faults a
        person must fix (bad URL, bad query).
        """
