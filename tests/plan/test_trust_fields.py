"""Plan fields of issue 12 (supply chain, event gates, command hooks, load tests): each mistake comes back
located, with what to write instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from launchdeck.errors import PlanError
from launchdeck.plan import load_plan

BASE = """\
apiVersion: launchdeck/v1
kind: Release
metadata: {name: demo-v1, version: v1}
spec:
  stages:
    - {weight: 50%, hold: 10m}
"""


def problems(tmp_path: Path, extra: str, base: str = BASE) -> str:
    path = tmp_path / "plan.yaml"
    path.write_text(base + extra)
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    return str(caught.value)


def loads(tmp_path: Path, extra: str, base: str = BASE) -> object:
    path = tmp_path / "plan.yaml"
    path.write_text(base + extra)
    return load_plan(path).doc


def test_checks_against_the_artefact_need_one(tmp_path: Path) -> None:
    text = problems(tmp_path, """\
  preflight:
    supplyChain:
      sbom: {path: sbom.json}
      provenance: {builders: [b], sources: [s]}
""")
    assert "sbom is checked against the artefact, and there is none" in text
    assert "provenance is read from a signed SLSA attestation, and there is none" in text


def test_a_sigstore_bundle_names_one_way_to_trust_it(tmp_path: Path) -> None:
    text = problems(tmp_path, """\
  preflight:
    supplyChain:
      artifact: {digest: "sha256:%s"}
      signature: {sigstore: {bundle: b.json}}
""" % ("a" * 64))
    assert "exactly one of `trustedRoot`" in text


def test_an_allow_list_entry_needs_a_reason_and_an_expiry(tmp_path: Path) -> None:
    text = problems(tmp_path, """\
  preflight:
    supplyChain:
      artifact: {digest: "sha256:%s"}
      vulnerabilities: {report: grype.json, allow: [{id: CVE-2024-3094}]}
""" % ("a" * 64))
    assert "reason" in text and "expires" in text


def test_an_event_gate_compiles_to_the_event_judge_and_its_fault_rate_is_per_second(tmp_path: Path) -> None:
    from launchdeck.plan import to_policy

    doc = loads(tmp_path, """\
  target:
    versions:
      canary: {faults: [{from: 2m, events: {cross_tenant_denied: 30/m}}]}
  gates:
    - {name: cross-tenant, event: cross_tenant_denied}
""")
    gate = to_policy(doc.spec).gates[0]  # type: ignore[attr-defined]
    assert (gate.test, gate.metric, gate.severity) == ("event", "cross_tenant_denied", "immediate")
    assert doc.spec.target.versions.canary.faults[0].events == {"cross_tenant_denied": 0.5}  # type: ignore[attr-defined]


def test_an_event_gate_takes_no_metric_and_a_gate_needs_one_or_the_other(tmp_path: Path) -> None:
    text = problems(tmp_path, """\
  gates:
    - {name: a, event: cross_tenant_denied, metric: error_rate, for: 1m}
    - {name: b, severity: immediate}
""")
    assert "spec.gates[0]: an event gate fires on any occurrence of its event\n    fix: drop metric, for" in text
    assert "spec.gates[1]: a gate needs a metric (with op and threshold) or an event\n    fix: write metric" in text


def test_command_hooks_name_known_placeholders_and_unique_steps(tmp_path: Path) -> None:
    text = problems(tmp_path, """\
  target:
    router:
      type: command
      commands: {set: "deploy --canary {{weight}} --image {{imgae}}", read: "status", parse: "(a)(b)"}
    metrics: {type: prometheus, url: "http://127.0.0.1:9090"}
  rollback:
    steps:
      - kill-switch
      - {name: restore-db, run: "pitr-restore {{release}}", verify: "pitr-status {{stage}}"}
      - {name: restore-db, run: "true"}
      - {name: verify, run: "true"}
""")
    assert "spec.target.router.commands.set: unknown placeholder {{imgae}}" in text
    assert "the pattern has 2 groups" in text
    assert "spec.rollback.steps[1].verify: unknown placeholder {{stage}}" in text
    assert "spec.rollback.steps[2].name: step name 'restore-db' is used twice" in text
    assert "spec.rollback.steps[3].name: step name 'verify' is used twice (or is a built-in step's)" in text


def test_a_command_router_needs_its_commands_and_may_rehearse_on_the_local_fleet(tmp_path: Path) -> None:
    assert "a command router needs `commands`" in problems(tmp_path, "  target: {router: {type: command}}\n")
    doc = loads(tmp_path, "  target: {router: {type: command, commands: {set: 's {{weight}}', read: r}}}\n")
    assert doc.spec.target.on_embedded_fleet()  # type: ignore[attr-defined]


def test_load_test_gates_need_a_stage_that_runs_one_and_an_absolute_limit(tmp_path: Path) -> None:
    text = problems(tmp_path, """\
  gates:
    - {name: p95, source: loadtest, metric: latency_p95_ms, op: ">", threshold: +20%, vs: baseline}
    - {name: odd, source: loadtest, metric: cpu, op: ">", threshold: 1}
""")
    assert "no stage runs a load test, so this gate would never be judged" in text
    assert "a load-test gate has no baseline to be relative to" in text
    assert "a load test does not measure 'cpu'" in text


def test_a_stage_runs_one_load_test_tool_and_needs_a_host_off_the_local_fleet(tmp_path: Path) -> None:
    assert "exactly one of `locust`" in problems(tmp_path, """\
    - {weight: 100%, loadTest: {locust: locustfile.py, k6: summary.json}}
""")
    real = BASE.replace("spec:\n", "spec:\n  target:\n    router: {type: command, commands: {set: s, read: r}}\n"
                        "    metrics: {type: prometheus, url: 'http://127.0.0.1:9090'}\n")
    assert "a Locust load test of a real target needs its `host`" in problems(tmp_path, """\
    - {weight: 100%, loadTest: {locust: locustfile.py}}
""", base=real)
