"""People in the loop: stage sign-offs with `launchdeck approve`, sign-offs recorded ahead with
`run --approvals`, and decisions in an open decision window — against a real background run."""

from __future__ import annotations

import json

import pytest
from ld_integration import Launchdeck, bundle_statement, wait_for

pytestmark = pytest.mark.integration

APPROVE_PLAN = """
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: payments-v3, service: payments, version: v3, previousVersion: v2}
    spec:
      target:
        versions:
          stable: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
          canary: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
        load: {rps: 200, users: 1000}
      roles:
        sre: [sam, lee]
        product-owner: [priya]
      stages:
        - {weight: 20%, hold: 1m, approve: [sre]}
        - {weight: 100%, hold: 1m}
      analysis: {interval: 10s, window: 2m, minRequests: 20, holdTimeout: HOLD_TIMEOUT}
      gates:
        - {name: error-rate, metric: error_rate, op: ">=", threshold: 5%, for: 1m, severity: immediate}
"""
RELEASE = "payments-v3"


def test_stage_waits_for_sign_off_and_continues_after_approve(ld: Launchdeck) -> None:
    ld.write("payments.yaml", APPROVE_PLAN.replace("HOLD_TIMEOUT", "1h"))  # 1h of plan time = 60 wall s at 60x
    run = ld.start("run", "payments.yaml", "--time-scale", "60", "--output", "json", "--seed", "21")
    wait_for(lambda: "approval.requested" in ld.kinds(RELEASE), timeout=60, what="the stage-1 sign-off request",
             alive=run)

    # the run waits: still stage 1 at 20%, nothing passed
    status = ld("status", RELEASE)
    assert status.returncode == 0, status.explain()
    assert "waiting for sign-off at stage 1/2, canary at 20%" in status.stdout, status.stdout
    assert "waiting for sign-off from sre (stage 1) — deadline " in status.stdout, status.stdout
    assert "run: launchdeck approve payments-v3 --stage 1 --role sre --as NAME" in status.stdout, status.stdout
    waiting = json.loads(ld("status", RELEASE, "--output", "json").stdout)["waiting"]
    assert (waiting["kind"], waiting["roles"], waiting["stage"]) == ("sign-off", ["sre"], 1) and waiting["deadlineAt"]
    assert "stage.passed" not in ld.kinds(RELEASE)

    # a person outside the role is refused, and told who may sign
    refused = ld("approve", RELEASE, "--role", "sre", "--as", "mallory", "--stage", "1")
    assert refused.returncode == 2, refused.explain()
    assert "Traceback" not in refused.stderr
    assert "mallory is not in role 'sre'" in refused.stderr and "members: lee, sam" in refused.stderr
    unknown_role = ld("approve", RELEASE, "--role", "qa", "--as", "sam", "--stage", "1")
    assert unknown_role.returncode == 2 and "roles: product-owner, sre" in unknown_role.stderr, unknown_role.explain()
    assert ld.release(RELEASE)["engine"]["stage"] == 0  # the refusals moved nothing

    ok = ld("approve", RELEASE, "--role", "sre", "--as", "sam", "--stage", "1", "--reason", "dashboards look fine")
    assert ok.returncode == 0, ok.explain()
    assert "recorded: sam (sre) stage 1" in ok.stdout

    # watching the release follows it to its end and exits with its outcome's status
    watched = ld("status", RELEASE, "--watch", "--interval", "200ms")
    assert watched.returncode == 0, watched.explain()
    assert "payments-v3: promoted at stage 2/2, canary at 100%" in watched.stdout.strip().split("\n\n")[-1], watched.stdout

    result = run.wait(timeout=60)
    assert result.returncode == 0, result.explain()
    summary = result.summary
    assert summary["outcome"] == "promoted" and summary["stagesPassed"] == 2 and summary["finalWeight"] == 100
    decisions = ld.decisions(RELEASE)
    asked = next(d for d in decisions if d["kind"] == "approval.requested")
    passed = [d for d in decisions if d["kind"] == "stage.passed"]
    assert "sre" in asked["reason"]
    assert len(passed) == 2 and "signed by sre" in passed[0]["reason"]
    assert passed[0]["seq"] > asked["seq"]
    # the sign-off is part of the signed evidence
    signoffs = bundle_statement(ld.cwd / summary["evidence"])["predicate"]["signoffs"]
    assert [(s["who"], s["role"], s["stage"]) for s in signoffs] == [("sam", "sre", 1)]


def test_approvals_recorded_ahead_promote_without_waiting(ld: Launchdeck) -> None:
    ld.write("payments.yaml", APPROVE_PLAN.replace("HOLD_TIMEOUT", "30m"))
    ld.write("approvals.yaml", """
        - {who: lee, role: sre, stage: 1}
    """)
    result = ld("run", "payments.yaml", "--approvals", "approvals.yaml", "--time-scale", "60", "--output", "json",
                "--seed", "23", timeout=60)
    assert result.returncode == 0, result.explain()
    summary = result.summary
    assert summary["outcome"] == "promoted" and summary["stagesPassed"] == 2
    kinds = ld.kinds(RELEASE)
    assert "approval.requested" not in kinds  # nobody was asked: the sign-off was already there
    assert ld.release(RELEASE)["plan_clock"] < 30 * 60  # far from the hold timeout
    signoffs = bundle_statement(ld.cwd / summary["evidence"])["predicate"]["signoffs"]
    assert [(s["who"], s["role"], s["stage"], s["source"]) for s in signoffs] == [("lee", "sre", 1, "approvals-file")]


def test_approvals_file_with_a_stranger_is_refused_before_the_run_starts(ld: Launchdeck) -> None:
    ld.write("payments.yaml", APPROVE_PLAN.replace("HOLD_TIMEOUT", "1m"))
    ld.write("approvals.yaml", """
        - {who: lee, role: sre, stage: 1}
        - {who: priya, role: sre, stage: 1}
        - {who: sam, role: sre, stage: 4}
    """)
    result = ld("run", "payments.yaml", "--approvals", "approvals.yaml", "--time-scale", "60", "--output", "json")
    assert result.returncode == 2, result.explain()
    assert "Traceback" not in result.stderr
    assert "approvals.yaml:2: sign-off of stage 1 by priya (sre): priya is not in role 'sre'" in result.stderr
    assert "approvals.yaml:3: sign-off of stage 4 by sam (sre): the plan has no stage 4" in result.stderr
    assert ld.release(RELEASE) is None  # nothing recorded, not even lee's valid sign-off
    assert not (ld.cwd / "evidence").exists()


def test_person_decides_rollback_in_an_open_decision_window(ld: Launchdeck) -> None:
    ld.write("search.yaml", """
        apiVersion: launchdeck/v1
        kind: Release
        metadata: {name: search-v9, version: v9, previousVersion: v8}
        spec:
          target:
            versions:
              canary:
                errorRate: 0.1%
                faults:
                  - {from: 30s, errorRate: 40%}
            load: {rps: 200, users: 1000}
          roles:
            sre: [sam, lee]
            product-owner: [priya]
          stages:
            - {weight: 50%, hold: 10m}
            - {weight: 100%, hold: 1m}
          analysis: {interval: 10s, window: 2m, minRequests: 20}
          gates:
            - {name: error-rate, metric: error_rate, op: ">=", threshold: 10%, severity: urgent}
          rollback:
            policy:
              urgent: {window: 1h, authority: [sre], default: hold}
    """)
    run = ld.start("run", "search.yaml", "--time-scale", "60", "--output", "json", "--seed", "27")
    wait_for(lambda: (ld.release("search-v9") or {}).get("engine", {}).get("phase") == "deciding", timeout=60,
             what="the decision window to open", alive=run)
    status = ld("status", "search-v9")
    assert status.returncode == 0, status.explain()
    assert "waiting for a decision on gate error-rate from sre — deadline " in status.stdout, status.stdout
    assert ("then the run ends held — run: launchdeck approve search-v9 --decision continue|rollback --role sre "
            "--as NAME") in status.stdout, status.stdout

    # someone with a valid role but no authority over this window is not obeyed
    ld("approve", "search-v9", "--role", "product-owner", "--as", "priya", "--decision", "continue")
    wait_for(lambda: "decision.refused" in ld.kinds("search-v9"), timeout=30, what="the refusal of priya's decision",
             alive=run)
    assert ld.release("search-v9")["engine"]["phase"] == "deciding"

    decide = ld("approve", "search-v9", "--role", "sre", "--as", "sam", "--decision", "rollback",
                "--reason", "errors on checkout")
    assert decide.returncode == 0, decide.explain()
    result = run.wait(timeout=60)
    assert result.returncode == 3, result.explain()
    summary = result.summary
    assert summary["outcome"] == "rolled_back" and summary["firedGate"] == "error-rate" and summary["finalWeight"] == 0
    why = ld("why", "search-v9")
    assert "sam (sre) chose rollback on gate error-rate: errors on checkout" in why.stdout, why.stdout
    assert "decision.default" not in why.stdout  # a person decided, the default was not needed


def test_kill_switch_rolls_back_a_healthy_canary_at_once(ld: Launchdeck) -> None:
    ld.write("payments.yaml", APPROVE_PLAN.replace("HOLD_TIMEOUT", "1h").replace("hold: 1m, approve: [sre]",
                                                                               "hold: 1h"))
    run = ld.start("run", "payments.yaml", "--time-scale", "60", "--output", "json", "--seed", "29")
    wait_for(lambda: "evaluation" in ld.kinds(RELEASE), timeout=60, what="the first evaluation", alive=run)

    refused = ld("kill", RELEASE, "--role", "product-owner", "--as", "sam")
    assert refused.returncode == 2, refused.explain()
    assert "sam is not in role 'product-owner' (members: priya)" in refused.stderr

    pulled = ld("kill", RELEASE, "--role", "sre", "--as", "lee", "--reason", "pager storm")
    assert pulled.returncode == 0, pulled.explain()
    result = run.wait(timeout=60)
    assert result.returncode == 3, result.explain()
    summary = result.summary
    assert summary["outcome"] == "rolled_back" and summary["firedGate"] == "kill-switch"
    assert summary["finalWeight"] == 0 and summary["stagesPassed"] == 0
    decisions = ld.decisions(RELEASE)
    started = next(d for d in decisions if d["kind"] == "rollback.started")
    assert "kill switch pulled by lee (sre): pager storm" in started["reason"]
    steps = [d["inputs"]["step"] for d in decisions if d["kind"] == "rollback.step"]
    assert steps == ["kill-switch", "traffic-to-stable", "drain-canary", "verify", "announce"]
    # the whole hold was 1h of plan time: the kill cut it short
    assert ld.release(RELEASE)["plan_clock"] < 3600
