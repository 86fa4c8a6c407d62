"""A run killed with SIGKILL and started again with the same command resumes where it was."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from ld_integration import Launchdeck, wait_for

pytestmark = pytest.mark.integration

LATE_BAD = """
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: orders-v5, service: orders, version: v5, previousVersion: v4}
    spec:
      target:
        versions:
          stable: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
          canary:
            errorRate: 0.1%
            latency: {median: 20ms, p95: 60ms}
            faults:
              - {from: 5m, errorRate: 40%}      # during stage 3
        load: {rps: 200, users: 1000}
      stages:
        - {weight: 10%, hold: 2m}
        - {weight: 30%, hold: 2m}
        - {weight: 60%, hold: 5m}
        - {weight: 100%, hold: 1m}
      analysis: {interval: 10s, window: 2m, minRequests: 20}
      gates:
        - {name: error-rate, metric: error_rate, op: ">=", threshold: 10%, for: 30s, severity: immediate}
"""

HEALTHY = """
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: profile-v2, version: v2, previousVersion: v1}
    spec:
      target:
        versions:
          stable: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
          canary: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
        load: {rps: 200, users: 1000}
      stages:
        - {weight: 25%, hold: 4m}
        - {weight: 100%, hold: 30s}
      analysis: {interval: 10s, window: 2m, minRequests: 20}
      gates:
        - {name: error-rate, metric: error_rate, op: ">=", threshold: 10%, for: 30s, severity: immediate}
"""


def _sample_apps_of(parent: int) -> list[int]:
    """Pids of the sample-app processes a run started (they name their parent on the command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"launchdeck.local.sample_app" in argv and b"--parent-pid" in argv:
            i = argv.index(b"--parent-pid")
            if i + 1 < len(argv) and argv[i + 1] == str(parent).encode():
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _crash(ld: Launchdeck, run, release: str) -> float:  # type: ignore[no-untyped-def]
    """SIGKILL the run; check its sample apps go away on their own; return the stored plan clock."""
    children = _sample_apps_of(run.pid)
    assert len(children) == 2, f"expected a stable and a canary sample app, found {children}"
    run.kill()
    try:
        wait_for(lambda: not any(_alive(p) for p in children), timeout=15,
                 what="the orphaned sample apps to exit after their parent died")
    finally:
        for pid in children:  # never leave them behind, even when the check above fails
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    stored = ld.release(release)
    assert stored is not None and stored["outcome"] is None
    return float(stored["plan_clock"])


def test_resume_after_sigkill_in_stage_two_does_not_rerun_passed_stages(ld: Launchdeck) -> None:
    ld.write("orders.yaml", LATE_BAD)
    command = ("run", "orders.yaml", "--time-scale", "60", "--output", "json", "--seed", "31")
    first = ld.start(*command)
    wait_for(lambda: (ld.release("orders-v5") or {}).get("engine", {}).get("stage", 0) >= 1, timeout=60,
             what="stage 2 to start", alive=first)
    # let stage 2 get some evaluations of its own before the crash
    wait_for(lambda: [d for d in ld.decisions("orders-v5") if d["kind"] == "stage.started"][-1]["seq"]
             < ld.decisions("orders-v5")[-1]["seq"] - 1, timeout=30, what="an evaluation in stage 2", alive=first)
    clock_at_crash = _crash(ld, first, "orders-v5")
    stored = ld.release("orders-v5")
    engine, before = stored["engine"], stored["state"]["totals"]
    assert engine["phase"] == "stage" and engine["stage"] == 1 and engine["stages_passed"] == 1, engine
    assert before[0] > 0

    status = ld("status", "orders-v5")
    assert status.returncode == 0 and "stage 2/4 at 30%" in status.stdout, status.explain()

    second = ld.start(*command)
    # the canary's traffic before the crash still counts: the totals never go back on resuming
    wait_for(lambda: ld.release("orders-v5")["plan_clock"] > clock_at_crash, timeout=60,
             what="the resumed run's first save", alive=second)
    after = ld.release("orders-v5")["state"]["totals"]
    assert after[0] >= before[0], f"canary requests counted before the crash were lost: {before} -> {after}"
    result = second.wait()
    assert "resuming orders-v5" in result.stderr, result.explain()
    assert result.returncode == 3, result.explain()
    summary = result.summary
    assert summary["outcome"] == "rolled_back" and summary["firedGate"] == "error-rate"
    assert summary["stagesPassed"] == 2  # failed in stage 3, after the fault at 5m
    assert summary["finalWeight"] == 0
    assert summary["canaryRequests"] > before[0] and summary["canaryErrors"] >= before[1]

    decisions = ld.decisions("orders-v5")
    started = [d["inputs"]["stage"] for d in decisions if d["kind"] == "stage.started"]
    passed = [d["inputs"]["stage"] for d in decisions if d["kind"] == "stage.passed"]
    assert started == [1, 2, 3], started
    assert passed == [1, 2], passed
    assert [d["kind"] for d in decisions].count("release.started") == 1
    plan_times = [d["plan_at"] for d in decisions]
    assert plan_times == sorted(plan_times), "plan time went backwards across the restart"
    assert next(d for d in decisions if d["kind"] == "gate.fired")["plan_at"] >= 5 * 60 > clock_at_crash
    why = ld("why", "orders-v5")
    assert why.stdout.count("stage 1 passed") == 1, why.stdout
    audit = ld("audit", "verify", "orders-v5")
    assert audit.returncode == 0, audit.explain()  # one unbroken chain across both processes


def test_resume_from_the_middle_of_a_stage(ld: Launchdeck) -> None:
    ld.write("profile.yaml", HEALTHY)
    command = ("run", "profile.yaml", "--time-scale", "60", "--output", "json", "--seed", "33")
    first = ld.start(*command)
    wait_for(lambda: [d for d in ld.decisions("profile-v2") if d["kind"] == "evaluation"][5:], timeout=60,
             what="six evaluations in stage 1", alive=first)
    clock_at_crash = _crash(ld, first, "profile-v2")
    engine = ld.release("profile-v2")["engine"]
    assert engine["phase"] == "stage" and engine["stage"] == 0 and engine["stages_passed"] == 0, engine
    assert 0 < clock_at_crash < 4 * 60  # really in the middle of the 4m hold

    second = ld(*command)
    assert f"resuming profile-v2 at plan time {clock_at_crash:.0f}s" in second.stderr, second.explain()
    assert second.returncode == 0, second.explain()
    assert second.summary["outcome"] == "promoted" and second.summary["stagesPassed"] == 2
    decisions = ld.decisions("profile-v2")
    started = [d["inputs"]["stage"] for d in decisions if d["kind"] == "stage.started"]
    assert started == [1, 2], started
    passed = next(d for d in decisions if d["kind"] == "stage.passed")
    stage_1 = next(d for d in decisions if d["kind"] == "stage.started")
    assert passed["plan_at"] >= 4 * 60  # the hold was not cut short by the restart...
    # ...nor started over: the stage held from its start before the crash (on a loaded machine the stage may pass
    # later than 4m, waiting for a conclusive window, but its hold is still counted from that start)
    assert stage_1["plan_at"] < clock_at_crash
    assert abs(passed["inputs"]["held"] - (passed["plan_at"] - stage_1["plan_at"])) < 1.0, (passed, stage_1)
    # finished means finished: the same command reports the recorded outcome and moves nothing
    third = ld(*command)
    assert third.returncode == 0, third.explain()
    assert "already finished: promoted" in third.stderr and "retry profile-v2" in third.stderr, third.explain()
    assert third.summary["evidence"] == second.summary["evidence"]
    assert [d["kind"] for d in ld.decisions("profile-v2")] == [d["kind"] for d in decisions]
