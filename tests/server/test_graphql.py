"""/graphql: the tenant's releases and their provenance; another tenant's release is null, no token 401."""

from __future__ import annotations

from typing import Any

from ld_server import Api, assert_problem

QUERY = """query($name: String!) {
  release(name: $name) { name tenant phase stage outcome why(all: true) { seq kind rule verdict people { who role } }
                         gates { name metric threshold status live } }
  releases(limit: 50) { name }
}"""


def ask(api: Api, who: str | None, **variables: Any) -> Any:
    return api.client.post("/graphql", json={"query": QUERY, "variables": variables}, headers=api.headers(who))


def test_a_release_and_its_gates_within_the_tenant(api: Api) -> None:
    assert api.start("graph-v2").status_code == 201
    answer = ask(api, "vic", name="graph-v2")
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["release"]["tenant"] == "acme" and data["release"]["phase"] == "starting"
    assert data["release"]["why"] == []  # nothing decided yet: no worker drives it here
    assert [(g["name"], g["metric"], g["threshold"]) for g in data["release"]["gates"]] == [
        ("error-rate", "error_rate", "5%")]
    assert "graph-v2" in [r["name"] for r in data["releases"]]


def test_another_tenants_release_is_null_and_not_listed(api: Api) -> None:
    assert api.start("graph-theirs-v2").status_code == 201
    data = ask(api, "gus", name="graph-theirs-v2").json()["data"]
    assert data["release"] is None and "graph-theirs-v2" not in [r["name"] for r in data["releases"]]


def test_graphql_without_a_token_is_401(api: Api) -> None:
    assert_problem(ask(api, None, name="graph-v2"), 401, "no API token")
