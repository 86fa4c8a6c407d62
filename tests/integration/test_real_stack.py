"""Whole releases behind a real HAProxy, judged from a real Prometheus (both started on loopback)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from launchdeck.controller.runner import RunOptions, run_release
from launchdeck.controller.view import PlainView
from launchdeck.local.loadgen import LoadGenerator
from launchdeck.local.sample_app import Behaviour, Fault
from launchdeck.plan import load_plan
from launchdeck.stacks import HAProxyStack, missing_programs
from launchdeck.stacks.prometheus import PrometheusServer
from launchdeck.store.repo import Store

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(missing_programs(["haproxy", "prometheus"])), reason="haproxy or prometheus is not installed"),
]
HEALTHY = Behaviour(error_rate=0.002, latency_median_ms=10.0, latency_p95_ms=30.0)


def plan(socket: str, prometheus: str, holds: tuple[str, str] = ("2m", "1m")) -> dict[str, Any]:
    return {
        "apiVersion": "launchdeck/v1", "kind": "Release",
        "metadata": {"name": "checkout-v2", "version": "v2", "previousVersion": "v1"},
        "spec": {
            "target": {
                "router": {"type": "haproxy", "socket": socket, "backend": "api",
                           "servers": {"stable": "stable", "canary": "canary"}},
                "metrics": {"type": "prometheus", "url": prometheus, "labels": {"stable": "stable", "canary": "canary"}},
            },
            "stages": [{"weight": "20%", "hold": holds[0]}, {"weight": "100%", "hold": holds[1]}],
            "analysis": {"interval": "15s", "window": "1m", "minRequests": 20, "maxInconclusive": 1,
                         "holdTimeout": "1m"},
            "gates": [{"name": "error-rate", "metric": "error_rate", "op": ">=", "threshold": "5%", "for": "30s",
                       "severity": "immediate"}],
        },
    }


@asynccontextmanager
async def real_stack(canary_faults: tuple[Fault, ...] = ()) -> AsyncIterator[tuple[HAProxyStack, PrometheusServer]]:
    versions = {"stable": (HEALTHY, ()), "canary": (HEALTHY, canary_faults)}
    async with HAProxyStack(versions, time_scale=10.0, seed=3) as stack:
        assert stack.fleet is not None
        targets = [f"127.0.0.1:{port}" for port in stack.fleet.ports.values()]
        async with PrometheusServer(targets, scrape_interval_s=1.0) as prometheus:
            await prometheus.wait_for_targets(30.0)
            async with LoadGenerator(stack.url, rps=150, users=500, seed=3):
                yield stack, prometheus


def options(tmp_path: Path, db_url: str) -> RunOptions:
    return RunOptions(time_scale=10.0, db_url=db_url, workdir=tmp_path, seed=3)


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_bad_canary_behind_haproxy_is_rolled_back_and_haproxy_reports_zero(tmp_path: Path, backend_db_url: str) -> None:
    async def scenario() -> tuple[dict[str, Any], float]:
        async with real_stack((Fault(start_s=0.0, error_rate=0.3),)) as (stack, prometheus):
            path = write(tmp_path, plan(stack.socket, prometheus.url))
            summary = await run_release(load_plan(path), options(tmp_path, backend_db_url), PlainView())
            return summary, await stack.router.current_weight()

    summary, weight = asyncio.run(scenario())
    assert summary["outcome"] == "rolled_back" and summary["firedGate"] == "error-rate"
    assert weight == 0 and summary["finalWeight"] == 0 and summary["canaryErrors"] > 0


def test_good_canary_behind_haproxy_reaches_full_weight(tmp_path: Path, backend_db_url: str) -> None:
    async def scenario() -> tuple[dict[str, Any], float]:
        async with real_stack() as (stack, prometheus):
            path = write(tmp_path, plan(stack.socket, prometheus.url, holds=("1m", "30s")))
            summary = await run_release(load_plan(path), options(tmp_path, backend_db_url), PlainView())
            return summary, await stack.router.current_weight()

    summary, weight = asyncio.run(scenario())
    assert summary["outcome"] == "promoted" and weight == 100


def test_prometheus_stopped_mid_stage_holds_and_pages_never_promotes(tmp_path: Path, backend_db_url: str) -> None:
    async def scenario() -> tuple[dict[str, Any], list[str]]:
        async with real_stack() as (stack, prometheus):
            path = write(tmp_path, plan(stack.socket, prometheus.url, holds=("3m", "30s")))
            run = asyncio.create_task(run_release(load_plan(path), options(tmp_path, backend_db_url), PlainView()))
            with Store(backend_db_url) as store:
                deadline = asyncio.get_running_loop().time() + 60
                while not _has_conclusive_evaluation(store):  # the stage is being judged from real numbers
                    assert asyncio.get_running_loop().time() < deadline, "no conclusive evaluation within 60 s"
                    assert not run.done(), run
                    await asyncio.sleep(0.2)
                await prometheus.stop()
                summary = await asyncio.wait_for(run, 120)
                release = store.require(name="checkout-v2")
                return summary, [d.kind for d in store.decisions(release_id=release.id)]

    summary, kinds = asyncio.run(scenario())
    assert summary["outcome"] == "held" and summary["stagesPassed"] == 0
    assert "hold.started" in kinds and "stage.passed" not in kinds and "release.promoted" not in kinds
    assert summary["finalWeight"] == 20  # the canary keeps its weight for a person to decide


def _has_conclusive_evaluation(store: Store) -> bool:
    release = store.find(name="checkout-v2")
    if release is None:
        return False
    return any(d.kind == "evaluation" and all(v.get("status") != "inconclusive" for v in d.inputs.get("verdicts", []))
               for d in store.decisions(release_id=release.id))


def test_haproxy_restarted_mid_release_loses_its_weights_and_they_are_applied_again(
        tmp_path: Path, backend_db_url: str) -> None:
    async def scenario() -> tuple[dict[str, Any], list[str], float]:
        async with real_stack() as (stack, prometheus):
            path = write(tmp_path, plan(stack.socket, prometheus.url, holds=("2m", "30s")))
            run = asyncio.create_task(run_release(load_plan(path), options(tmp_path, backend_db_url), PlainView()))
            deadline = asyncio.get_running_loop().time() + 60
            while abs(await stack.router.current_weight() - 20) > 0.5:  # stage 1 is live (51/256 read back)
                assert asyncio.get_running_loop().time() < deadline and not run.done()
                await asyncio.sleep(0.1)
            await stack.restart_program()
            lost = await stack.router.current_weight()  # the configured weights: canary 0
            summary = await asyncio.wait_for(run, 120)
            with Store(backend_db_url) as store:
                release = store.require(name="checkout-v2")
                kinds = [d.kind for d in store.decisions(release_id=release.id)]
            return summary, kinds, lost

    summary, kinds, lost = asyncio.run(scenario())
    assert lost == 0
    assert "weight.reapplied" in kinds and summary["outcome"] == "promoted"
