"""Plan time for a run: wall time multiplied by ``--time-scale``, resumable from a saved offset."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class PlanClock:
    scale: float = 1.0
    offset: float = 0.0
    """Plan seconds already elapsed before this process started (a resumed run)."""
    _t0: float = field(default_factory=time.monotonic)

    def now(self) -> float:
        return self.offset + (time.monotonic() - self._t0) * self.scale

    def wall(self, plan_seconds: float) -> float:
        """Wall seconds that a span of plan time takes."""
        return plan_seconds / self.scale
