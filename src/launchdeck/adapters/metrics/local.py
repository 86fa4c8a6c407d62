"""Metrics source for the embedded local target: windows read straight from the router's Recorder.

The local router records every request it proxies; this adapter answers the engine's questions
("what did this version do between these two Unix times?") from those per-second slices, so it
shares the recorder's one-second granularity (see :mod:`launchdeck.local.recorder`).
"""

from __future__ import annotations

from launchdeck.core.observation import WindowStats
from launchdeck.local.recorder import Recorder


class LocalMetrics:
    """A :class:`~launchdeck.adapters.metrics.MetricsSource` backed by a :class:`Recorder`."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def observe(self, version: str, start: float, end: float) -> WindowStats:
        """Counts for ``version`` over ``[start, end)``; zero requests if nothing was seen."""
        return self.recorder.window(version, start, end)
