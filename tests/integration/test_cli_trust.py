"""Issue 12 end to end, `launchdeck run` on the local fleet: a release refused by its supply chain, a canary
rolled back at the first evaluation that sees cross-tenant denials (after a supply-chain preflight that
passes), and a release driven entirely by `command` router scripts: promoted once, then rolled back by a
Locust stage's gate on a slowed canary, with a database-restore `run` step that is verified, through a
crash in the middle of that step.

Plans are tiny and played fast; each window is at least 2 wall seconds. The scripts are small Python
programs in the test's folder, run with this interpreter.
"""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any

import pytest
from ld_integration import Launchdeck, Result, bundle_statement
from supply_chain_files import DIGEST, FAKE_AWS_KEY, ReleaseFiles, grype_report

pytestmark = pytest.mark.integration

PY = shlex.quote(sys.executable)
#: A platform CLI stand-in: it moves the embedded router's weight through its admin API, as `kubectl apply`
#: moves a cluster's.
CTL = """\
import os, sys, urllib.request
base = os.environ["LAUNCHDECK_LOCAL_ROUTER"]
if sys.argv[1] == "set":
    request = urllib.request.Request(base + "/weight", data=sys.argv[2].encode(), method="PUT")
else:
    request = urllib.request.Request(base + "/weight")
with urllib.request.urlopen(request, timeout=5) as answer:
    print("traffic split: canary", answer.read().decode().strip())
"""
#: A point-in-time restore stand-in: `run` appends to restores.log (and prints the database password,
#: which must never be kept), `verify` succeeds once a restore happened.
RESTORE = """\
import os, pathlib, sys
log = pathlib.Path("restores.log")
if sys.argv[1] == "run":
    with log.open("a") as f:
        f.write("restored\\n")
    print("restored orders-db to before the release with password", os.environ["ORDERS_DB_PASSWORD"])
else:
    sys.exit(0 if log.is_file() else 1)
"""
LOCUSTFILE = """\
from locust import HttpUser, constant, task


class Shopper(HttpUser):
    wait_time = constant(0.05)

    @task
    def browse(self):
        self.client.get("/catalog")
"""
PASSWORD = "pw-3f9c2e71"


def ok(result: Result, code: int) -> dict[str, Any]:
    assert result.returncode == code, result.explain()
    assert "Traceback" not in result.stderr, result.explain()
    return result.summary


def statement(ld: Launchdeck, summary: dict[str, Any]) -> dict[str, Any]:
    return bundle_statement(ld.cwd / summary["evidence"])["predicate"]


def plan(name: str, spec: str) -> str:
    return f"apiVersion: launchdeck/v1\nkind: Release\nmetadata: {{name: {name}, version: v2, previousVersion: v1}}\nspec:\n{spec}"


def test_a_release_failing_its_supply_chain_is_refused_with_every_reason_and_nothing_starts(ld: Launchdeck) -> None:
    files = ReleaseFiles(ld.cwd)
    (ld.cwd / "sbom.cdx.json").unlink()
    files.write_json("grype.json", grype_report(DIGEST, [("CVE-2024-3094", "Critical", "xz-utils", "5.6.0")]))
    files.write_text("config/app.yaml", f"aws:\n  access_key_id: {FAKE_AWS_KEY}\n")
    section = files.plan_section()
    section["residency"]["region"] = "eu-west-1"
    ld.write("plan.yaml", plan("refused-v2", f"  preflight: {{supplyChain: {json.dumps(section)}}}\n"
                                             "  stages: [{weight: 100%}]\n"))
    summary = ok(ld("run", "plan.yaml", "--output", "json"), 4)
    assert summary["outcome"] == "refused" and summary["canaryRequests"] == 0
    for reason in ("supplyChain.sbom: sbom.path", "1 critical (limit 0): CVE-2024-3094 in xz-utils 5.6.0",
                   "config/app.yaml:2: AWS Access Key", "the target is in eu-west-1, outside the allowed regions (us-*)"):
        assert reason in summary["reason"]
    assert "(fix: " in summary["reason"] and FAKE_AWS_KEY not in summary["reason"]
    checks = {c["name"]: c for c in statement(ld, summary)["checks"]}
    assert checks["supplyChain.signature.sigstore"]["passed"] and not checks["supplyChain.residency"]["passed"]
    assert FAKE_AWS_KEY not in (ld.cwd / summary["evidence"]).read_text()


def test_a_canary_emitting_cross_tenant_denials_is_rolled_back_at_the_first_evaluation_after(ld: Launchdeck) -> None:
    files = ReleaseFiles(ld.cwd)
    ld.write("plan.yaml", plan("tenant-v2", f"""\
  preflight: {{supplyChain: {json.dumps(files.plan_section())}}}
  target:
    versions:
      canary: {{faults: [{{from: 20s, events: {{cross_tenant_denied: 2/s}}}}]}}
    load: {{rps: 100}}
  stages: [{{weight: 50%, hold: 5m}}, {{weight: 100%, hold: 1m}}]
  analysis: {{interval: 10s, window: 40s, minRequests: 20}}
  gates:
    - {{name: cross-tenant, event: cross_tenant_denied}}
"""))
    summary = ok(ld("run", "plan.yaml", "--time-scale", "20", "--output", "json", "--seed", "3"), 3)
    assert summary["firedGate"] == "cross-tenant"
    decisions = ld.decisions("tenant-v2")
    evaluations = [d for d in decisions if d["kind"] == "evaluation"]
    statuses = [d["inputs"]["verdicts"][0]["status"] for d in evaluations]
    first = statuses.index("breach")  # the first evaluation whose slice holds a denial...
    assert "breach" not in statuses[:first] and len(evaluations) == first + 1
    fired = next(d for d in decisions if d["kind"] == "gate.fired")
    rollback = next(d for d in decisions if d["kind"] == "rollback.started")
    assert fired["plan_at"] == rollback["plan_at"] == evaluations[first]["plan_at"]  # ...rolls back there and then
    assert "cross_tenant_denied event(s) from the canary" in fired["reason"]
    checks = statement(ld, summary)["checks"]
    assert [c["name"] for c in checks if c["passed"]] == [
        "supplyChain.artifact", "supplyChain.signature.sigstore", "supplyChain.signature.attestation",
        "supplyChain.provenance", "supplyChain.sbom", "supplyChain.vulnerabilities", "supplyChain.secrets",
        "supplyChain.residency"]


def command_plan(name: str, *, canary: str, first_stage: str, gates: str, steps: str) -> str:
    return plan(name, f"""\
  target:
    router:
      type: command
      commands: {{set: "{PY} ctl.py set {{{{weight}}}}", read: "{PY} ctl.py read", parse: "canary (\\\\d+(?:\\\\.\\\\d+)?)"}}
    metrics: {{type: local}}
    versions: {{canary: {canary}}}
    load: {{rps: 100}}
  stages: [{first_stage}, {{weight: 100%, hold: 20s}}]
  analysis: {{interval: 20s, window: 40s, minRequests: 20}}
  gates: {gates}
  rollback:
    steps: {steps}
""")


def test_a_release_driven_by_command_scripts_is_promoted_with_each_weight_read_back(ld: Launchdeck) -> None:
    ld.write("ctl.py", CTL)
    ld.write("plan.yaml", command_plan("scripted-v2", canary="{errorRate: 0%}", first_stage="{weight: 30%, hold: 20s}",
                                       gates="[{name: errors, metric: error_rate, op: '>=', threshold: 5%}]",
                                       steps="[traffic-to-stable]"))
    summary = ok(ld("run", "plan.yaml", "--time-scale", "20", "--output", "json", "--seed", "4"), 0)
    assert summary["outcome"] == "promoted" and summary["finalWeight"] == 100
    assert summary["canaryRequests"] > 0  # the scripts moved real traffic to the canary
    started = [d["inputs"]["weight"] for d in ld.decisions("scripted-v2") if d["kind"] == "stage.started"]
    assert started == [30, 100]


def test_a_locust_gate_rolls_a_slow_canary_back_and_a_restore_step_survives_a_crash(ld: Launchdeck) -> None:
    ld.write("ctl.py", CTL)
    ld.write("restore.py", RESTORE)
    ld.write("locustfile.py", LOCUSTFILE)
    restore = (f"{{name: restore-db, run: '{PY} restore.py run', verify: '{PY} restore.py verify', "
               "secretEnv: [ORDERS_DB_PASSWORD]}")
    ld.write("plan.yaml", command_plan(
        "slow-v2", canary="{latency: {median: 300ms, p95: 500ms}}",
        first_stage="{weight: 30%, hold: 40s, loadTest: {locust: locustfile.py, users: 4, duration: 2s}}",
        gates="[{name: p95-under-load, source: loadtest, metric: latency_p95_ms, op: '>', threshold: 250ms}]",
        steps=f"[traffic-to-stable, {restore}, verify]"))
    ld.env["ORDERS_DB_PASSWORD"] = PASSWORD
    ld.env["LAUNCHDECK_FAILPOINT"] = "rollback.run_step"  # killed once the restore ran, before it is recorded
    crashed = ld("run", "plan.yaml", "--time-scale", "20", "--output", "json", "--seed", "5")
    assert crashed.returncode == -9, crashed.explain()
    del ld.env["LAUNCHDECK_FAILPOINT"]
    summary = ok(ld("run", "plan.yaml", "--time-scale", "20", "--output", "json", "--seed", "5"), 3)
    assert summary["firedGate"] == "p95-under-load"
    assert (ld.cwd / "restores.log").read_text() == "restored\n"  # verified after the restart, not run twice
    decisions = ld.decisions("slow-v2")
    load = next(d for d in decisions if d["kind"] == "loadtest.completed")
    assert load["inputs"]["tool"] == "Locust" and load["inputs"]["requests"] > 0 and load["inputs"]["p95Ms"] > 250
    steps = [d for d in decisions if d["kind"] == "rollback.step"]
    assert [d["inputs"]["step"] for d in steps] == ["traffic-to-stable", "restore-db", "verify"]
    restored = steps[1]["inputs"]
    assert restored["resumed"] is True and restored["verify"]["exit"] == 0
    evidence = statement(ld, summary)
    kept = json.dumps(evidence)
    assert "loadtest.completed" in kept and "restore-db" in kept and PASSWORD not in kept
