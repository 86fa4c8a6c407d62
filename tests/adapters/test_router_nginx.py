"""The nginx router against a real nginx: the include is written, tested, reloaded and confirmed
by what nginx serves; a config nginx rejects leaves the previous one in place and serving."""

from __future__ import annotations

import asyncio
import math
import socket
from collections import Counter
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from launchdeck.adapters.routers.nginx import NginxRouter, weights_for
from launchdeck.errors import TargetError, WeightNotApplied
from launchdeck.stacks import NginxStack, missing_programs
from launchdeck.stacks._process import FAST_VERSIONS

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(missing_programs(["nginx"])), reason="nginx is not installed"),
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


def router_like(stack: NginxStack, **changes: Any) -> NginxRouter:
    """Another router on the same include, nginx and pid file, with some settings changed."""
    r = stack.router
    options: dict[str, Any] = {
        "include_path": str(r.include_path), "upstream": r.upstream, "servers": dict(r.servers),
        "nginx_bin": r.nginx_bin, "conf": r.conf, "prefix": r.prefix, "pid_file": r.pid_file,
        "extra_args": r.extra_args,
    }
    options.update(changes)
    return NginxRouter(**options)


def test_weights_are_written_reloaded_served_and_seen_in_traffic() -> None:
    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with NginxStack() as stack:
            router = stack.router
            assert router.type == "nginx"
            out["start"] = await router.current_weight()
            await router.set_weight(25)
            out["file"] = Path(stack.include_path).read_text()
            out["weight"] = await router.current_weight()
            out["traffic"] = await served_by(stack.url, 400)
            # current_weight reports what nginx serves, not what the file says
            Path(stack.include_path).write_text(out["file"].replace("weight=25", "weight=90"))
            out["unreloaded"] = await router.current_weight()
            # without a pid file the router reloads with `nginx -s reload`
            await router_like(stack, pid_file=None).set_weight(50)
            out["via -s reload"] = await router.current_weight(), await served_by(stack.url, 100)
        return out

    out = run(scenario)
    assert out["start"] == 0
    assert "server 127.0.0.1:" in out["file"]
    assert "weight=75;  # stable" in out["file"] and "weight=25;  # canary" in out["file"]
    assert out["weight"] == 25
    assert sum(out["traffic"].values()) == 400
    assert near(out["traffic"]["canary"], 400, 0.25), out["traffic"]
    assert out["unreloaded"] == 25
    weight, traffic = out["via -s reload"]
    assert weight == 50 and near(traffic["canary"], 100, 0.5)


def test_weight_zero_writes_canary_down_and_no_request_reaches_it() -> None:
    async def scenario() -> tuple[Counter[str], str, float, Counter[str], str, Counter[str]]:
        async with NginxStack() as stack:
            router = stack.router
            await router.set_weight(60)
            before = await served_by(stack.url, 100)
            await router.set_weight(0)
            file = Path(stack.include_path).read_text()
            zero = await served_by(stack.url, 300)
            await router.set_weight(100)
            full_file = Path(stack.include_path).read_text()
            full = await served_by(stack.url, 100)
            await router.kill()
            killed = await router.current_weight()
            return before, file, killed, zero, full_file, full

    before, file, killed, zero, full_file, full = run(scenario)
    assert near(before["canary"], 100, 0.6)
    assert "weight=1 down;  # canary" in file and "weight=100;  # stable" in file
    assert zero == Counter(stable=300)
    assert "weight=1 down;  # stable" in full_file
    assert full == Counter(canary=100)
    assert killed == 0


def test_a_same_age_baseline_is_a_third_server_of_the_upstream_read_back_with_the_others() -> None:
    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with NginxStack({**FAST_VERSIONS, "baseline": FAST_VERSIONS["stable"]}) as stack:
            router = stack.router
            await router.set_weight(20, 20)
            out["file"], out["split"] = Path(stack.include_path).read_text(), await router.current_split()
            out["traffic"] = await served_by(stack.url, 500)
            await router.set_weight(0)
            out["rolled back"] = Path(stack.include_path).read_text(), await router.current_split()
        return out

    out = run(scenario)
    assert "weight=60;  # stable" in out["file"] and "weight=20;  # baseline" in out["file"]
    assert str(out["split"]) == "canary 20%, baseline 20%"
    for version, share in (("canary", 0.2), ("baseline", 0.2), ("stable", 0.6)):
        assert near(out["traffic"][version], 500, share), out["traffic"]
    file, split = out["rolled back"]
    assert "weight=1 down;  # baseline" in file and str(split) == "canary 0%"


def test_a_config_nginx_rejects_is_a_target_error_and_the_previous_one_keeps_serving() -> None:
    async def scenario() -> tuple[TargetError, str, str, float, Counter[str]]:
        async with NginxStack() as stack:
            await stack.router.set_weight(30)
            before = Path(stack.include_path).read_text()
            bad = router_like(stack, servers={"stable": stack.router.servers["stable"],
                                              "canary": "127.0.0.1:99999"})  # no such port
            with pytest.raises(TargetError) as caught:
                await bad.set_weight(50)
            after = Path(stack.include_path).read_text()
            return (caught.value, before, after, await stack.router.current_weight(),
                    await served_by(stack.url, 200))

    error, before, after, weight, traffic = run(scenario)
    assert not isinstance(error, WeightNotApplied)
    assert "invalid port" in error.message and "99999" in error.message
    assert "previous" in error.message and error.hint
    assert after == before
    assert weight == 30
    assert near(traffic["canary"], 200, 0.3)


def test_a_reload_nginx_refuses_at_run_time_is_weight_not_applied_and_rolled_back() -> None:
    async def scenario() -> tuple[WeightNotApplied, str, str, float, float]:
        async with NginxStack() as stack:
            await stack.router.set_weight(20)
            before = Path(stack.include_path).read_text()
            with socket.socket() as blocker:  # `nginx -t` passes, the master cannot bind it
                blocker.bind(("127.0.0.1", 0))
                blocker.listen()
                port = blocker.getsockname()[1]
                bad = router_like(stack, status_listen=f"127.0.0.1:{port}", timeout_s=1.0)
                with pytest.raises(WeightNotApplied) as caught:
                    await bad.set_weight(70)
                after = Path(stack.include_path).read_text()
                served = await stack.router.current_weight()
            await stack.router.set_weight(40)  # nginx recovers once the include is sound
            return caught.value, before, after, served, await stack.router.current_weight()

    error, before, after, served, recovered = run(scenario)
    assert "did not start serving" in error.message and "error log" in error.hint
    assert after == before
    assert served == 20
    assert recovered == 40


def test_a_stopped_nginx_is_a_target_error_and_the_include_is_left_as_it_was() -> None:
    async def scenario() -> tuple[TargetError, TargetError, str, str]:
        async with NginxStack() as stack:
            await stack.router.set_weight(10)
            before = Path(stack.include_path).read_text()
            await stack.stop_program()
            with pytest.raises(TargetError) as read:
                await stack.router.current_weight()
            with pytest.raises(TargetError) as write:
                await stack.router.set_weight(50)
            return read.value, write.value, before, Path(stack.include_path).read_text()

    read, write, before, after = run(scenario)
    assert "cannot read the weights nginx serves" in read.message and read.hint
    assert "reload" in write.message or "not running" in write.message
    assert after == before


def test_weights_scale_to_integers_and_bad_arguments_are_refused(tmp_path: Path) -> None:
    assert weights_for(25) == (25, 75)
    assert weights_for(0) == (0, 100)
    assert weights_for(33.3) == (33, 67)
    servers = {"stable": "127.0.0.1:1", "canary": "127.0.0.1:2"}
    router = NginxRouter(str(tmp_path / "up.conf"), "api", servers, conf=str(tmp_path / "n.conf"))
    assert router.status_listen == f"unix:{tmp_path / 'up.conf'}.sock"
    for bad in (-1, 101, float("nan")):
        with pytest.raises(TargetError, match="between 0 and 100"):
            run(lambda bad=bad: router.set_weight(bad))
    with pytest.raises(TargetError, match="not a usable nginx server address"):
        NginxRouter("/x.conf", "api", {"stable": "a b", "canary": "c"}, conf="/n.conf")
    with pytest.raises(TargetError, match="servers.stable and servers.canary"):
        NginxRouter("/x.conf", "api", {"canary": "c"}, conf="/n.conf")
    with pytest.raises(TargetError, match="no baseline"):
        run(lambda: router.set_weight(5, 5))
    missing = NginxRouter(str(tmp_path / "up.conf"), "api", servers, conf=str(tmp_path / "n.conf"),
                          nginx_bin=str(tmp_path / "no-nginx"))
    with pytest.raises(TargetError, match="apt-get install nginx"):
        run(lambda: missing.set_weight(10))
    assert not (tmp_path / "up.conf").exists()  # restored: there was no file before
