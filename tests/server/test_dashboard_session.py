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
from ld_server import Api

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
