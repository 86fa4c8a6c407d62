"""The dashboard's doors, over real HTTP (the ``api`` server: no worker, so a release stays as submitted):
signing in makes a signed, HttpOnly, SameSite=Strict cookie (Secure behind https); a form without
the session's CSRF token is refused; another tenant's release is 404; a viewer gets no buttons; a
bad token is said, not a traceback. The browser tests (test_dashboard.py) show the same live."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from ld_server import Api, plan

pytestmark = pytest.mark.integration

TRAIN = textwrap.dedent("""
    apiVersion: launchdeck/v1
    kind: ReleaseTrain
    metadata: {name: door-train, version: v2}
    spec:
      defaults:
        target:
          versions:
            stable: {errorRate: 0.1%}
            canary: {errorRate: 0.1%}
        stages: [{weight: 100%, hold: 30s}]
      services:
        - {name: api}
        - {name: web, after: [api]}
        - {name: jobs, after: [api]}
        - {name: edge, after: [web, jobs]}
""").lstrip()


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


@contextmanager
def browser(api: Api, who: str) -> Iterator[httpx.Client]:
    """A client that signs in as ``who`` through the form, keeping cookies like a browser."""
    with httpx.Client(base_url=api.url, timeout=30) as client:
        csrf = csrf_of(client.get("/ui/login").text)
        signed = client.post("/ui/login", data={"token": api.tokens[who], "csrf": csrf})
        assert signed.status_code == 303 and signed.headers["location"] == "/ui/releases", signed.text
        yield client


def test_signing_in_sets_an_httponly_strict_cookie_holding_no_token(api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=30) as client:
        csrf = csrf_of(client.get("/ui/login").text)
        answer = client.post("/ui/login", data={"token": api.tokens["sam"], "csrf": csrf})
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie  # plain http on loopback: a Secure cookie would never come back
    assert api.tokens["sam"] not in cookie and api.tokens["sam"].split("_")[2] not in cookie


def test_the_cookie_is_secure_behind_an_https_proxy(api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=30) as client:
        csrf = csrf_of(client.get("/ui/login").text)
        answer = client.post("/ui/login", data={"token": api.tokens["sam"], "csrf": csrf},
                             headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in answer.headers["set-cookie"]


def test_a_wrong_token_is_said_on_the_sign_in_page(api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=30) as client:
        csrf = csrf_of(client.get("/ui/login").text)
        answer = client.post("/ui/login", data={"token": "ld_nope_nope", "csrf": csrf})
        assert answer.status_code == 401 and "not valid, or it was revoked" in answer.text
        assert client.get("/ui/releases").status_code == 303  # still signed out: sent to sign in


def test_the_servers_root_and_the_dashboards_address_lead_to_the_list(api: Api) -> None:
    for path in ("/", "/ui", "/ui/"):
        answer = httpx.get(f"{api.url}{path}", timeout=30)
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/releases", path


def test_a_page_asked_signed_out_sends_to_sign_in(api: Api) -> None:
    answer = httpx.get(f"{api.url}/ui/releases/anything", timeout=30)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/login")


def test_a_post_without_the_csrf_token_is_refused(api: Api) -> None:
    assert api.start("door-csrf", who="lee").status_code == 201
    with browser(api, "lee") as client:
        for sent in ({}, {"csrf": "forged"}):
            answer = client.post("/ui/releases/door-csrf/act", data={"action": "kill", "role": "sre", **sent})
            assert answer.status_code == 403 and "CSRF" in answer.text, answer.text
        assert not [s for s in api.store.signoffs(release_id=api.store.find(name="door-csrf").id)]
        page = client.get("/ui/releases/door-csrf").text
        done = client.post("/ui/releases/door-csrf/act", data={"action": "kill", "role": "sre", "csrf": csrf_of(page)})
        assert done.status_code == 303 and "kill" in httpx.URL(done.headers["location"]).params["done"]


def test_another_tenants_release_is_not_found(api: Api) -> None:
    assert api.start("door-tenant", who="lee").status_code == 201
    with browser(api, "gus") as client:
        for path in ("", "/panels", "/series", "/events", "/audit"):
            answer = client.get(f"/ui/releases/door-tenant{path}")
            assert answer.status_code == 404 and "no release named" in answer.text, path
        assert "door-tenant" not in client.get("/ui/releases").text


def test_a_viewer_sees_the_release_but_no_buttons(api: Api) -> None:
    assert api.start("door-viewer", who="lee").status_code == 201
    with browser(api, "vic") as viewer, browser(api, "sam") as sre:
        seen = viewer.get("/ui/releases/door-viewer").text
        assert "door-viewer" in seen and "/act" not in seen and "Kill switch" not in seen
        assert 'data-action="kill"' in sre.get("/ui/releases/door-viewer").text  # sam holds sre
        refused = viewer.post("/ui/releases/door-viewer/act", data={"action": "kill", "role": "sre",
                                                                    "csrf": csrf_of(seen)})
        assert refused.status_code == 403 and "viewer" in refused.text


def test_an_operator_without_a_plan_role_gets_no_buttons(api: Api) -> None:
    assert api.start("door-mallory", who="lee").status_code == 201
    with browser(api, "mallory") as client:
        assert "/act" not in client.get("/ui/releases/door-mallory").text


def test_the_list_filters_and_its_rows_come_alone_for_htmx(api: Api) -> None:
    for name in ("door-list-a", "door-list-b"):
        assert api.start(name, who="lee").status_code == 201
    with browser(api, "sam") as client:
        rows = client.get("/ui/releases", params={"q": "list-a"}, headers={"HX-Request": "true"}).text
        assert "door-list-a" in rows and "door-list-b" not in rows and "<html" not in rows
        assert "door-list-b" in client.get("/ui/releases").text


def test_the_train_page_draws_services_in_dependency_order(api: Api) -> None:
    assert api.post("/api/v1/plans", {"plan": TRAIN}).status_code == 201
    with browser(api, "sam") as client:
        page = client.get("/ui/trains/door-train").text
        assert 'href="/ui/trains/door-train"' in client.get("/ui/releases").text
    x = {m[0]: int(m[1]) for m in re.findall(r'data-service="([a-z]+)"[^>]*>\s*(?:<a[^>]*>)?\s*<rect x="(\d+)"', page)}
    assert x["api"] < x["web"] == x["jobs"] < x["edge"], x
    assert len(re.findall(r'<path d="M[0-9]+,[0-9]+ C', page)) == 4  # web←api, jobs←api, edge←web, edge←jobs
    assert 'data-state="not started"' in page


def test_signing_out_ends_the_session(api: Api) -> None:
    with browser(api, "sam") as client:
        csrf = csrf_of(client.get("/ui/releases").text)
        assert client.post("/ui/logout", data={"csrf": csrf}).status_code == 303
        assert client.get("/ui/releases").status_code == 303


# The release room's forms, each as the page draws it: the fields the page's form sends, the action recorded
# by the same service as the API's and the CLI's (the store's sign-off row), and the page saying what was
# recorded. The server here runs no worker, so a waiting release is written as the engine writes one.

def form_of(page: str, action: str) -> dict[str, str]:
    """The fields the page's form for ``action`` (its button's data-action) sends; a role choice sends its first."""
    for form in re.findall(r'<form method="post"[^>]*>.*?</form>', page, re.DOTALL):
        if f'data-action="{action}"' in form:
            fields = dict(re.findall(r'<input type="hidden" name="([a-z]+)" value="([^"]*)"', form))
            choice = re.search(r'<select name="role"[^>]*><option>([^<]+)</option>', form)
            return {**fields, **({"role": choice.group(1)} if choice else {})}
    raise AssertionError(f"no form for {action} on the page")


def waiting(api: Api, name: str, kind: str, **engine: object) -> None:
    """The release as the engine leaves it when it waits on people (``kind``: sign-off or decision)."""
    from launchdeck.runbook.waiting import Waiting

    found = api.store.find(name=name)
    gate = "error-rate" if kind == "decision" else None
    wait = Waiting(kind, ("sre",), 1, 600.0, "rollback" if gate else "the run ends held", gate)  # type: ignore[arg-type]
    state = {**found.state, "waiting": wait.to_json(name),
             "engine": {**found.state["engine"], "phase": "deciding" if gate else "stage", **engine}}
    api.store.save(release_id=found.id, state=state, plan_clock=60.0, outcome=None, decisions=[], messages=[])


def press(client: httpx.Client, name: str, action: str) -> tuple[str, str]:
    """Press the form's button as a browser does; the flash message and the page it lands on."""
    fields = form_of(client.get(f"/ui/releases/{name}").text, action)
    answer = client.post(f"/ui/releases/{name}/act", data=fields)
    assert answer.status_code == 303, answer.text
    landed = client.get(answer.headers["location"])
    assert landed.status_code == 200
    flash = re.search(r'<p class="flash ok" role="status" id="done">([^<]*)</p>', landed.text)
    assert flash, landed.text[:800]
    return flash.group(1), landed.text


def decisions(api: Api, name: str) -> list[tuple[str, str, int | None, str | None, str | None]]:
    rows = api.store.signoffs(release_id=api.store.find(name=name).id)
    return [(s.who, s.role, s.stage, s.checklist, s.decision) for s in rows]


@pytest.mark.parametrize("choice", ["continue", "rollback"])
def test_an_open_decision_window_is_decided_from_its_buttons(api: Api, choice: str) -> None:
    name = f"door-decide-{choice}"
    assert api.start(name, who="lee").status_code == 201
    waiting(api, name, "decision")
    with browser(api, "lee") as client:
        page = client.get(f"/ui/releases/{name}").text
        assert "Waiting for decision on error-rate" in page and 'data-confirm="Roll back door-decide' in page
        said, _ = press(client, name, f"decide-{choice}")
    assert decisions(api, name) == [("lee", "sre", None, None, choice)]
    assert said == f"recorded: lee (sre) decision &#39;{choice}&#39; for {name}"


def test_a_stage_sign_off_is_given_from_the_waiting_card(api: Api) -> None:
    assert api.start("door-signoff", who="lee").status_code == 201
    waiting(api, "door-signoff", "sign-off")
    with browser(api, "lee") as client:
        said, _ = press(client, "door-signoff", "signoff")
    assert decisions(api, "door-signoff") == [("lee", "sre", 1, None, None)]
    assert said == "recorded: lee (sre) stage 1 for door-signoff"


def test_a_stage_is_signed_off_ahead_during_its_hold(api: Api) -> None:
    # a war room signs stage 1 off while its hold runs, as `approve --stage 1` may, not only once the run waits
    assert api.start("door-ahead", who="lee").status_code == 201
    found = api.store.find(name="door-ahead")
    api.store.save(release_id=found.id, state={**found.state, "engine": {**found.state["engine"], "phase": "stage"}},
                   plan_clock=5.0, outcome=None, decisions=[], messages=[])
    with browser(api, "lee") as client:
        assert "Waiting for sign-off" not in client.get("/ui/releases/door-ahead").text
        said, page = press(client, "door-ahead", "signoff")
    assert decisions(api, "door-ahead") == [("lee", "sre", 1, None, None)]
    assert said == "recorded: lee (sre) stage 1 for door-ahead"
    assert "sre ✓ lee" in page and "Sign off stage 1" not in page


def test_a_checklist_is_signed_and_then_shows_who_signed_it(api: Api) -> None:
    text = plan("door-checklist").replace("  stages:", "  checklists: [{name: T-1h, due: -1h, items: [Rollback plan "
                                                         "confirmed], signoff: [sre]}]\n  stages:")
    assert api.post("/api/v1/releases", {"planText": text, "timeScale": 30}, who="lee").status_code == 201
    with browser(api, "lee") as client:
        before = checklist(client.get("/ui/releases/door-checklist").text)
        assert "sre missing" in before and "Rollback plan confirmed" in before and "Sign T-1h" in before
        said, page = press(client, "door-checklist", "signoff")
    assert decisions(api, "door-checklist") == [("lee", "sre", None, "T-1h", None)]
    assert said == "recorded: lee (sre) checklist T-1h for door-checklist"
    after = checklist(page)
    assert "sre ✓ lee" in after and "sre missing" not in after and "Sign T-1h" not in after


def checklist(page: str) -> str:
    found = re.search(r'<div class="checklist">.*?</div>', page, re.DOTALL)
    assert found, page[:800]
    return found.group(0)


def test_pause_shows_on_a_running_release_and_resume_once_it_is_paused(api: Api) -> None:
    assert api.start("door-pause", who="lee").status_code == 201
    waiting(api, "door-pause", "sign-off")
    with browser(api, "lee") as client:
        assert 'data-action="resume"' not in client.get("/ui/releases/door-pause").text
        said, _ = press(client, "door-pause", "pause")
        assert said.startswith("pause requested by lee (sre) for door-pause")
        waiting(api, "door-pause", "sign-off", paused_by="lee (sre)")  # what the engine does with it
        page = client.get("/ui/releases/door-pause").text
        assert "Paused by lee (sre)" in page and 'data-action="pause"' not in page
        said, _ = press(client, "door-pause", "resume")
    assert said.startswith("recorded: lee (sre) resumes door-pause")
    assert [d[4] for d in decisions(api, "door-pause")] == ["pause", "resume"]


@pytest.mark.parametrize("choice", ["go", "no-go"])
def test_go_and_no_go_are_recorded_with_every_role_the_person_holds(api: Api, choice: str) -> None:
    name = f"door-{choice}"
    assert api.start(name, who="lee").status_code == 201
    with browser(api, "lee") as client:
        said, _ = press(client, name, choice)
    assert decisions(api, name) == [("lee", "sre", None, None, choice)]
    assert said == f"recorded: {choice.upper()} by lee (sre) for {name}"


def test_an_invalid_form_field_gets_a_page_saying_which_and_why(api: Api) -> None:
    assert api.start("door-invalid", who="lee").status_code == 201
    with browser(api, "lee") as client:
        fields = form_of(client.get("/ui/releases/door-invalid").text, "kill")
        for sent, said in (({"stage": "0"}, ("the form&#39;s field &#39;stage&#39;: Input should be greater than "
                                              "or equal to 1")),
                           ({"action": "explode"}, "the form&#39;s field &#39;action&#39;: Input should be"),
                           ({"action": None}, "the form&#39;s field &#39;action&#39;: Field required (it is missing)")):
            data = {k: v for k, v in {**fields, **sent}.items() if v is not None}
            answer = client.post("/ui/releases/door-invalid/act", data=data)
            assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
            assert said in answer.text and "go back, correct it" in answer.text, answer.text
        listing = client.get("/ui/releases", params={"show": "everything"})
        assert listing.status_code == 422 and "the address&#39;s parameter &#39;show&#39;" in listing.text
        assert client.get("/ui/no-such-page").headers["content-type"].startswith("text/html")
    assert decisions(api, "door-invalid") == []
    # The API keeps answering problem documents.
    assert api.get("/api/v1/releases", params={"limit": "x"}).headers["content-type"].startswith(
        "application/problem+json")
