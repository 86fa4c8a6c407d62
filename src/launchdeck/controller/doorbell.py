"""A release's doorbell: how a release sleeping between ticks is woken early.

A release sleeps until the next moment the clock alone can change it (``core.deadlines``, the war
room's next message); `launchdeck run` at most a quarter second, for its live view. Whatever else can
change it rings its bell: new sign-offs (a worker's ``SignoffWatch``), a tenant's guard state
(``guardwatch.follow``), its worker stopping. A ring while the release is in the middle of a tick is
kept, and its next nap returns at once: input that arrives while a tick reads the old input is never
left waiting for the next deadline.

A nap is a future and a timer, as cheap as ``asyncio.sleep``: a worker's thousands of releases each nap
at every tick.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

_hung: dict[asyncio.AbstractEventLoop, set[Doorbell]] = {}
"""The bells of every release in its tick loop, by event loop, to ring them all at once."""


class Doorbell:
    __slots__ = ("_woken", "rung")

    def __init__(self) -> None:
        self.rung = False
        self._woken: asyncio.Future[None] | None = None

    def ring(self) -> None:
        """Wake the release now, or, in the middle of a tick, as soon as that tick ends."""
        self.rung = True
        if self._woken is not None and not self._woken.done():
            self._woken.set_result(None)

    async def nap(self, seconds: float) -> None:
        """Sleep ``seconds``, or until rung (at once when rung since the last nap)."""
        if self.rung or seconds <= 0:
            self.rung = False
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        self._woken = woken = loop.create_future()
        timer = loop.call_later(seconds, settle, woken)
        try:
            await woken
        finally:
            timer.cancel()
            self._woken = None
            self.rung = False


def settle(woken: asyncio.Future[None]) -> None:
    """Wake whoever awaits ``woken``, unless it was woken already (a timer's callback, a ring)."""
    if not woken.done():
        woken.set_result(None)


@contextmanager
def hung(bell: Doorbell) -> Iterator[None]:
    """While a release is in its tick loop: its bell rings with every ``ring_all`` of this event loop."""
    loop = asyncio.get_running_loop()
    bells = _hung.setdefault(loop, set())
    bells.add(bell)
    try:
        yield
    finally:
        bells.discard(bell)
        if not bells:
            _hung.pop(loop, None)


def ring_all() -> None:
    """Wake every release of this event loop (a tenant's guard state changed; the worker stops)."""
    for bell in list(_hung.get(asyncio.get_running_loop(), ())):
        bell.ring()
