"""The local metrics source's event counts, read from real sample apps' /metrics on loopback: each
occurrence is counted in exactly one slice, the stable version reports none, and an app that does not
answer is no data (None), never zero."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from launchdeck.adapters.metrics.local import AppEvents
from launchdeck.local.fleet import Fleet
from launchdeck.local.sample_app import Behaviour, Fault

EVENT = "cross_tenant_denied"
#: 100 events reported over the canary's first plan second (time scale 1), then none.
BURST = Fault(0.0, 1.0, events=((EVENT, 100.0),))

pytestmark = pytest.mark.integration


def test_events_are_counted_once_each_across_consecutive_slices() -> None:
    async def main() -> None:
        fast = Behaviour(0.0, 1.0, 2.0)
        async with Fleet({"stable": (fast, ()), "canary": (fast, (BURST,))}, time_scale=1.0) as fleet:
            events = AppEvents({v: fleet.url(v) for v in ("stable", "canary")})
            async with httpx.AsyncClient() as client:  # the apps' plan clocks start at their first request
                for version in ("stable", "canary"):
                    assert (await client.get(fleet.url(version) + "/work")).status_code == 200
            start = time.time() - 5.0
            slices, edge, deadline = [], start, time.monotonic() + 20.0
            while sum(slices) < 100:
                assert time.monotonic() < deadline, f"only {sum(slices)} events counted: {slices}"
                await asyncio.sleep(0.05)
                end = time.time()
                slices.append((await events.count("canary", [EVENT], edge, end))[EVENT])
                edge = end
            assert sum(slices) == 100 and len(slices) > 1
            assert (await events.count("canary", [EVENT], edge, time.time()))[EVENT] == 0  # the burst is over
            assert (await events.count("stable", [EVENT], start, time.time()))[EVENT] == 0

    asyncio.run(main())


def test_an_app_that_does_not_answer_is_no_data() -> None:
    async def main() -> None:
        events = AppEvents({"canary": "http://127.0.0.1:9"}, timeout_s=0.5)
        assert await events.count("canary", [EVENT], 0.0, time.time()) == {EVENT: None}

    asyncio.run(main())
