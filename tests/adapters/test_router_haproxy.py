"""The HAProxy router against a real HAProxy: weights through the admin socket, read back,
observed in real traffic through the frontend; weights that did not take; a socket that is gone."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import aiohttp
import pytest

from launchdeck.adapters.routers.haproxy import HAProxyRouter
from launchdeck.errors import TargetError, WeightNotApplied
from launchdeck.stacks import HAProxyStack, missing_programs
from launchdeck.stacks._process import FAST_VERSIONS

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(missing_programs(["haproxy"])), reason="haproxy is not installed"),
]
T = TypeVar("T")


def run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(scenario())


async def served_by(url: str, n: int) -> Counter[str]:
    """Send ``n`` requests to ``url``; how many each version served (from the body, "ok <v>")."""
    gate = asyncio.Semaphore(16)
    async with aiohttp.ClientSession() as session:

        async def one() -> str:
            async with gate, session.get(url + "/") as response:
                body = await response.text()
                assert response.status == 200, body
                assert body.startswith("ok "), body
                return body.removeprefix("ok ")

        return Counter(await asyncio.gather(*(one() for _ in range(n))))


def near(count: int, n: int, p: float) -> bool:
    return abs(count - n * p) <= 4.5 * math.sqrt(n * p * (1 - p))


def test_twenty_five_percent_is_64_of_256_and_a_quarter_of_real_requests() -> None:
    async def scenario() -> tuple[str, str, float, Counter[str]]:
        async with HAProxyStack() as stack:
            router = stack.router
            assert router.type == "haproxy"
            await router.set_weight(25)
            canary = await router.command("get weight api/canary")
            stable = await router.command("get weight api/stable")
            return canary, stable, await router.current_weight(), await served_by(stack.url, 400)

    canary, stable, weight, seen = run(scenario)
    assert canary.split()[0] == "64" and stable.split()[0] == "192"
    assert weight == 25
    assert seen["canary"] + seen["stable"] == 400
    assert near(seen["canary"], 400, 0.25), seen


def test_a_same_age_baseline_is_a_third_server_read_back_with_the_others_and_killed_with_the_canary() -> None:
    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with HAProxyStack({**FAST_VERSIONS, "baseline": FAST_VERSIONS["stable"]}) as stack:
            router = stack.router
            await router.set_weight(20, 20)
            states = await router.server_states()
            out["weights"] = {role: state.weight for role, state in states.items()}
            out["split"], out["traffic"] = await router.current_split(), await served_by(stack.url, 500)
            await router.command("set server api/baseline weight 0")
            out["changed"] = await router.current_split()
            await router.kill()
            states = await router.server_states()
            out["killed"] = await router.current_split(), states["baseline"].maint, await served_by(stack.url, 50)
        return out

    out = run(scenario)
    assert out["weights"] == {"stable": 154, "canary": 51, "baseline": 51}
    assert str(out["split"]) == "canary 20%, baseline 20%"
    for version, share in (("canary", 0.2), ("baseline", 0.2), ("stable", 0.6)):
        assert near(out["traffic"][version], 500, share), out["traffic"]
    assert out["changed"].baseline == 0 and out["changed"].canary == pytest.approx(100 * 51 / 205)
    split, maint, traffic = out["killed"]
    assert str(split) == "canary 0%" and maint and traffic == Counter(stable=50)


def test_weight_zero_kill_and_drain_send_nothing_to_canary_and_are_reversible() -> None:
    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with HAProxyStack() as stack:
            router = stack.router
            await router.set_weight(50)
            out["at 50"] = await served_by(stack.url, 100)
            await router.set_weight(0)
            out["at 0"] = await served_by(stack.url, 200), await router.current_weight()
            await router.set_weight(100)
            await router.kill()
            states = await router.server_states()
            out["killed"] = await served_by(stack.url, 200), await router.current_weight()
            out["killed state"] = states["canary"].maint, states["canary"].weight
            await router.set_weight(40)
            out["after kill"] = await router.current_weight(), await served_by(stack.url, 100)
            await router.drain()
            out["drained"] = await served_by(stack.url, 200), await router.current_weight()
            await router.set_weight(0)  # what a rollback ends with: a verified 0 while drained
            out["drained then 0"] = await router.current_weight()
            await router.set_weight(30)
            out["after drain"] = (await router.server_states())["canary"].draining
        return out

    out = run(scenario)
    assert near(out["at 50"]["canary"], 100, 0.5)
    assert out["at 0"] == (Counter(stable=200), 0.0)
    assert out["killed"] == (Counter(stable=200), 0.0)
    assert out["killed state"] == (True, 0)
    weight, traffic = out["after kill"]
    assert weight == 40 and traffic["canary"] > 0
    assert out["drained"] == (Counter(stable=200), 0.0)
    assert out["drained then 0"] == 0.0
    assert out["after drain"] is False


def test_a_weight_changed_behind_the_routers_back_is_reported_as_it_is() -> None:
    async def scenario() -> tuple[float, str, float]:
        async with HAProxyStack() as stack:
            router = stack.router
            await router.set_weight(25)
            before = await router.current_weight()
            reply = await router.command("set server api/canary weight 128")
            return before, reply, await router.current_weight()

    before, reply, after = run(scenario)
    assert before == 25 and not reply.strip()
    assert after == pytest.approx(100 * 128 / (128 + 192))  # 40 %: not what was set


class LosesStableCommands(HAProxyRouter):
    """A router whose ``set ... stable weight`` commands never reach HAProxy (a test hook)."""

    async def _command(self, command: str) -> str:
        if command.startswith("set server api/stable weight"):
            return ""
        return await super()._command(command)


def test_set_weight_raises_weight_not_applied_when_haproxy_reports_other_weights() -> None:
    async def scenario() -> tuple[WeightNotApplied, float]:
        async with HAProxyStack() as stack:
            lossy = LosesStableCommands(stack.socket, "api", {"stable": "stable", "canary": "canary"})
            with pytest.raises(WeightNotApplied) as caught:
                await lossy.set_weight(25)
            return caught.value, await stack.router.current_weight()

    error, weight = run(scenario)
    assert "api/stable=256" in error.message and "api/canary=64" in error.message
    assert error.hint
    assert weight == pytest.approx(100 * 64 / (64 + 256))


def test_weights_are_lost_on_restart_reported_as_configured_and_reapplied() -> None:
    async def scenario() -> tuple[float, float, str, float]:
        async with HAProxyStack() as stack:
            router = stack.router
            await router.set_weight(25)
            before = await router.current_weight()
            await stack.restart_program()
            after_restart = await router.current_weight()
            weight = await router.command("get weight api/canary")
            await router.set_weight(25)
            return before, after_restart, weight, await router.current_weight()

    before, after_restart, weight, reapplied = run(scenario)
    assert before == 25
    assert after_restart == 0  # the configuration's weights: stable 256, canary 0
    assert weight.strip() == "0 (initial 0)"
    assert reapplied == 25


def test_a_socket_that_is_gone_or_wrong_names_raise_target_error() -> None:
    async def scenario() -> dict[str, TargetError]:
        errors: dict[str, TargetError] = {}
        async with HAProxyStack() as stack:
            wrong_server = HAProxyRouter(stack.socket, "api", {"stable": "stable", "canary": "v2"})
            wrong_backend = HAProxyRouter(stack.socket, "web", {"stable": "stable", "canary": "canary"})
            for name, call in (("server", wrong_server.set_weight(10)),
                               ("backend", wrong_backend.current_weight())):
                with pytest.raises(TargetError) as caught:
                    await call
                errors[name] = caught.value
            await stack.stop_program()
            for name, call in (("stopped", stack.router.current_weight()),
                               ("stopped set", stack.router.set_weight(10))):
                with pytest.raises(TargetError) as caught:
                    await call
                errors[name] = caught.value
            missing = HAProxyRouter(str(stack.workdir / "nope.sock"), "api",
                                    {"stable": "stable", "canary": "canary"})
            with pytest.raises(TargetError) as caught:
                await missing.kill()
            errors["missing"] = caught.value
        return errors

    errors = run(scenario)
    assert "no server 'v2'" in errors["server"].message
    assert "backend 'web'" in errors["backend"].message
    for name in ("stopped", "stopped set", "missing"):
        error = errors[name]
        assert not isinstance(error, WeightNotApplied)
        assert "admin socket" in error.message and ".sock" in error.message
        assert "stats socket" in error.hint and "level admin" in error.hint
    assert "does not exist" in errors["missing"].message


def test_out_of_range_weights_and_bad_arguments_are_refused() -> None:
    router = HAProxyRouter("/nonexistent.sock", "api", {"stable": "a", "canary": "b"})
    assert router.weights_for(25) == (64, 192)
    assert router.weights_for(100) == (256, 0)
    for bad in (-1, 100.5, float("nan")):
        with pytest.raises(TargetError, match="between 0 and 100"):
            run(lambda bad=bad: router.set_weight(bad))
    with pytest.raises(TargetError, match="servers.stable and servers.canary"):
        HAProxyRouter("/x.sock", "api", {"stable": "a"})
    with pytest.raises(TargetError, match="same server twice"):
        HAProxyRouter("/x.sock", "api", {"stable": "a", "canary": "b", "baseline": "a"})
    with pytest.raises(TargetError, match="no baseline"):
        run(lambda: router.set_weight(5, 5))
    with pytest.raises(TargetError, match="scale"):
        HAProxyRouter("/x.sock", "api", {"stable": "a", "canary": "b"}, scale=300)
