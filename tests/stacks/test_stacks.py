"""Real-process stacks: HAProxy / nginx in front of two sample apps start, serve, and leave
nothing behind; a program that is not installed is a clear TargetError."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from launchdeck.errors import TargetError
from launchdeck.stacks import (
    HAProxyStack,
    NginxStack,
    find_program,
    has_prometheus_exporter,
    missing_programs,
    open_stack,
)

T = TypeVar("T")
NO_HAPROXY = bool(missing_programs(["haproxy"]))
NO_NGINX = bool(missing_programs(["nginx"]))


def run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(scenario())


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_missing_programs_lists_only_what_is_not_installed() -> None:
    absent = "launchdeck-no-such-program-1f3a"
    assert missing_programs([absent]) == [absent]
    assert find_program(absent) is None
    assert missing_programs([]) == []
    present = [name for name in ("haproxy", "nginx") if find_program(name)]
    assert missing_programs([*present, absent]) == [absent]


def test_a_stack_whose_program_is_not_installed_says_how_to_install_it() -> None:
    for kind in ("haproxy", "nginx"):
        stack = open_stack(kind, binary="launchdeck-no-such-program-1f3a")
        with pytest.raises(TargetError) as caught:
            run(stack.start)
        assert kind in caught.value.message
        assert caught.value.hint.startswith(f"apt-get install {kind}")
        assert stack.fleet is None and stack.workdir is None
    with pytest.raises(TargetError, match="no stack named"):
        open_stack("traefik")


@pytest.mark.integration
@pytest.mark.skipif(NO_HAPROXY, reason="haproxy is not installed")
def test_haproxy_stack_serves_stable_exports_metrics_and_stops_everything() -> None:
    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with HAProxyStack() as stack:
            out["front"] = await get(stack.url + "/")
            out["stable"] = await get(stack.stable_url + "/")
            out["canary"] = await get(stack.canary_url + "/")
            out["config"] = Path(stack.config_path).read_text()
            out["weight"] = await stack.router.current_weight()
            if stack.metrics_url:
                out["metrics"] = await get(stack.metrics_url)
            assert stack.process is not None and stack.fleet is not None
            out["pids"] = [stack.process.pid, *stack.fleet.pids.values()]
            out["workdir"] = stack.workdir
        return out

    out = run(scenario)
    assert out["front"] == (200, "ok stable")
    assert out["stable"] == (200, "ok stable") and out["canary"] == (200, "ok canary")
    assert "level admin" in out["config"] and "127.0.0.1:" in out["config"]
    assert "server canary 127.0.0.1:" in out["config"] and "weight 0" in out["config"]
    assert out["weight"] == 0
    if has_prometheus_exporter(find_program("haproxy") or "haproxy"):
        status, text = out["metrics"]
        assert status == 200 and 'haproxy_server_uweight{proxy="api",server="canary"} 0' in text
    assert not any(alive(pid) for pid in out["pids"])
    assert not out["workdir"].exists()


@pytest.mark.integration
@pytest.mark.skipif(NO_NGINX, reason="nginx is not installed")
def test_nginx_stack_serves_stable_and_stops_master_workers_and_apps() -> None:
    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with NginxStack(worker_processes=2) as stack:
            out["front"] = await get(stack.url + "/")
            out["canary"] = await get(stack.canary_url + "/")
            out["served"] = await stack.router.served()
            assert stack.process is not None and stack.fleet is not None
            master = stack.process.pid
            assert master is not None
            out["pids"] = [master, *children(master), *stack.fleet.pids.values()]
            out["workdir"] = stack.workdir
            out["pidfile"] = Path(stack.pid_file).read_text().strip() == str(master)
        return out

    out = run(scenario)
    assert out["front"] == (200, "ok stable")
    assert out["canary"] == (200, "ok canary")
    assert out["served"]["upstream"] == "api" and out["served"]["canary"] == 0
    assert out["pidfile"]
    assert len(out["pids"]) >= 5  # master, 2 workers, 2 sample apps
    assert not any(alive(pid) for pid in out["pids"])
    assert not out["workdir"].exists()


@pytest.mark.integration
@pytest.mark.skipif(NO_HAPROXY or NO_NGINX, reason="haproxy or nginx is not installed")
def test_both_stacks_run_side_by_side_on_their_own_ports() -> None:
    async def scenario() -> tuple[set[str], str, str]:
        async with HAProxyStack() as haproxy, NginxStack() as nginx:
            await haproxy.router.set_weight(100)
            await nginx.router.set_weight(100)
            bodies = {(await get(haproxy.url + "/"))[1], (await get(nginx.url + "/"))[1]}
            return bodies, haproxy.url, nginx.url

    bodies, a, b = run(scenario)
    assert bodies == {"ok canary"}
    assert a != b
