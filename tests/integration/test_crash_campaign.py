"""The crash campaign: the runner is SIGKILLed at each phase boundary, then the same command is run again.

Every case must end where an uninterrupted run ends (rolled back by the immediate gate in stage 2),
with no stage, rollback step or message doubled, every bundle written and verifiable, and an intact
decision log. The kill comes from inside the run (``LAUNCHDECK_FAILPOINT``, see
``controller/failpoints.py``) so it lands exactly at the boundary, including the short moment between
the outcome's commit and the end of the wrap-up that a timed kill would almost never hit.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path

import pytest
from ld_integration import Launchdeck

pytestmark = pytest.mark.integration

PLAN = """
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: crashy-v2, service: crashy, version: v2, previousVersion: v1}
    spec:
      target:
        versions:
          stable: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
          canary:
            errorRate: 0.1%
            latency: {median: 20ms, p95: 60ms}
            faults:
              - {from: 3m, errorRate: 40%}      # during stage 2
        load: {rps: 200, users: 1000}
      stages:
        - {weight: 20%, hold: 2m}
        - {weight: 50%, hold: 5m}
      analysis: {interval: 10s, window: 1m, minRequests: 20}
      gates:
        - {name: error-rate, metric: error_rate, op: ">=", threshold: 10%, for: 20s, severity: immediate}
      rollback:
        steps: [kill-switch, traffic-to-stable, drain-canary, verify, announce]
      notifications:
        channels:
          log: {type: file, path: notifications.jsonl}
        routes:
          - {on: [release.started, stage.started, stage.passed, release.completed], to: [log]}
          - {on: [gate.fired, rollback.started, rollback.completed], to: [log]}
"""

COMMAND = ("run", "crashy.yaml", "--time-scale", "60", "--output", "json", "--seed", "5")

#: Each phase boundary of the promise (issue: "a crash campaign in the test suite").
POINTS = [
    "decision.release.started",   # right after release.started is committed
    "decision.evaluation@4",      # mid stage 1
    "decision.stage.passed",      # a stage boundary, before its bundle is written
    "rollback.step@2",            # between two rollback steps
    "outcome.committed",          # right after the outcome commit, before any wrap-up
    "wrapup.evidence",            # during wrap-up: final bundle written, messages not yet delivered
]


@pytest.mark.parametrize("point", POINTS)
def test_a_run_killed_at_a_phase_boundary_reruns_to_the_same_outcome_once(ld: Launchdeck, point: str) -> None:
    ld.write("crashy.yaml", PLAN)
    ld.env["LAUNCHDECK_FAILPOINT"] = point
    crashed = ld(*COMMAND)
    del ld.env["LAUNCHDECK_FAILPOINT"]
    assert crashed.returncode == -signal.SIGKILL, f"the failpoint {point} was never reached\n{crashed.explain()}"

    again = ld(*COMMAND)
    assert again.returncode == 3, again.explain()
    summary = again.summary
    assert summary["outcome"] == "rolled_back" and summary["firedGate"] == "error-rate", summary
    assert summary["stagesPassed"] == 1 and summary["finalWeight"] == 0

    kinds = ld.kinds("crashy-v2")
    decisions = ld.decisions("crashy-v2")
    assert kinds.count("release.started") == 1
    assert [d["inputs"]["stage"] for d in decisions if d["kind"] == "stage.started"] == [1, 2]
    assert kinds.count("stage.passed") == 1 and kinds.count("rollback.started") == 1
    steps = [d["inputs"]["step"] for d in decisions if d["kind"] == "rollback.step"]
    assert steps == ["kill-switch", "traffic-to-stable", "drain-canary", "verify", "announce"], steps
    assert kinds.count("release.rolled_back") == 1

    # every message once: the file channel's lines and the outbox agree, nothing pending
    lines = [json.loads(line) for line in (ld.cwd / "notifications.jsonl").read_text(encoding="utf-8").splitlines()]
    repeated = [k for k, n in Counter((m["event"], m["text"]) for m in lines).items() if n > 1]
    assert not repeated, f"messages delivered twice after a crash at {point}: {repeated}"
    events = Counter(m["event"] for m in lines)
    assert events["release.started"] == 1 and events["stage.passed"] == 1 and events["release.completed"] == 1
    store = ld.store()
    assert store is not None
    release = store.require(name="crashy-v2")
    assert store.pending_messages(release_id=release.id) == []

    # every bundle there, and each verifies
    evidence = ld.cwd / "evidence"
    names = sorted(p.name for p in evidence.glob("*.bundle.json"))
    assert names == [f"crashy-v2.run{release.id}.bundle.json", f"crashy-v2.run{release.id}.stage-1.bundle.json"], names
    for name in names:
        verified = ld("evidence", "verify", str(evidence / name), "--key", str(Path("keys") / "release-signing.key.pub"))
        assert verified.returncode == 0, verified.explain()
    audit = ld("audit", "verify", "crashy-v2")
    assert audit.returncode == 0, audit.explain()

    # and running it a third time reports the same outcome, moving nothing
    third = ld(*COMMAND)
    assert third.returncode == 3 and "already finished: rolled_back" in third.stderr, third.explain()
    assert ld.kinds("crashy-v2") == kinds
