"""Traffic routers: where the canary's share of traffic is set and read back.

Every router implements :class:`Router`; :func:`launchdeck.adapters.routers.factory.build` picks one
from ``target.router.type``.
"""

from __future__ import annotations

import math
from typing import Protocol

from launchdeck.errors import TargetError


def check_percent(canary_percent: float) -> float:
    """A canary weight as a float in 0..100; anything else (NaN, a bool, a string) is a TargetError."""
    if isinstance(canary_percent, bool) or not isinstance(canary_percent, int | float):
        raise TargetError(f"a weight must be a number of percent, got {canary_percent!r}",
                          hint="weights are percentages of traffic, 0 to 100")
    if not math.isfinite(canary_percent) or not 0 <= canary_percent <= 100:
        raise TargetError(f"a weight must be between 0 and 100 percent, got {canary_percent}",
                          hint="weights are percentages of traffic, 0 to 100")
    return float(canary_percent)


class Router(Protocol):
    """Moves the canary's share of traffic (0..100, percent of requests or of users)."""

    @property
    def type(self) -> str: ...

    async def set_weight(self, canary_percent: float) -> None:
        """Set the canary's share; raises TargetError if the router refused."""

    async def current_weight(self) -> float:
        """The canary's share as the router itself reports it now."""

    async def kill(self) -> None:
        """The kill switch: every request goes to the stable version at once."""

    async def drain(self) -> None:
        """Stop sending new work to the canary (in-flight requests finish)."""
