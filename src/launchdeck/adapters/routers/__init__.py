"""Traffic routers: where the canary's share of traffic is set and read back.

Every router implements :class:`Router`; :func:`launchdeck.adapters.routers.factory.build` picks one
from ``target.router.type``.
"""

from __future__ import annotations

from typing import Protocol


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
