"""The load generator keeps its arrival rate, and says so when it cannot send."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from aiohttp import web

from launchdeck.adapters.metrics.local import LocalMetrics
from launchdeck.errors import TargetError
from launchdeck.local.fleet import Fleet
from launchdeck.local.loadgen import LoadGenerator
from launchdeck.local.recorder import Recorder
from launchdeck.local.router import LocalRouter
from launchdeck.local.sample_app import Behaviour


async def until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Wait for ``condition`` on the event loop, failing after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.mark.integration
def test_two_seconds_at_200_rps_reach_the_recorder_as_about_400_requests() -> None:
    versions = {"stable": (Behaviour(0, 5, 15), ()), "canary": (Behaviour(0, 5, 15), ())}

    async def scenario() -> tuple[LoadGenerator, Recorder, float, int]:
        async with Fleet(versions, time_scale=1.0, seed=1) as fleet:
            recorder = Recorder()
            router = LocalRouter(fleet.url("stable"), fleet.url("canary"), recorder, seed=2)
            async with router:
                await router.set_weight(20)
                started = time.time()
                load = LoadGenerator(router.url + "/", rps=200, users=50, seed=3)
                await load.start()
                try:
                    await until(lambda: load.sent >= 400, 10, "400 requests sent")
                    elapsed = load.elapsed()
                finally:
                    await load.stop(grace_s=5)
                stats = [
                    await LocalMetrics(recorder).observe(v, started - 1, time.time() + 1)
                    for v in ("stable", "canary")
                ]
                assert abs(stats[1].share - 0.2) < 0.1
                return load, recorder, elapsed, sum(s.requests for s in stats)

    load, recorder, elapsed, windowed = asyncio.run(scenario())

    assert 1.5 <= elapsed <= 2.7, f"400 Poisson arrivals at 200 rps took {elapsed:.2f} s"
    assert (load.dropped, load.failed, load.in_flight) == (0, 0, 0)
    assert load.completed == load.sent
    assert set(load.statuses) == {200}
    assert recorder.totals("stable")[0] + recorder.totals("canary")[0] == load.completed
    assert windowed == load.completed


def test_arrivals_beyond_max_in_flight_are_counted_as_dropped() -> None:
    release = asyncio.Event()

    async def stuck(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="late")

    async def scenario() -> LoadGenerator:
        app = web.Application()
        app.router.add_get("/", stuck)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
            load = LoadGenerator(url, rps=500, users=3, seed=4, max_in_flight=5)
            async with load:
                await until(lambda: load.dropped >= 10, 10, "arrivals to be dropped")
            return load
        finally:
            release.set()
            await runner.cleanup()

    load = asyncio.run(scenario())

    assert load.sent == 5
    assert load.completed == 0
    assert load.in_flight == 0


@pytest.mark.parametrize(("rps", "users", "max_in_flight"), [(0, 1, 1), (10, 0, 1), (1, 1, 0)])
def test_a_load_generator_needs_a_positive_rate_users_and_room(
    rps: float, users: int, max_in_flight: int
) -> None:
    with pytest.raises(TargetError):
        LoadGenerator("http://127.0.0.1:1/", rps=rps, users=users, max_in_flight=max_in_flight)
