"""/api/v1/plans: validate (problems with file:line, what is wrong, what to write), register, read."""

from __future__ import annotations

from ld_server import Api, assert_problem, plan

BROKEN = """apiVersion: launchdeck/v1
kind: Release
metadata: {name: broken-v1, version: v1}
spec:
  stages:
    - {weight: 20%, hold: 1m}
  gates:
    - {name: errors, metric: error_rate, op: ">=", threshold: 5%, severty: immediate}
"""


def test_validate_answers_every_problem_with_file_line_and_fix(api: Api) -> None:
    body = assert_problem(api.post("/api/v1/plans/validate", {"plan": BROKEN}, who="vic"), 422, "1 problem in the plan")
    unknown = next(p for p in body["problems"] if "severty" in p["message"])
    assert (unknown["file"], unknown["line"], unknown["path"]) == ("plan.yaml", 8, "spec.gates[0].severty")
    assert unknown["fix"] == "did you mean 'severity'?"
    assert all({"file", "line", "message", "fix"} <= set(p) for p in body["problems"])


def test_validate_a_valid_plan_names_it_and_warns_of_another_tenant(api: Api) -> None:
    ok = api.post("/api/v1/plans/validate", {"plan": plan("fine-v1")}, who="vic")
    assert ok.status_code == 200, ok.text
    assert ok.json()["valid"] is True and ok.json()["name"] == "fine-v1" and ok.json()["kind"] == "Release"
    theirs = plan("fine-v1").replace("metadata: {name: fine-v1,", "metadata: {name: fine-v1, tenant: globex,")
    warned = api.post("/api/v1/plans/validate", {"plan": theirs}, who="vic").json()
    assert any("metadata.tenant is 'globex', not your tenant 'acme'" in w for w in warned["warnings"])


def test_register_keeps_one_version_per_text(api: Api) -> None:
    first = api.post("/api/v1/plans", {"plan": plan("reg-v1")})
    assert first.status_code == 201 and first.json()["version"] == 1 and first.json()["registeredBy"] == "sam"
    again = api.post("/api/v1/plans", {"plan": plan("reg-v1")})
    assert again.status_code == 200 and again.json()["digest"] == first.json()["digest"]
    changed = api.post("/api/v1/plans", {"plan": plan("reg-v1").replace("hold: 30s}", "hold: 40s}")})
    assert changed.status_code == 201 and changed.json()["version"] == 2
    latest = api.get("/api/v1/plans/reg-v1", who="vic").json()
    assert latest["version"] == 2 and "hold: 40s" in latest["text"] and latest["tenant"] == "acme"
    listed = {p["name"]: p for p in api.get("/api/v1/plans", who="vic").json()["items"]}
    assert listed["reg-v1"]["version"] == 2 and "text" not in listed["reg-v1"]


def test_a_plan_naming_another_tenant_is_refused_with_the_reason(api: Api) -> None:
    theirs = plan("theirs-v1").replace("metadata: {name: theirs-v1,", "metadata: {name: theirs-v1, tenant: globex,")
    body = assert_problem(api.post("/api/v1/plans", {"plan": theirs}), 403, "metadata.tenant is 'globex'")
    assert "set metadata.tenant to 'acme'" in body["hint"]
    assert_problem(api.post("/api/v1/releases", {"planText": theirs}), 403, "not your tenant 'acme'")
    assert_problem(api.get("/api/v1/plans/theirs-v1"), 404)


def test_an_invalid_plan_is_not_registered(api: Api) -> None:
    assert_problem(api.post("/api/v1/plans", {"plan": BROKEN}), 422)
    assert_problem(api.get("/api/v1/plans/broken-v1"), 404)
