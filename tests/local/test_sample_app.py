"""The sample app behaves as configured, exposes its metrics, and the fleet runs it as processes."""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import subprocess
import sys
import time

import aiohttp
import pytest

from launchdeck.errors import TargetError
from launchdeck.local.fleet import Fleet
from launchdeck.local.sample_app import (Behaviour, Fault, SampleService, faults_from_json, faults_to_json,
                                         warmup_factor)


async def hit(url: str, n: int, *, concurrency: int = 20) -> list[tuple[int, float]]:
    """``n`` GETs of ``url``, at most ``concurrency`` at once: (status, latency ms) each."""
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def one() -> tuple[int, float]:
            async with gate:
                started = time.perf_counter()
                async with session.get(url) as response:
                    await response.read()
                    return response.status, (time.perf_counter() - started) * 1000

        return await asyncio.gather(*(one() for _ in range(n)))


def binomial_bound(n: int, p: float, sigmas: float = 4.5) -> float:
    return sigmas * math.sqrt(n * p * (1 - p))


@pytest.mark.integration
def test_about_the_configured_share_of_requests_fail_and_metrics_count_them() -> None:
    async def scenario() -> tuple[list[tuple[int, float]], str]:
        versions = {"stable": (Behaviour(0.3, 2.0, 4.0), ())}
        async with Fleet(versions, time_scale=1.0, seed=11) as fleet:
            results = await hit(fleet.url("stable") + "/orders", 300)
            async with aiohttp.ClientSession() as session:
                async with session.get(fleet.url("stable") + "/metrics") as response:
                    return results, await response.text()

    results, metrics = asyncio.run(scenario())

    failures = sum(1 for status, _ in results if status == 500)
    assert {status for status, _ in results} <= {200, 500}
    assert abs(failures - 90) <= binomial_bound(300, 0.3)
    assert f'http_requests_total{{code="500",version="stable"}} {failures}.0' in metrics
    assert f'http_requests_total{{code="200",version="stable"}} {300 - failures}.0' in metrics
    assert 'http_request_duration_seconds_bucket{le="0.005",version="stable"}' in metrics
    assert 'http_request_duration_seconds_count{version="stable"} 300.0' in metrics


@pytest.mark.integration
def test_latency_follows_the_configured_median_and_p95() -> None:
    async def scenario() -> list[tuple[int, float]]:
        async with Fleet({"canary": (Behaviour(0.0, 40.0, 120.0), ())}, time_scale=1.0) as fleet:
            return await hit(fleet.url("canary") + "/", 300, concurrency=25)

    latencies = sorted(ms for _, ms in asyncio.run(scenario()))

    assert statistics.median(latencies) == pytest.approx(40.0, rel=0.35)
    assert latencies[int(0.95 * len(latencies)) - 1] == pytest.approx(120.0, rel=0.35)


@pytest.mark.integration
def test_a_fault_from_the_start_makes_every_request_fail() -> None:
    faults = faults_from_json('[{"from": 0, "errorRate": 1.0}]')

    async def scenario() -> list[tuple[int, float]]:
        async with Fleet({"canary": (Behaviour(0.0, 1.0, 2.0), faults)}, time_scale=1.0) as fleet:
            return await hit(fleet.url("canary") + "/", 60)

    assert {status for status, _ in asyncio.run(scenario())} == {500}


@pytest.mark.integration
def test_a_future_fault_starts_and_ends_on_the_scaled_plan_clock() -> None:
    # At time scale 1000, plan seconds [300, 600) are wall seconds [0.3, 0.6) after the first
    # request the app served (which happened between our first send and its response).
    fault = Fault(start_s=300, end_s=600, error_rate=1.0)

    async def scenario() -> list[tuple[float, float, int]]:
        seen: list[tuple[float, float, int]] = []
        async with Fleet({"canary": (Behaviour(0.0, 1.0, 2.0), (fault,))}, time_scale=1000) as f:
            async with aiohttp.ClientSession() as session:
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    sent = time.monotonic()
                    async with session.get(f.url("canary") + "/") as response:
                        await response.read()
                    seen.append((sent, time.monotonic(), response.status))
                    if sent - seen[0][1] > 0.8:
                        break
        return seen

    seen = asyncio.run(scenario())
    first_sent, first_done = seen[0][0], seen[0][1]
    before = [s for sent, done, s in seen if done - first_sent < 0.3]
    during = [s for sent, done, s in seen if sent - first_done >= 0.3 and done - first_sent < 0.6]
    after = [s for sent, done, s in seen if sent - first_done >= 0.6]

    assert before and during and after, "too few requests to see every phase"
    assert set(before) == {200}
    assert set(during) == {500}
    assert set(after) == {200}


def test_faults_survive_a_round_trip_through_json() -> None:
    faults = (Fault(0, None, 1.0, None, None), Fault(30.5, 90, None, 200.0, 800.0),
              Fault(60, None, events=(("cross_tenant_denied", 5.0),)))

    assert faults_from_json(faults_to_json(faults)) == faults


def test_events_are_due_at_their_rate_over_the_faults_active_plan_time() -> None:
    faults = (Fault(10, 20, events=(("cross_tenant_denied", 5.0),)), Fault(15, None, events=(("residency", 0.5),)))
    service = SampleService("canary", Behaviour(), faults)
    assert service.events_due(5) == {"cross_tenant_denied": 0, "residency": 0}
    assert service.events_due(12.5) == {"cross_tenant_denied": 12, "residency": 0}
    assert service.events_due(100) == {"cross_tenant_denied": 50, "residency": 42}


@pytest.mark.parametrize(
    "text",
    ['{"from": 0}', '[{"to": 5}]', '[{"from": 0, "errorRate": 2}]', '[{"from": 0, "oops": 1}]'],
)
def test_malformed_faults_are_refused(text: str) -> None:
    with pytest.raises(TargetError):
        faults_from_json(text)


def test_a_p95_below_the_median_is_refused() -> None:
    with pytest.raises(TargetError, match="below the median"):
        Behaviour(0.0, 100.0, 50.0)


@pytest.mark.integration
def test_the_fleet_serves_each_version_on_its_own_port_and_stops_them_all() -> None:
    versions = {"stable": (Behaviour(0, 1, 2), ()), "canary": (Behaviour(0, 1, 2), ())}

    async def scenario() -> tuple[dict[str, str], dict[str, int], dict[str, int]]:
        async with Fleet(versions, time_scale=1.0) as fleet:
            bodies = {}
            async with aiohttp.ClientSession() as session:
                for version in versions:
                    async with session.post(fleet.url(version) + "/checkout", data=b"x") as r:
                        bodies[version] = await r.text()
            return bodies, fleet.ports, fleet.pids

    bodies, ports, pids = asyncio.run(scenario())

    assert bodies == {"stable": "ok stable", "canary": "ok canary"}
    assert len(set(ports.values())) == 2
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.integration
def test_a_sample_app_that_cannot_start_is_reported_with_its_stderr() -> None:
    fleet = Fleet({"canary": (Behaviour(), ())}, time_scale=1.0, extra_args=["--bogus"])

    async def scenario() -> None:
        async with fleet:
            pass

    with pytest.raises(TargetError, match="unrecognized arguments: --bogus"):
        asyncio.run(scenario())
    assert fleet.ports == {}


@pytest.mark.integration
def test_a_sample_app_exits_by_itself_when_its_parent_dies() -> None:
    parent = (
        "import os, subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-m', 'launchdeck.local.sample_app', '--port', '0',"
        " '--version', 'orphan', '--parent-pid', str(os.getpid())],"
        " stderr=subprocess.PIPE, start_new_session=True)\n"
        "print(p.pid, p.stderr.readline().decode().strip(), flush=True)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", parent], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    pid = int(out.split()[0])
    assert "listening on http://127.0.0.1:" in out

    def gone() -> bool:
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] in {"Z", "X"}
        except FileNotFoundError:
            return True

    deadline = time.monotonic() + 10
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(), f"orphaned sample app {pid} is still running"


def test_a_fresh_process_is_half_again_slower_at_first_and_warm_by_the_end_of_its_warm_up() -> None:
    assert [warmup_factor(t, 240.0) for t in (0.0, 120.0, 240.0, 1000.0)] == [1.5, 1.25, 1.0, 1.0]
    assert warmup_factor(0.0, 0.0) == 1.0


def test_a_warming_process_is_slower_on_the_scaled_plan_clock_faults_included() -> None:
    slow = Fault(0.0, latency_median_ms=80.0, latency_p95_ms=240.0)
    service = SampleService("baseline", Behaviour(0.0, 40.0, 120.0, warmup_s=180.0), (slow,), time_scale=60.0)
    assert service.effective(0.0) == (0.0, 120.0, 360.0)
    assert service.effective(90.0) == (0.0, 100.0, 300.0)
    assert service.effective(180.0) == (0.0, 80.0, 240.0)


def test_sample_app_takes_a_warm_up_as_a_plan_duration() -> None:
    result = subprocess.run([sys.executable, "-m", "launchdeck.local.sample_app", "--port", "1", "--version", "v",
                             "--warmup", "three minutes"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "'three minutes' is not a duration" in result.stderr


@pytest.mark.integration
def test_the_fleet_stops_one_version_and_keeps_serving_the_others() -> None:
    async def scenario() -> tuple[list[str], int]:
        versions = {v: (Behaviour(0.0, 1.0, 2.0), ()) for v in ("stable", "canary", "baseline")}
        async with Fleet(versions, time_scale=1.0) as fleet:
            pid = fleet.pids["baseline"]
            await fleet.stop_version("baseline")
            await fleet.stop_version("baseline")
            statuses = [s for s, _ in await hit(fleet.url("stable") + "/", 3)]
            return fleet.running, pid if statuses == [200] * 3 else -1

    running, pid = asyncio.run(scenario())
    assert running == ["stable", "canary"] and pid > 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
