"""/api/v1/tenant/documents: admins apply their tenant's documents; everyone in the tenant reads them."""

from __future__ import annotations

from ld_server import Api, assert_problem

PEOPLE = "apiVersion: launchdeck/v1\nkind: Tenant\nmetadata: {tenant: TENANT}\nspec:\n  people: [{name: sam, slack: U01SAM}]\n"


def body(tenant: str = "acme", text: str = PEOPLE) -> dict[str, object]:
    return {"documents": [{"text": text.replace("TENANT", tenant), "file": "people.yaml"}]}


def test_an_admin_applies_and_a_viewer_reads(api: Api) -> None:
    first = api.post("/api/v1/tenant/documents", body())
    assert first.status_code == 200, first.text
    (item,) = first.json()["items"]
    assert (item["tenant"], item["kind"], item["appliedBy"]) == ("acme", "Tenant", "sam")
    again = api.post("/api/v1/tenant/documents", body()).json()["items"][0]
    assert again["changed"] is False and again["version"] == item["version"]
    listed = api.get("/api/v1/tenant/documents", who="vic").json()["items"]
    assert [(d["kind"], d["version"]) for d in listed] == [("Tenant", item["version"])]
    assert api.get("/api/v1/tenant/documents", who="gus").json()["items"] == []


def test_the_list_carries_each_documents_text_for_tenant_show_text(api: Api) -> None:
    api.post("/api/v1/tenant/documents", body())
    (listed,) = api.get("/api/v1/tenant/documents", who="vic").json()["items"]
    assert listed["text"] == PEOPLE.replace("TENANT", "acme")


def test_an_operator_cannot_apply_and_no_admin_applies_another_tenants(api: Api) -> None:
    assert_problem(api.post("/api/v1/tenant/documents", body(), who="lee"), 403, "only admin or above may register plans and apply tenant documents")
    assert_problem(api.post("/api/v1/tenant/documents", body("globex")), 403, "not your tenant acme's")


def test_a_broken_document_is_a_422_with_its_line(api: Api) -> None:
    problem = assert_problem(api.post("/api/v1/tenant/documents", body(text=PEOPLE.replace("slack: U01SAM", "slak: 1"))),
                             422, "1 problem in the tenant documents")
    (p,) = problem["problems"]
    assert (p["file"], p["line"], p["fix"]) == ("people.yaml", 5, "did you mean 'slack'?")
