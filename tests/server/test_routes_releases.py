"""Reading releases over the API: the same objects as the CLI's JSON, a page at a time, filtered."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ld_server import Api, assert_problem, plan


def test_a_release_reads_as_the_same_object_as_status_output_json(api: Api) -> None:
    assert api.start("same-v2").status_code == 201
    env = {**os.environ, "LAUNCHDECK_DB": api.store.url}
    cli = subprocess.run([sys.executable, "-m", "launchdeck", "status", "same-v2", "--output", "json"],
                         capture_output=True, text=True, env=env, timeout=60, check=True)
    assert api.get("/api/v1/releases/same-v2", who="vic").json() == json.loads(cli.stdout)


def test_releases_list_newest_first_a_page_at_a_time(api: Api) -> None:
    for name in ("page-a-v1", "page-b-v1", "page-c-v1"):
        assert api.post("/api/v1/releases", {"planText": plan(name, service="paging")}, who="lee").status_code == 201
    first = api.get("/api/v1/releases", params={"service": "paging", "limit": 2}).json()
    assert [r["name"] for r in first["items"]] == ["page-c-v1", "page-b-v1"] and first["next"]
    second = api.get("/api/v1/releases", params={"service": "paging", "limit": 2, "cursor": first["next"]}).json()
    assert [r["name"] for r in second["items"]] == ["page-a-v1"] and second["next"] is None
    assert all(r["phase"] == "starting" and r["outcome"] is None for r in first["items"])
    assert api.get("/api/v1/releases", params={"service": "paging", "outcome": "promoted"}).json()["items"] == []
    assert len(api.get("/api/v1/releases", params={"service": "paging", "phase": "starting"}).json()["items"]) == 3
    assert_problem(api.get("/api/v1/releases", params={"cursor": "abc"}), 422, "cursor 'abc' is not one this API gave")
    assert_problem(api.get("/api/v1/releases", params={"phase": "sideways"}), 422)


def test_stages_and_gates_come_from_the_plan_before_anything_ran(api: Api) -> None:
    assert api.start("shape-v2").status_code == 201
    stages = api.get("/api/v1/releases/shape-v2/stages").json()
    assert [(s["stage"], s["weight"], s["hold"], s["approve"], s["status"]) for s in stages] == [
        (1, 50.0, 30.0, ["sre"], "not reached"), (2, 100.0, 30.0, [], "not reached")]
    (gate,) = api.get("/api/v1/releases/shape-v2/gates").json()
    assert (gate["name"], gate["metric"], gate["op"], gate["threshold"], gate["for"]) == (
        "error-rate", "error_rate", ">=", "5%", 20.0)
    assert (gate["status"], gate["verdict"], gate["live"]) == ("pending", None, {})


def test_a_release_not_yet_driven_has_no_decisions_messages_or_evidence(api: Api) -> None:
    assert api.start("quiet-v2").status_code == 201
    for path in ("decisions", "why", "messages", "evidence"):
        assert api.get(f"/api/v1/releases/quiet-v2/{path}").json() == [], path
    assert_problem(api.get("/api/v1/releases/quiet-v2/evidence/quiet-v2.run1.bundle.json"), 404,
                   "no evidence bundle 'quiet-v2.run1.bundle.json'")
    audit = api.get("/api/v1/releases/quiet-v2/audit").json()
    assert audit["ok"] is True and audit["release"] == "quiet-v2"
