"""Every error is an RFC 9457 problem document: bad JSON, a wrong type, an unknown field, an unknown route,
a body too large -- a 4xx that says what is wrong, never a 500."""

from __future__ import annotations

from ld_server import Api, assert_problem

from launchdeck.server.app import MAX_BODY_BYTES


def test_a_body_that_is_not_json_is_422_naming_where(api: Api) -> None:
    answer = api.client.post("/api/v1/plans/validate", content=b"{not json", headers={
        **api.headers("sam"), "content-type": "application/json"})
    body = assert_problem(answer, 422, "1 problem in the request")
    assert body["problems"][0]["path"].startswith("body") and body["problems"][0]["fix"] == "send a JSON body"


def test_a_wrong_type_and_an_unknown_field_are_each_a_located_problem(api: Api) -> None:
    answer = api.post("/api/v1/releases", {"planText": "x", "timeScale": "fast", "colour": "red"})
    body = assert_problem(answer, 422, "2 problems in the request")
    paths = {p["path"]: p for p in body["problems"]}
    assert set(paths) == {"body.timeScale", "body.colour"}, paths
    assert paths["body.colour"]["fix"] == "remove it"


def test_a_sign_off_must_name_exactly_one_subject(api: Api) -> None:
    answer = api.post("/api/v1/releases/any-v1/signoffs", {"role": "sre", "stage": 1, "checklist": "T-1h"})
    body = assert_problem(answer, 422)
    assert "exactly one of stage, checklist or decision" in body["problems"][0]["message"]


def test_a_nul_character_is_refused_before_it_reaches_the_store(api: Api) -> None:
    body = assert_problem(api.post("/api/v1/releases/any-v1/kill", {"role": "s\x00re"}), 422)
    assert "NUL" in body["problems"][0]["message"]


def test_an_ill_formed_release_name_is_422_and_an_unknown_route_404(api: Api) -> None:
    assert_problem(api.get("/api/v1/releases/Not%20A%20Name"), 422)
    body = assert_problem(api.get("/api/v1/nothing-here"), 404, "no such route")
    assert "/docs" in body["hint"]
    assert_problem(api.client.delete("/api/v1/releases", headers=api.headers("sam")), 405)


def test_a_body_over_the_limit_is_refused_unread(api: Api) -> None:
    answer = api.client.post("/api/v1/plans/validate", content=b"x" * (MAX_BODY_BYTES + 1),
                             headers={**api.headers("sam"), "content-type": "application/json"})
    assert_problem(answer, 413, "over the limit")


def test_health_readiness_and_the_apis_own_docs(api: Api) -> None:
    assert api.get("/healthz", who=None).json() == {"status": "ok"}
    assert api.get("/readyz", who=None).json() == {"status": "ready"}
    docs = api.get("/docs", who=None)
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    schema = api.get("/openapi.json", who=None).json()
    assert "/api/v1/releases/{name}/signoffs" in schema["paths"] and "Problem" in schema["components"]["schemas"]
