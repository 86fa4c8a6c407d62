"""Stopping and steering a release: Ctrl-C, kill with no run alive, pause and resume, retry, a held
release run again. Each one as a user types it, against the real CLI and a real local fleet (and a
real HAProxy for the kill that must move a router with no run alive)."""

from __future__ import annotations

import asyncio
import signal

import pytest
from ld_integration import Launchdeck, wait_for

from launchdeck.stacks import HAProxyStack, missing_programs

pytestmark = pytest.mark.integration

HEALTHY = """
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: profile-v3, version: v3, previousVersion: v2}
    spec:
      target:
        versions:
          stable: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
          canary: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
        load: {rps: 200, users: 1000}
      roles: {sre: [sam], product-owner: [pat]}
      stages:
        - {weight: 25%, hold: 3m}
        - {weight: 100%, hold: 30s}
      analysis: {interval: 10s, window: 1m, minRequests: 20}
      gates:
        - {name: error-rate, metric: error_rate, op: ">=", threshold: 10%, for: 30s, severity: immediate}
"""

RUN = ("run", "profile.yaml", "--time-scale", "60", "--output", "json", "--seed", "8")


def _evaluated(ld: Launchdeck, name: str, n: int = 2) -> bool:
    return ld.kinds(name).count("evaluation") >= n


def test_ctrl_c_says_where_the_release_stands_then_kill_without_a_run_and_retry(ld: Launchdeck) -> None:
    ld.write("profile.yaml", HEALTHY)
    run = ld.start(*RUN)
    wait_for(lambda: _evaluated(ld, "profile-v3"), timeout=60, what="two evaluations in stage 1", alive=run)
    run.proc.send_signal(signal.SIGINT)
    stopped = run.wait()
    assert stopped.returncode == 130, stopped.explain()
    assert "Traceback" not in stopped.stderr
    assert "profile-v3 stands at stage 1/2, canary weight 25%" in stopped.stderr, stopped.explain()
    assert "resume:    launchdeck run" in stopped.stderr and "roll back: launchdeck kill profile-v3" in stopped.stderr

    # no run is alive: on the embedded router there is nothing to move, and it says so plainly
    killed = ld("kill", "profile-v3", "--role", "sre", "--as", "sam", "--reason", "going home")
    assert killed.returncode == 0, killed.explain()
    assert "nothing moved" in killed.stdout and "rolls back at once" in killed.stdout, killed.explain()
    # the kill is recorded: running the plan again rolls back at once
    again = ld(*RUN)
    assert again.returncode == 3, again.explain()
    assert again.summary["firedGate"] == "kill-switch" and again.summary["stagesPassed"] == 0
    old = ld.release("profile-v3")
    assert old is not None

    # retry: a new run of the same plan, linked to the rolled-back one, which is kept
    retried = ld("retry", "profile-v3", "--time-scale", "60", "--output", "json", "--seed", "9")
    assert retried.returncode == 0, retried.explain()
    assert retried.summary["outcome"] == "promoted"
    new = ld.release("profile-v3")
    assert new is not None and new["id"] != old["id"]
    assert new["state"]["previousRun"] == f"profile-v3#{old['id']}"
    store = ld.store()
    assert store is not None and store.find(name=f"profile-v3#{old['id']}").outcome == "rolled_back"


def test_pause_keeps_the_stage_until_resume(ld: Launchdeck) -> None:
    ld.write("profile.yaml", HEALTHY.replace("hold: 3m", "hold: 10m"))
    run = ld.start(*RUN)
    wait_for(lambda: _evaluated(ld, "profile-v3", 1), timeout=60, what="an evaluation in stage 1", alive=run)
    paused = ld("pause", "profile-v3", "--role", "sre", "--as", "sam")
    assert paused.returncode == 0, paused.explain()
    wait_for(lambda: "release.paused" in ld.kinds("profile-v3"), timeout=30, what="the pause to be taken", alive=run)
    # past the 10m hold, the paused stage has not passed
    wait_for(lambda: ld.release("profile-v3")["plan_clock"] > 11 * 60, timeout=60, what="plan time 11m", alive=run)
    assert "stage.passed" not in ld.kinds("profile-v3")
    assert ld.release("profile-v3")["engine"]["paused_by"] == "sam (sre)"
    refused = ld("resume", "profile-v3", "--role", "sre", "--as", "pat")
    assert refused.returncode == 2 and "refused" in refused.stderr, refused.explain()
    resumed = ld("resume", "profile-v3", "--role", "product-owner", "--as", "pat")
    assert resumed.returncode == 0, resumed.explain()
    result = run.wait()
    assert result.returncode == 0 and result.summary["outcome"] == "promoted", result.explain()
    kinds = ld.kinds("profile-v3")
    assert kinds.index("release.paused") < kinds.index("release.resumed") < kinds.index("stage.passed")


SIGNOFF = """
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: billing-v7, version: v7, previousVersion: v6}
    spec:
      target:
        versions:
          stable: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
          canary: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
        load: {rps: 200, users: 1000}
      roles: {sre: [sam], product-owner: [pat]}
      stages:
        - {weight: 20%, hold: 1m, approve: [product-owner]}
        - {weight: 100%, hold: 30s}
      analysis: {interval: 10s, window: 1m, minRequests: 20, holdTimeout: 1m}
      gates:
        - {name: error-rate, metric: error_rate, op: ">=", threshold: 10%, for: 30s, severity: immediate}
"""


def test_a_held_release_run_again_continues_where_it_was_held(ld: Launchdeck) -> None:
    ld.write("billing.yaml", SIGNOFF)
    command = ("run", "billing.yaml", "--time-scale", "60", "--output", "json", "--seed", "3")
    first = ld(*command)
    assert first.returncode == 4 and first.summary["outcome"] == "held", first.explain()
    assert ld("approve", "billing-v7", "--stage", "1", "--role", "product-owner", "--as", "pat").returncode == 0
    resumed = ld("resume", "billing-v7", "--role", "sre", "--as", "sam")
    assert resumed.returncode == 0 and "run its plan again" in resumed.stdout, resumed.explain()
    second = ld(*command)
    assert second.returncode == 0 and second.summary["outcome"] == "promoted", second.explain()
    kinds = ld.kinds("billing-v7")
    assert kinds.count("release.started") == 1 and kinds.count("stage.started") == 2  # not started over
    assert kinds.index("release.held") < kinds.index("release.reopened") < kinds.index("stage.passed")


@pytest.mark.skipif(bool(missing_programs(["haproxy"])), reason="haproxy is not installed")
def test_kill_with_no_run_alive_moves_the_haproxy_router_itself(ld: Launchdeck) -> None:
    async def scenario() -> None:
        async with HAProxyStack() as stack:
            ld.write("checkout.yaml", f"""
                apiVersion: launchdeck/v1
                kind: Release
                metadata: {{name: checkout-v9, version: v9, previousVersion: v8}}
                spec:
                  target:
                    router: {{type: haproxy, socket: {stack.socket}, backend: api,
                              servers: {{stable: stable, canary: canary}}}}
                    metrics: {{type: prometheus, url: "http://127.0.0.1:9"}}
                  roles: {{sre: [sam]}}
                  stages:
                    - {{weight: 25%, hold: 30m}}
                  analysis: {{interval: 1m, window: 2m, minRequests: 20}}
                  gates:
                    - {{name: error-rate, metric: error_rate, op: ">=", threshold: 5%, for: 1m, severity: immediate}}
                  rollback:
                    steps: [traffic-to-stable, drain-canary, verify]
            """)
            run = ld.start("run", "checkout.yaml", "--output", "json")
            await asyncio.to_thread(wait_for, lambda: "stage.started" in ld.kinds("checkout-v9"), timeout=60,
                                    what="stage 1 to start", alive=run)
            assert await stack.router.current_weight() == 25
            run.kill()  # the run is gone; HAProxy keeps serving the canary 25%

            killed = await asyncio.to_thread(ld, "kill", "checkout-v9", "--role", "sre", "--as", "sam")
            assert killed.returncode == 0, killed.explain()
            assert "applied to the haproxy router directly" in killed.stdout, killed.explain()
            assert await stack.router.current_weight() == 0
            stored = ld.release("checkout-v9")
            assert stored is not None and stored["outcome"] == "rolled_back"
            kinds = ld.kinds("checkout-v9")
            assert kinds.count("rollback.step") == 3 and kinds[-1] == "release.rolled_back"
            assert (ld.cwd / "evidence").glob("checkout-v9.run*.bundle.json")

    asyncio.run(scenario())
