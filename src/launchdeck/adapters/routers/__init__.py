"""Traffic routers: where the canary's share of traffic is set and read back.

Every router implements :class:`Router`; :func:`launchdeck.adapters.routers.factory.build` picks one
from ``target.router.type``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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


def check_split(canary_percent: float, baseline_percent: float) -> tuple[float, float]:
    """A canary and a baseline weight that fit together in 100%, as floats; else a TargetError."""
    canary, baseline = check_percent(canary_percent), check_percent(baseline_percent)
    if canary + baseline > 100 + 1e-9:
        raise TargetError(f"canary {canary:g}% and baseline {baseline:g}% are more than all the traffic",
                          hint="a same-age baseline takes the canary's weight from the stable share: at most 50% each")
    return canary, baseline


def no_baseline(router: str, baseline_percent: float) -> None:
    """Refuse a baseline weight on a router built without a baseline server."""
    if baseline_percent > 0:
        raise TargetError(f"the {router} router has no baseline to send {baseline_percent:g}% to",
                          hint="name the baseline's server in target.router.servers.baseline")


@dataclass(frozen=True)
class Split:
    """Shares of traffic in percent: the canary's and the same-age baseline's; the stable version
    serves the rest."""

    canary: float
    baseline: float = 0.0

    @property
    def stable(self) -> float:
        return max(0.0, 100.0 - self.canary - self.baseline)

    def matches(self, other: Split) -> bool:
        return abs(self.canary - other.canary) < 1e-6 and abs(self.baseline - other.baseline) < 1e-6

    def __str__(self) -> str:
        return f"canary {self.canary:g}%" + (f", baseline {self.baseline:g}%" if self.baseline else "")


class Router(Protocol):
    """Moves the canary's share of traffic (0..100, percent of requests or of users), and with a
    same-age baseline (``analysis.baseline: same-age``) the baseline's, taken from the stable share."""

    @property
    def type(self) -> str: ...

    async def set_weight(self, canary_percent: float, baseline_percent: float = 0.0) -> None:
        """Set the canary's (and the baseline's) share; raises TargetError if the router refused, or
        if it has no baseline and ``baseline_percent`` is above 0."""

    async def current_weight(self) -> float:
        """The canary's share as the router itself reports it now."""

    async def current_split(self) -> Split:
        """The canary's and the baseline's shares as the router itself reports them now."""

    async def kill(self) -> None:
        """The kill switch: every request goes to the stable version at once."""

    async def drain(self) -> None:
        """Stop sending new work to the canary (in-flight requests finish)."""
