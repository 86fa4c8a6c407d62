"""The local router splits traffic by weight (or sticky by user), obeys the kill switch, records."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from launchdeck.errors import TargetError
from launchdeck.local.fleet import free_port
from launchdeck.local.recorder import Recorder
from launchdeck.local.router import LocalRouter
from launchdeck.local.sample_app import Behaviour, SampleService

INSTANT = Behaviour(0.0, 0.0, 0.0)
T = TypeVar("T")


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def routed(*, by_user: bool = False, flag: str = "f") -> AsyncIterator[LocalRouter]:
    """A started router in front of in-process stable and canary sample apps."""
    async with (
        serving(SampleService("stable", INSTANT).app()) as stable,
        serving(SampleService("canary", INSTANT).app()) as canary,
        LocalRouter(stable, canary, Recorder(), seed=5, by_user=by_user, flag=flag) as router,
    ):
        yield router


async def served_by(
    router: LocalRouter, n: int, user: Callable[[int], str] | None = None
) -> list[str]:
    """Send ``n`` requests through the router; which version served each, in order."""
    gate = asyncio.Semaphore(20)
    async with aiohttp.ClientSession() as session:

        async def one(i: int) -> str:
            headers = {"X-User-Id": user(i)} if user else {}
            async with gate, session.get(router.url + "/", headers=headers) as response:
                body = await response.text()
                variant = response.headers["X-Served-By"]
                assert response.status != 200 or body == f"ok {variant}"
                return variant

        return await asyncio.gather(*(one(i) for i in range(n)))


def run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(scenario())


def test_weight_zero_sends_everything_to_stable() -> None:
    async def scenario() -> tuple[list[str], tuple[int, int]]:
        async with routed() as router:
            await router.set_weight(0)
            return await served_by(router, 100), router.recorder.totals("stable")

    variants, totals = run(scenario)
    assert set(variants) == {"stable"}
    assert totals == (100, 0)


def test_weight_hundred_sends_everything_to_canary() -> None:
    async def scenario() -> list[str]:
        async with routed() as router:
            await router.set_weight(100)
            assert await router.current_weight() == 100
            return await served_by(router, 100)

    assert set(run(scenario)) == {"canary"}


def test_weight_thirty_sends_about_thirty_percent_to_canary() -> None:
    async def scenario() -> list[str]:
        async with routed() as router:
            await router.set_weight(30)
            return await served_by(router, 600)

    canary = run(scenario).count("canary")
    assert abs(canary - 180) <= 4.5 * math.sqrt(600 * 0.3 * 0.7)


def test_by_user_a_canary_user_stays_on_canary_as_the_weight_grows() -> None:
    def user(i: int) -> str:
        return f"u{i % 400}"

    async def scenario() -> tuple[str, list[str], list[str], list[str]]:
        async with routed(by_user=True, flag="new-checkout") as router:
            await router.set_weight(10)
            at_10 = await served_by(router, 800, user)  # every user twice
            await router.set_weight(50)
            at_50 = await served_by(router, 400, user)
            anonymous = await served_by(router, 20)
            return router.type, at_10, at_50, anonymous

    kind, at_10, at_50, anonymous = run(scenario)
    assert kind == "flag"
    assert at_10[:400] == at_10[400:], "a user switched variant at a fixed weight"
    canary_10 = {i for i, v in enumerate(at_10[:400]) if v == "canary"}
    canary_50 = {i for i, v in enumerate(at_50) if v == "canary"}
    assert canary_10 <= canary_50
    assert abs(len(canary_10) - 40) <= 4.5 * math.sqrt(400 * 0.1 * 0.9)
    assert abs(len(canary_50) - 200) <= 4.5 * math.sqrt(400 * 0.5 * 0.5)
    assert set(anonymous) == {"stable"}


def test_kill_sends_the_very_next_requests_to_stable_and_stays_killed() -> None:
    async def scenario() -> tuple[list[str], list[str], float]:
        async with routed() as router:
            await router.set_weight(100)
            before = await served_by(router, 20)
            await router.kill()
            after = await served_by(router, 50)
            with pytest.raises(TargetError, match="kill switch"):
                await router.set_weight(10)
            return before, after, await router.current_weight()

    before, after, weight = run(scenario)
    assert set(before) == {"canary"}
    assert set(after) == {"stable"}
    assert weight == 0


def test_drain_stops_new_canary_requests_until_a_weight_is_set_again() -> None:
    async def scenario() -> tuple[list[str], float, list[str]]:
        async with routed() as router:
            await router.set_weight(100)
            await router.drain()
            drained = await served_by(router, 30)
            weight = await router.current_weight()
            await router.set_weight(100)
            return drained, weight, await served_by(router, 10)

    drained, weight, resumed = run(scenario)
    assert set(drained) == {"stable"}
    assert weight == 0
    assert set(resumed) == {"canary"}


@pytest.mark.parametrize("weight", [-1, 100.5, float("nan"), float("inf")])
def test_a_weight_outside_zero_to_hundred_is_refused(weight: float) -> None:
    async def scenario() -> float:
        router = LocalRouter("http://127.0.0.1:1", "http://127.0.0.1:2", Recorder())
        await router.set_weight(20)
        with pytest.raises(TargetError, match="between 0 and 100"):
            await router.set_weight(weight)
        return await router.current_weight()

    assert run(scenario) == 20


def test_an_unreachable_upstream_counts_as_a_502_for_its_version() -> None:
    async def scenario() -> tuple[list[int], tuple[int, int]]:
        async with serving(SampleService("stable", INSTANT).app()) as stable:
            dead = f"http://127.0.0.1:{free_port()}"
            async with LocalRouter(stable, dead, Recorder()) as router:
                await router.set_weight(100)
                async with aiohttp.ClientSession() as session:
                    statuses = []
                    for _ in range(5):
                        async with session.get(router.url + "/") as response:
                            statuses.append(response.status)
                            assert response.headers["X-Served-By"] == "canary"
                return statuses, router.recorder.totals("canary")

    statuses, totals = run(scenario)
    assert statuses == [502] * 5
    assert totals == (5, 5)


def test_the_proxy_forwards_method_path_query_headers_and_body() -> None:
    async def echo(request: web.Request) -> web.Response:
        body = await request.text()
        text = f"{request.method} {request.raw_path} {request.headers.get('X-Trace')} {body}"
        return web.Response(status=201, text=text, headers={"X-Upstream": "yes"})

    async def scenario() -> tuple[int, str, str | None]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", echo)
        async with serving(app) as upstream, LocalRouter(upstream, upstream, Recorder()) as router:
            async with aiohttp.ClientSession() as session:
                url = URL(router.url + "/api/orders?id=7&x=%2F", encoded=True)
                async with session.post(url, data="hello", headers={"X-Trace": "t1"}) as response:
                    text = await response.text()
                    return response.status, text, response.headers.get("X-Upstream")

    assert run(scenario) == (201, "POST /api/orders?id=7&x=%2F t1 hello", "yes")


def test_the_admin_api_sets_reads_and_kills_the_weight() -> None:
    async def main() -> None:
        async with (
            serving(SampleService("stable", INSTANT).app()) as stable,
            serving(SampleService("canary", INSTANT).app()) as canary,
            LocalRouter(stable, canary, Recorder(), admin=True) as router,
            aiohttp.ClientSession() as client,
        ):
            async with client.put(router.admin_url + "/weight", data="25") as r:
                assert r.status == 200 and (await r.text()).strip() == "25"
            assert await router.current_weight() == 25
            async with client.put(router.admin_url + "/weight", data="a lot") as r:
                assert r.status == 400
            async with client.post(router.admin_url + "/kill") as r:
                assert r.status == 200
            async with client.put(router.admin_url + "/weight", data="10") as r:
                assert r.status == 409 and "kill switch" in await r.text()
            async with client.get(router.admin_url + "/weight") as r:
                assert (await r.text()).strip() == "0"

    asyncio.run(main())


@asynccontextmanager
async def routed_with_baseline(*, by_user: bool = False, retired: list[str] | None = None,
                               ) -> AsyncIterator[LocalRouter]:
    """A router in front of stable, canary and a same-age baseline; ``retired`` records the retirement."""
    async def retire() -> None:
        if retired is not None:
            retired.append("baseline")

    async with (
        serving(SampleService("stable", INSTANT).app()) as stable,
        serving(SampleService("canary", INSTANT).app()) as canary,
        serving(SampleService("baseline", INSTANT).app()) as baseline,
        LocalRouter(stable, canary, Recorder(), seed=5, by_user=by_user, baseline_url=baseline,
                    retire=retire) as router,
    ):
        yield router


def test_a_same_age_baseline_gets_its_own_share_taken_from_stable() -> None:
    async def scenario() -> tuple[list[str], object]:
        async with routed_with_baseline() as router:
            await router.set_weight(20, 20)
            return await served_by(router, 400), await router.current_split()

    variants, split = run(scenario)
    assert str(split) == "canary 20%, baseline 20%"
    for variant, share in (("canary", 0.2), ("baseline", 0.2), ("stable", 0.6)):
        assert abs(variants.count(variant) - 400 * share) <= 4.5 * math.sqrt(400 * share * (1 - share)), variant


def test_by_user_the_canary_and_the_baseline_keep_their_users_as_both_grow() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        async with routed_with_baseline(by_user=True) as router:
            await router.set_weight(10, 10)
            before = await served_by(router, 300, user=lambda i: f"user-{i}")
            await router.set_weight(40, 40)
            return before, await served_by(router, 300, user=lambda i: f"user-{i}")

    before, after = run(scenario)
    assert {"canary", "baseline", "stable"} == set(before)
    assert all(a == v for v, a in zip(before, after) if v in ("canary", "baseline"))


def test_the_baseline_retires_at_promotion_and_is_never_sent_traffic_again() -> None:
    retired: list[str] = []

    async def scenario() -> list[str]:
        async with routed_with_baseline(retired=retired) as router:
            await router.set_weight(5, 5)
            await router.set_weight(50, 50)
            assert retired == []
            await router.set_weight(100)
            await router.wait_retired()
            assert router.baseline_retired and retired == ["baseline"]
            with pytest.raises(TargetError, match="baseline was stopped"):
                await router.set_weight(10, 10)
            return await served_by(router, 20)

    assert set(run(scenario)) == {"canary"}


def test_the_kill_switch_sends_the_baselines_share_back_to_stable_too() -> None:
    retired: list[str] = []

    async def scenario() -> tuple[object, list[str]]:
        async with routed_with_baseline(retired=retired) as router:
            await router.set_weight(10, 10)
            await router.kill()
            return await router.current_split(), await served_by(router, 30)

    split, variants = run(scenario)
    assert str(split) == "canary 0%" and set(variants) == {"stable"} and retired == ["baseline"]


def test_weights_that_do_not_fit_in_all_the_traffic_are_refused() -> None:
    async def scenario() -> None:
        async with routed_with_baseline() as router:
            with pytest.raises(TargetError, match="more than all the traffic"):
                await router.set_weight(60, 60)
        async with routed() as router:
            with pytest.raises(TargetError, match="no baseline"):
                await router.set_weight(5, 5)

    run(scenario)
