"""The guard rails over the API, for a tenant of their own (initech) so the shared server's other tenants
keep no policy: a plan bending a locked SLO is a 422 naming both files; spend pages and pauses; the
operator endpoints answer with the CLI's objects; writes are admin's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ld_server import Api, assert_problem, plan

from launchdeck.store import tokens

POLICY = """apiVersion: launchdeck/v1
kind: TenantPolicy
metadata: {tenant: initech}
spec:
  lockedSlos:
    - {name: error-rate, metric: error_rate, op: ">=", threshold: 2%, for: 20s, severity: immediate}
  budget: {monthly: 100}
  autonomy: {tier: 2}
"""


@pytest.fixture(scope="module")
def initech(api: Api) -> Api:
    for who, role in (("ivy", "admin"), ("otto", "operator")):
        api.tokens[who] = tokens.create(api.store, tenant="initech", person=who, role=role)[0]
    applied = api.post("/api/v1/tenant/documents", {"documents": [{"text": POLICY, "file": "initech.yaml"}]}, who="ivy")
    assert applied.status_code == 200, applied.text
    return api


def test_a_plan_loosening_a_locked_slo_is_refused_with_both_locations(initech: Api) -> None:
    loose = plan("initech-v2").replace("threshold: 5%", "threshold: 5%").replace("metadata: {", "metadata: {tenant: initech, ")
    problem = assert_problem(initech.post("/api/v1/plans/validate", {"plan": loose}, who="ivy"), 422,
                             "guard rails")
    (p,) = problem["problems"]
    assert p["path"] == "spec.gates[0].threshold" and p["line"] == 18
    assert "initech.yaml:6" in p["message"] and p["fix"].startswith("threshold: 2% or lower")
    started = initech.post("/api/v1/releases", {"planText": loose, "timeScale": 30}, who="ivy")
    assert_problem(started, 422, "guard rails")
    strict = loose.replace("threshold: 5%", "threshold: 1%")
    assert initech.post("/api/v1/plans/validate", {"plan": strict}, who="ivy").status_code == 200


def test_spend_over_the_page_level_pages_once_and_pauses(initech: Api) -> None:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    text = "at,amount\n" + f"{hour.isoformat()},96\n"
    assert_problem(initech.post("/api/v1/budget/spend", {"text": text}, who="otto"), 403, "only admin")
    first = initech.post("/api/v1/budget/spend", {"text": text, "source": "bill"}, who="ivy")
    assert first.status_code == 200, first.text
    raised = first.json()["status"]["raised"]
    assert [(a["key"].split(":", 2)[2], a["page"]) for a in raised if a["kind"] == "budget-actual"] == [
        ("actual:0.75", False), ("actual:0.85", False), ("actual:0.95", True)]
    again = initech.post("/api/v1/budget/spend", {"text": text, "source": "bill"}, who="ivy").json()
    assert again["status"]["raised"] == []
    status = initech.get("/api/v1/budget/status", who="otto").json()["items"][0]
    assert status["enforcement"]["action"] == "pause" and status["ratio"] == 0.96
    held = initech.get("/api/v1/autonomy/status", who="otto").json()["items"][0]
    assert held["tier"] == 2 and "budget guard (pause)" in held["hold"]
    lifted = initech.post("/api/v1/budget/protect", {"lift": True}, who="ivy").json()
    assert lifted["enforcement"]["action"] == "none"


def test_override_and_safety_answer_for_the_tokens_tenant_only(initech: Api) -> None:
    assert_problem(initech.post("/api/v1/autonomy/override", {"duration": "1h"}, who="otto"), 403, "only admin")
    bad = initech.post("/api/v1/autonomy/override", {"duration": "soon"}, who="ivy")
    assert_problem(bad, 422, "soon")
    done = initech.post("/api/v1/autonomy/override", {"duration": "1h", "reason": "drill"}, who="ivy").json()
    assert done["overrideUntil"] and done["overrideBy"] == "ivy"
    until = datetime.fromisoformat(done["overrideUntil"])
    assert timedelta(minutes=59) < until - datetime.now(UTC) <= timedelta(hours=1)
    safety = initech.get("/api/v1/safety/check", who="otto").json()["items"]
    assert [(s["tenant"], s["tier"], s["isolation"]["ok"]) for s in safety] == [("initech", 2, True)]
    assert initech.post("/api/v1/autonomy/override", {"duration": "off"}, who="ivy").json()["overrideUntil"] is None


def test_the_cli_through_the_server_prints_the_apis_objects(initech: Api, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from launchdeck.cli import main

    def cli(who: str, *args: str) -> tuple[int, str, str]:
        monkeypatch.setenv("LAUNCHDECK_TOKEN", initech.tokens[who])
        code = main([*args, "--server", initech.url])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = cli("otto", "autonomy", "status", "--output", "json")
    assert code == 0 and json.loads(out) == initech.get("/api/v1/autonomy/status", who="otto").json()["items"]
    code, _, err = cli("otto", "autonomy", "override", "--duration", "30m")
    assert code == 2 and "only admin" in err
    code, out, _ = cli("ivy", "autonomy", "override", "--duration", "30m", "--reason", "drill")
    assert code == 0 and "every autonomous action held until" in out and "people can still act" in out
    code, out, _ = cli("otto", "safety", "check")
    assert code == 0 and "initech" in out and "ok" in out
    code, out, _ = cli("ivy", "autonomy", "override", "--duration", "off")
    assert code == 0 and "override ended" in out
    code, out, _ = cli("otto", "budget", "status")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["tenant", "policy", "spent"]


def test_a_tenant_other_than_the_tokens_is_refused_never_ignored(initech: Api, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from launchdeck.cli import main

    for path in ("/api/v1/budget/status", "/api/v1/autonomy/status", "/api/v1/safety/check"):
        assert_problem(initech.get(f"{path}?tenant=acme", who="otto"), 403, "acts in tenant initech only")
        assert initech.get(f"{path}?tenant=initech", who="otto").status_code == 200
    refused = initech.post("/api/v1/autonomy/override", {"duration": "1h", "tenant": "acme"}, who="ivy")
    assert_problem(refused, 403, "acts in tenant initech only")
    assert initech.get("/api/v1/autonomy/status", who="ivy").json()["items"][0]["overrideUntil"] is None

    monkeypatch.setenv("LAUNCHDECK_TOKEN", initech.tokens["ivy"])
    for args in (["budget", "protect", "--tenant", "acme"], ["autonomy", "status", "--tenant", "acme"]):
        assert main([*args, "--server", initech.url]) == 2
        err = capsys.readouterr().err
        assert "tenant acme" in err and "initech only" in err and "use a token of tenant acme" in err
    assert main(["budget", "status", "--all-tenants", "--server", initech.url]) == 2
    assert "--all-tenants through --server" in capsys.readouterr().err


def test_a_dropped_tier_is_restored_by_an_admin_with_a_reason(initech: Api) -> None:
    from launchdeck.services import autonomy
    from launchdeck.store import guard as stored

    autonomy.set_tier(initech.store, tenant="initech", tier=1, who="launchdeck", reason="compensation 2% > 0.5%")
    autonomy.forget()
    assert initech.get("/api/v1/autonomy/status", who="otto").json()["items"][0]["tier"] == 1
    assert_problem(initech.post("/api/v1/autonomy/restore", {"reason": "fixed"}, who="otto"), 403, "only admin")
    assert initech.post("/api/v1/autonomy/restore", {}, who="ivy").status_code == 422
    done = initech.post("/api/v1/autonomy/restore", {"reason": "bad deploy reverted"}, who="ivy").json()
    assert (done["tier"], done["policyTier"]) == (2, 2)
    assert initech.get("/api/v1/autonomy/status", who="otto").json()["items"][0]["tier"] == 2
    capped = initech.post("/api/v1/autonomy/restore", {"reason": "watching", "tier": 1}, who="ivy").json()
    assert capped["tier"] == 1 and "capped at 1 by ivy: watching" in capped["tierReason"]
    initech.post("/api/v1/autonomy/restore", {"reason": "done watching"}, who="ivy")
    said = [(who, reason) for _, kind, who, reason in stored.history(initech.store, tenant="initech") if kind == "tier"]
    assert ("ivy", "policy's tier restored by ivy: bad deploy reverted") in said
