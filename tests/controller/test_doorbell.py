"""A release's doorbell: a ring ends its nap, and a ring in the middle of a tick is not lost."""

from __future__ import annotations

import asyncio

from launchdeck.controller import doorbell
from launchdeck.controller.doorbell import Doorbell

HOUR = 3600.0


def test_a_ring_ends_a_nap() -> None:
    async def scenario() -> None:
        bell = Doorbell()
        napping = asyncio.create_task(bell.nap(HOUR))
        await asyncio.sleep(0)
        assert not napping.done()
        bell.ring()
        await asyncio.wait_for(napping, 60)
        assert not bell.rung

    asyncio.run(scenario())


def test_a_ring_between_naps_makes_the_next_nap_return_at_once() -> None:
    async def scenario() -> None:
        bell = Doorbell()
        bell.ring()  # while the release is in the middle of a tick
        await asyncio.wait_for(bell.nap(HOUR), 60)
        assert not bell.rung
        napping = asyncio.create_task(bell.nap(HOUR))  # the ring was used up: this one sleeps
        await asyncio.sleep(0)
        assert not napping.done()
        napping.cancel()

    asyncio.run(scenario())


def test_ring_all_rings_the_bells_hung_in_this_loop_only() -> None:
    async def scenario() -> None:
        hung, loose = Doorbell(), Doorbell()
        with doorbell.hung(hung):
            doorbell.ring_all()
        assert hung.rung and not loose.rung
        hung.rung = False
        doorbell.ring_all()  # taken down: no longer rung
        assert not hung.rung

    asyncio.run(scenario())


def test_a_nap_that_runs_out_returns_unrung() -> None:
    async def scenario() -> None:
        bell = Doorbell()
        await bell.nap(0.001)
        assert not bell.rung

    asyncio.run(scenario())
