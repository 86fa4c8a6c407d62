"""`launchdeck run` end to end on the embedded local fleet: real sample apps, router and load on loopback.

Plans here are small and played at high time scales. The local metrics source counts requests in
one-second wall slices, so every analysis window is kept at >= 2 wall seconds (window / time-scale)
and the number of canary requests per window stays well above minRequests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ld_integration import (
    EXAMPLES,
    Launchdeck,
    Result,
    assert_store_isolated,
    bundle_statement,
    launchdeck_in,
)

pytestmark = pytest.mark.integration

RELEASE = "intelgraph-v0.1.0"


def _ok(result: Result, code: int) -> dict[str, Any]:
    assert result.returncode == code, result.explain()
    assert "Traceback" not in result.stderr, result.explain()
    return result.summary


# -- the example plan: a canary that turns bad two minutes in ------------------------------------


@pytest.fixture(scope="module")
def intelgraph(tmp_path_factory: pytest.TempPathFactory,
               new_store_url: Callable[[Path], AbstractContextManager[str]]) -> Iterator[tuple[Launchdeck, Result]]:
    """One run of examples/intelgraph-canary.yaml, shared by the checks below (it takes ~12 s), in a
    release store of its own on the selected backend."""
    cwd = tmp_path_factory.mktemp("intelgraph")
    with new_store_url(cwd) as db_url:
        with launchdeck_in(cwd, db_url) as cli:
            yield cli, _run_intelgraph(cli)
        assert_store_isolated(db_url)


def _run_intelgraph(cli: Launchdeck) -> Result:
    text = (EXAMPLES / "intelgraph-canary.yaml").read_text(encoding="utf-8")
    now = datetime.now(UTC)
    if now.weekday() == 1 and 20 <= now.hour < 23:
        # The example declares a Tuesday 20:00-23:00 UTC change freeze and is refused inside it; only
        # then is the freeze lifted, so the test gives the same answer at any hour.
        text = re.sub(r"(?m)^(\s*)freeze: .*$", r"\1freeze: []", text)
    (cli.cwd / "intelgraph-canary.yaml").write_text(text, encoding="utf-8")
    return cli("run", "intelgraph-canary.yaml", "--time-scale", "60", "--output", "json", "--seed", "2")


def test_bad_canary_is_rolled_back_by_the_error_rate_gate(intelgraph: tuple[Launchdeck, Result]) -> None:
    cli, result = intelgraph
    summary = _ok(result, 3)
    assert summary["release"] == RELEASE
    assert summary["outcome"] == "rolled_back"
    assert summary["firedGate"] == "error-rate"
    assert summary["finalWeight"] == 0
    assert summary["canaryErrors"] > 0
    assert summary["canaryRequests"] > summary["canaryErrors"]
    # the fault starts 2m in and the gate needs 5m of breach: detection cannot come before 5m of plan time
    assert summary["detectedAfterSeconds"] is not None and summary["detectedAfterSeconds"] >= 300 / 60
    assert summary["rollbackSeconds"] is not None and 0 <= summary["rollbackSeconds"] < 5
    assert Path(cli.cwd / summary["evidence"]).is_file()
    # what an operator sees afterwards agrees with the summary
    status = cli("status", RELEASE)
    assert status.returncode == 0, status.explain()
    assert "rolled back at stage " in status.stdout and "canary at 0%" in status.stdout
    assert re.search(r"error-rate: fired", status.stdout), status.stdout


def test_evidence_bundle_verifies(intelgraph: tuple[Launchdeck, Result]) -> None:
    cli, result = intelgraph
    bundle = cli.cwd / result.summary["evidence"]
    verify = cli("evidence", "verify", bundle)
    assert verify.returncode == 0, verify.explain()
    assert "OK" in verify.stdout and "rolled_back" in verify.stdout
    # also against the trusted public key written next to the signing key
    trusted = cli("evidence", "verify", bundle, "--key", "keys/release-signing.key.pub")
    assert trusted.returncode == 0, trusted.explain()
    statement = bundle_statement(bundle)["predicate"]
    assert statement["release"] == RELEASE
    assert statement["summary"]["outcome"] == "rolled_back"
    assert "gate.fired" in [d["kind"] for d in statement["decisions"]]


@pytest.mark.parametrize("where", ["payload", "signature", "whitespace"])
def test_one_character_change_to_the_bundle_fails_verification(intelgraph: tuple[Launchdeck, Result],
                                                               where: str, tmp_path: Path) -> None:
    cli, result = intelgraph
    original = (cli.cwd / result.summary["evidence"]).read_text(encoding="utf-8")
    envelope = json.loads(original)
    if where == "payload":
        target, expected = envelope["payload"], "signature does not match the payload"
    elif where == "signature":
        target, expected = envelope["signatures"][0]["sig"], "signature does not match the payload"
    else:
        target, expected = None, "edited after signing"
    if target is None:
        at = original.index('"payloadType"')
        tampered = original[:at] + " " + original[at:]  # one extra space
    else:
        i = len(target) // 2
        swapped = "B" if target[i] != "B" else "C"
        at = original.index(target) + i
        tampered = original[:at] + swapped + original[at + 1:]
    assert len(tampered) - len(original) in (0, 1)
    copy = tmp_path / "tampered.bundle.json"
    copy.write_text(tampered, encoding="utf-8")
    verify = cli("evidence", "verify", copy)
    assert verify.returncode != 0, verify.explain()
    assert "Traceback" not in verify.stderr
    assert expected in verify.stderr, verify.explain()
    assert "OK" not in verify.stdout


def test_audit_log_chain_verifies(intelgraph: tuple[Launchdeck, Result]) -> None:
    cli, _ = intelgraph
    audit = cli("audit", "verify", RELEASE)
    assert audit.returncode == 0, audit.explain()
    assert f"chained intact for {RELEASE}" in audit.stdout


def test_notifications_carry_real_values(intelgraph: tuple[Launchdeck, Result]) -> None:
    cli, _ = intelgraph
    lines = [json.loads(line) for line in (cli.cwd / "notifications.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    by_event: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_event.setdefault(line["event"], []).append(line)
    assert by_event.get("gate.fired") and by_event.get("rollback.completed"), sorted(by_event)
    for line in lines:
        for marker in ("{{", "}}", "{%", "None", "Undefined"):
            assert marker not in line["text"] and marker not in line["title"], line
    fired = by_event["gate.fired"][0]["text"]
    assert "error-rate" in fired and RELEASE in fired
    assert re.search(r"error_rate was \d+\.\d\d%, threshold 2\.00%", fired), fired
    completed = by_event["rollback.completed"][0]["text"]
    assert "v0.0.9" in completed and "0%" in completed, completed


def test_the_inspection_verbs_agree_with_the_run(intelgraph: tuple[Launchdeck, Result]) -> None:
    cli, _ = intelgraph
    listed = cli("list")
    assert listed.returncode == 0, listed.explain()
    assert re.search(rf"(?m)^{re.escape(RELEASE)}\s+done\s+\d\s+0%\s+rolled_back\s+\d{{4}}-", listed.stdout), listed.stdout
    rows = json.loads(cli("list", "--output", "json").stdout)
    assert [(r["name"], r["phase"], r["outcome"], r["archived"]) for r in rows] == [(RELEASE, "done", "rolled_back", False)]

    state = json.loads(cli("status", RELEASE, "--output", "json").stdout)
    assert (state["phase"], state["weight"], state["outcome"], state["firedGate"]) == ("done", 0, "rolled_back", "error-rate")
    assert state["gates"]["error-rate"]["status"] == "fired" and "2.00%" in state["gates"]["error-rate"]["reason"]
    assert state["waiting"] is None and state["timeScale"] == 60 and state["planTime"] > 300

    # a release that has ended: --watch shows it once and exits with its outcome's status
    watched = cli("status", RELEASE, "--watch", "--interval", "200ms")
    assert watched.returncode == 3 and watched.stdout.count(f"{RELEASE}: rolled back at stage") == 1, watched.explain()

    decisions = json.loads(cli("why", RELEASE, "--output", "json").stdout)
    assert [d["seq"] for d in decisions] == sorted(d["seq"] for d in decisions)
    fired = next(d for d in decisions if d["kind"] == "gate.fired")
    assert fired["gate"] == "error-rate" and fired["inputs"]["severity"] == "immediate" and fired["wallAt"]
    assert all(d["kind"] != "evaluation" for d in decisions)
    every = json.loads(cli("why", RELEASE, "--all", "--output", "json").stdout)
    assert any(d["kind"] == "evaluation" and d["inputs"]["verdicts"] for d in every)


# -- small plans of our own -------------------------------------------------------------------------

HEALTHY = """
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: checkout-v2, service: checkout, version: v2, previousVersion: v1}
    spec:
      target:
        router: {type: local}
        metrics: {type: local}
        versions:
          stable: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
          canary: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
        load: {rps: 200, users: 1000}
      stages:
        - {weight: 20%, hold: 2m}
        - {weight: 50%, hold: 1m}
        - {weight: 100%, hold: 1m}
      analysis: {interval: 10s, window: 2m, minRequests: 20}
      gates:
        - {name: error-rate, metric: error_rate, op: ">=", threshold: 5%, for: 1m, severity: immediate}
        - {name: p95, metric: latency_p95_ms, op: ">", threshold: +100%, vs: baseline, for: 1m, severity: immediate}
"""


def test_healthy_plan_is_promoted(ld: Launchdeck) -> None:
    ld.write("healthy.yaml", HEALTHY)
    summary = _ok(ld("run", "healthy.yaml", "--time-scale", "60", "--output", "json", "--seed", "3"), 0)
    assert summary["outcome"] == "promoted"
    assert summary["finalWeight"] == 100
    assert summary["stagesPassed"] == 3
    assert summary["firedGate"] is None
    kinds = ld.kinds("checkout-v2")
    assert kinds.count("stage.passed") == 3 and kinds[-1] == "release.promoted"
    assert "gate.fired" not in kinds and "rollback.started" not in kinds
    # one bundle per stage and one for the release, all of them verifiable
    bundles = sorted(p.name for p in (ld.cwd / "evidence").glob("*.bundle.json"))
    run = ld.store().require(name="checkout-v2").id
    assert bundles == [f"checkout-v2.run{run}.bundle.json", f"checkout-v2.run{run}.stage-1.bundle.json",
                       f"checkout-v2.run{run}.stage-2.bundle.json", f"checkout-v2.run{run}.stage-3.bundle.json"]
    verify = ld("evidence", "verify", summary["evidence"])
    assert verify.returncode == 0 and "promoted" in verify.stdout, verify.explain()


def test_short_spike_under_the_for_duration_does_not_fire(ld: Launchdeck) -> None:
    # 30s of 50% errors; the gate needs 2m of continuous breach. The window (30s) is short enough that
    # the spike cannot stay in it for 2m, and the test is played slowly enough (30s = 2 wall s) for the
    # local metrics' one-second slices to see it.
    ld.write("spike.yaml", """
        apiVersion: launchdeck/v1
        kind: Release
        metadata: {name: spike-v2, version: v2, previousVersion: v1}
        spec:
          target:
            versions:
              stable: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
              canary:
                errorRate: 0.1%
                latency: {median: 20ms, p95: 60ms}
                faults:
                  - {from: 1m, to: 90s, errorRate: 50%}   # `1m30s` is not accepted as a duration
            load: {rps: 200, users: 1000}
          stages:
            - {weight: 50%, hold: 150s}
            - {weight: 100%, hold: 15s}
          analysis: {interval: 5s, window: 30s, minRequests: 20}
          gates:
            - {name: error-rate, metric: error_rate, op: ">=", threshold: 5%, for: 2m, severity: immediate}
    """)
    summary = _ok(ld("run", "spike.yaml", "--time-scale", "15", "--output", "json", "--seed", "5"), 0)
    assert summary["outcome"] == "promoted" and summary["firedGate"] is None
    assert summary["canaryErrors"] > 20  # the spike really happened...
    evaluations = [d for d in ld.decisions("spike-v2") if d["kind"] == "evaluation"]
    breaches = [d for d in evaluations if d["inputs"]["verdicts"][0]["status"] == "breach"]
    assert breaches, "the spike was never seen as a breach: the test would prove nothing"  # ...and was seen
    assert "gate.fired" not in ld.kinds("spike-v2")


def test_thin_traffic_never_promotes_and_ends_held(ld: Launchdeck) -> None:
    ld.write("thin.yaml", """
        apiVersion: launchdeck/v1
        kind: Release
        metadata: {name: thin-v2, version: v2, previousVersion: v1}
        spec:
          target:
            load: {rps: 50, users: 100}
          stages:
            - {weight: 10%, hold: 30s}
            - {weight: 100%, hold: 30s}
          analysis: {interval: 10s, window: 2m, minRequests: 100000, maxInconclusive: 1, holdTimeout: 1m}
          gates:
            - {name: error-rate, metric: error_rate, op: ">=", threshold: 5%, severity: immediate}
    """)
    summary = _ok(ld("run", "thin.yaml", "--time-scale", "60", "--output", "json", "--seed", "11"), 4)
    assert summary["outcome"] == "held"
    assert summary["stagesPassed"] == 0
    assert summary["finalWeight"] == 10  # the canary keeps its weight for a person to take over
    assert summary["firedGate"] is None
    why = ld("why", "thin-v2")
    assert why.returncode == 0, why.explain()
    assert "hold.started" in why.stdout and "without enough data" in why.stdout
    assert "stage.passed" not in why.stdout
    assert "release.held" in why.stdout


def test_latency_regression_fires_relative_p95_gate(ld: Launchdeck) -> None:
    ld.write("slow.yaml", """
        apiVersion: launchdeck/v1
        kind: Release
        metadata: {name: slow-v2, version: v2, previousVersion: v1}
        spec:
          target:
            versions:
              stable: {errorRate: 0.1%, latency: {median: 40ms, p95: 120ms}}
              canary:
                errorRate: 0.1%
                latency: {median: 40ms, p95: 120ms}
                faults:
                  - {from: 1m, latency: {median: 120ms, p95: 360ms}}
            load: {rps: 300, users: 1000}
          stages:
            - {weight: 50%, hold: 10m}
            - {weight: 100%, hold: 1m}
          analysis: {interval: 10s, window: 2m, minRequests: 80, method: threshold}  # the sequential default: test_cli_judges
          gates:
            - {name: error-rate, metric: error_rate, op: ">=", threshold: 5%, for: 1m, severity: immediate}
            - {name: p95-regression, metric: latency_p95_ms, op: ">", threshold: +50%, vs: baseline, for: 30s, severity: immediate}
    """)
    summary = _ok(ld("run", "slow.yaml", "--time-scale", "60", "--output", "json", "--seed", "13"), 3)
    assert summary["outcome"] == "rolled_back"
    assert summary["firedGate"] == "p95-regression"
    assert summary["finalWeight"] == 0 and summary["stagesPassed"] == 0
    fired = [d for d in ld.decisions("slow-v2") if d["kind"] == "gate.fired"]
    assert len(fired) == 1 and fired[0]["gate"] == "p95-regression"
    assert "latency_p95_ms" in fired[0]["reason"] and "baseline" in fired[0]["reason"]
    assert fired[0]["plan_at"] >= 60  # not before the canary slowed down


def test_decision_window_expires_and_default_is_taken(ld: Launchdeck) -> None:
    ld.write("urgent.yaml", """
        apiVersion: launchdeck/v1
        kind: Release
        metadata: {name: urgent-v2, version: v2, previousVersion: v1}
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
          stages:
            - {weight: 50%, hold: 10m}
            - {weight: 100%, hold: 1m}
          analysis: {interval: 10s, window: 2m, minRequests: 20}
          gates:
            - {name: error-rate, metric: error_rate, op: ">=", threshold: 10%, severity: urgent}
          rollback:
            policy:
              urgent: {window: 1m, authority: [sre], default: rollback}
    """)
    summary = _ok(ld("run", "urgent.yaml", "--time-scale", "60", "--output", "json", "--seed", "17"), 3)
    assert summary["outcome"] == "rolled_back"
    assert summary["firedGate"] == "error-rate"
    assert summary["finalWeight"] == 0
    decisions = ld.decisions("urgent-v2")
    opened = next(d for d in decisions if d["kind"] == "decision.requested")
    default = next(d for d in decisions if d["kind"] == "decision.default")
    assert default["plan_at"] - opened["plan_at"] >= 60  # the window stayed open its full minute
    why = ld("why", "urgent-v2")
    assert why.returncode == 0, why.explain()
    assert "decision.requested" in why.stdout
    assert re.search(r"nobody decided .*default 'rollback' taken", why.stdout), why.stdout
