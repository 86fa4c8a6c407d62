"""Who may do what: no token 401, an API role too low 403 with the reason, another tenant's release 404."""

from __future__ import annotations

import pytest
from ld_server import Api, assert_problem, plan

from launchdeck.store import tokens

RELEASE = "auth-v2"
READS = ("", "/stages", "/gates", "/decisions", "/why", "/messages", "/evidence", "/evidence/x.bundle.json",
         "/audit", "/events")
ACTIONS = (("/signoffs", {"role": "sre", "stage": 1}), ("/kill", {"role": "sre"}), ("/pause", {"role": "sre"}),
           ("/resume", {"role": "sre"}), ("/go", {}), ("/no-go", {}))


@pytest.fixture(scope="module", autouse=True)
def release(api: Api) -> None:
    # Once per server; worksteal may run this module in two turns on one worker, setting this up twice.
    answer = api.start(RELEASE)
    assert answer.status_code == 201 or (answer.status_code == 409
                                         and api.get(f"/api/v1/releases/{RELEASE}").status_code == 200), answer.text


def test_no_token_is_401_and_says_how_to_get_one(api: Api) -> None:
    answer = api.get("/api/v1/releases", who=None)
    body = assert_problem(answer, 401, "no API token")
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "launchdeck tokens create" in body["hint"]


def test_an_unknown_token_is_401(api: Api) -> None:
    answer = api.client.get("/api/v1/releases", headers={"Authorization": "Bearer ld_00000000_nope"})
    assert_problem(answer, 401, "not valid")


def test_a_revoked_token_is_401_from_then_on(api: Api) -> None:
    token, made = tokens.create(api.store, tenant="acme", person="sam", role="viewer")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/v1/releases", headers=headers).status_code == 200
    tokens.revoke(api.store, made.prefix)
    assert_problem(api.client.get("/api/v1/releases", headers=headers), 401, "revoked")


def test_the_token_is_never_stored_only_its_hash(api: Api) -> None:
    stored = tokens.tokens(api.store, tenant="acme")
    assert stored and all(not hasattr(t, "token") for t in stored)
    assert tokens.authenticate(api.store, api.tokens["sam"]) is not None
    assert tokens.digest(api.tokens["sam"]) != api.tokens["sam"]


def test_a_viewer_reads_but_a_viewers_sign_off_is_refused_with_the_reason(api: Api) -> None:
    assert api.get(f"/api/v1/releases/{RELEASE}", who="vic").status_code == 200
    refused = api.post(f"/api/v1/releases/{RELEASE}/signoffs", {"role": "sre", "stage": 1}, who="vic")
    body = assert_problem(refused, 403, "vic's API role is viewer", "only operator or above")
    assert "ask an admin of tenant acme" in body["hint"]
    assert [s for s in api.store.signoffs(release_id=api.store.find(name=RELEASE).id) if s.who == "vic"] == []


def test_an_operator_may_start_releases_but_not_register_plans(api: Api) -> None:
    refused = api.post("/api/v1/plans", {"plan": plan("op-v2")}, who="lee")
    assert_problem(refused, 403, "lee's API role is operator", "only admin or above may register plans")
    assert api.start("op-v2", who="lee").status_code == 201


def test_a_person_outside_the_plan_role_is_refused_403_with_the_members(api: Api) -> None:
    refused = api.post(f"/api/v1/releases/{RELEASE}/signoffs", {"role": "sre", "stage": 1}, who="mallory")
    assert_problem(refused, 403, "mallory is not in role 'sre' (members: lee, sam)")
    refused = api.post(f"/api/v1/releases/{RELEASE}/kill", {"role": "sre"}, who="mallory")
    assert_problem(refused, 403, "kill refused: mallory is not in role 'sre'")
    assert_problem(api.post(f"/api/v1/releases/{RELEASE}/go", {}, who="mallory"), 403, "mallory holds no role")


@pytest.mark.parametrize("path", READS)
def test_another_tenants_release_reads_as_404_exactly_like_a_missing_one(api: Api, path: str) -> None:
    theirs = api.get(f"/api/v1/releases/{RELEASE}{path}", who="gus")
    missing = api.get(f"/api/v1/releases/no-such-v1{path}", who="gus")
    assert_problem(theirs, 404)
    assert theirs.json() == {**missing.json(), "detail": missing.json()["detail"].replace("no-such-v1", RELEASE)}


@pytest.mark.parametrize(("path", "body"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_another_tenants_release_refuses_every_action_as_404(api: Api, path: str, body: dict[str, object]) -> None:
    before = len(api.store.signoffs(release_id=api.store.find(name=RELEASE).id))
    assert_problem(api.post(f"/api/v1/releases/{RELEASE}{path}", body, who="gus"), 404, f"no release named '{RELEASE}'")
    assert len(api.store.signoffs(release_id=api.store.find(name=RELEASE).id)) == before


def test_another_tenants_plan_is_404_and_lists_only_ones_own(api: Api) -> None:
    assert api.post("/api/v1/plans", {"plan": plan("acme-plan-v1")}, who="sam").status_code == 201
    assert_problem(api.get("/api/v1/plans/acme-plan-v1", who="gus"), 404, "no registered plan named 'acme-plan-v1'")
    assert "acme-plan-v1" not in [p["name"] for p in api.get("/api/v1/plans", who="gus").json()["items"]]
    assert_problem(api.post("/api/v1/releases", {"plan": "acme-plan-v1"}, who="gus"), 404)
    assert RELEASE not in [r["name"] for r in api.get("/api/v1/releases", who="gus").json()["items"]]
