"""The CLI acting through a server (`--server URL`, LAUNCHDECK_TOKEN): the same commands, the same answers,
decided by the same services on the server, as the token's person."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from ld_server import Api, plan

from launchdeck.cli import main


@pytest.fixture
def cli(api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `launchdeck ARGS --server URL` in this process as ``who`` (their token in LAUNCHDECK_TOKEN)."""

    def run(who: str | None, *args: str) -> tuple[int, str, str]:
        if who is None:
            monkeypatch.delenv("LAUNCHDECK_TOKEN", raising=False)
        else:
            monkeypatch.setenv("LAUNCHDECK_TOKEN", api.tokens[who])
        code = main([*args, "--server", api.url])
        out, err = capsys.readouterr()
        assert api.tokens.get(who or "", "\0") not in out + err  # the token is never printed
        return code, out, err

    return run


def test_run_detach_submits_as_the_tokens_person_and_status_and_why_read_it_back(
        cli, api: Api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "remote-v2.yaml"
    path.write_text(plan("remote-v2"))
    code, out, _ = cli("lee", "run", str(path), "--detach", "--time-scale", "30", "--seed", "7", "--output", "json")
    assert code == 0
    started = json.loads(out)
    assert (started["name"], started["tenant"], started["submittedBy"]) == ("remote-v2", "acme", "lee")
    found = api.store.find(name="remote-v2", tenant="acme")
    assert found is not None and found.state["options"]["seed"] == 7 and found.plan_text == path.read_text()

    code, out, _ = cli("vic", "status", "remote-v2", "--output", "json")
    assert code == 0 and json.loads(out) == api.get("/api/v1/releases/remote-v2", who="vic").json()
    code, out, _ = cli("vic", "status", "remote-v2")
    assert code == 0 and out.startswith("remote-v2: starting (stage 1/")
    code, out, _ = cli("vic", "why", "remote-v2", "--output", "json")
    assert code == 0 and json.loads(out) == api.get("/api/v1/releases/remote-v2/decisions", who="vic").json()

    code, _, err = cli("lee", "run", str(path), "--time-scale", "30")
    assert code == 2 and "add --detach" in err


def test_approve_signs_off_as_the_token_person_and_refusals_come_back_with_their_reasons(
        cli, api: Api) -> None:  # type: ignore[no-untyped-def]
    assert api.start("signed-v2").status_code == 201
    code, out, _ = cli("lee", "approve", "signed-v2", "--role", "sre", "--stage", "1")
    assert code == 0 and "lee (sre) stage 1 for signed-v2" in out
    rows = api.store.signoffs(release_id=api.store.find(name="signed-v2", tenant="acme").id)
    assert [(r.who, r.role, r.stage, r.source) for r in rows] == [("lee", "sre", 1, "api")]

    code, _, err = cli("lee", "approve", "signed-v2", "--role", "sre", "--stage", "1", "--as", "sam")
    assert code == 2 and "leave out --as" in err
    code, _, err = cli("vic", "approve", "signed-v2", "--role", "sre", "--stage", "1")
    assert code == 2 and "vic's API role is viewer" in err and "hint:" in err
    code, _, err = cli("mallory", "kill", "signed-v2", "--role", "sre")
    assert code == 2 and "mallory is not in role 'sre'" in err
    code, _, err = cli("gus", "go", "signed-v2")  # another tenant's release: not found, as if it did not exist
    assert code == 2 and "no release named 'signed-v2'" in err
    assert len(api.store.signoffs(release_id=api.store.find(name="signed-v2", tenant="acme").id)) == 1


def test_a_missing_token_or_a_server_not_there_is_said_plainly(cli, api: Api) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(None, "status", "anything")
    assert code == 2 and "needs an API token" in err and "LAUNCHDECK_TOKEN" in err
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    code = main(["status", "anything", "--server", dead, "--token", api.tokens["vic"]])
    assert code == 2


def test_tenant_show_through_a_server_refuses_another_tenant_than_the_tokens(
        cli, api: Api) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("vic", "tenant", "show", "--tenant", "globex")
    assert code == 2 and out == ""
    assert "--tenant globex" in err and "your API token's tenant's documents (tenant acme)" in err
    code, out, _ = cli("vic", "tenant", "show", "--tenant", "acme", "--output", "json")
    assert code == 0 and json.loads(out) == api.get("/api/v1/tenant/documents", who="vic").json()["items"]


def test_plans_register_and_list_through_a_server_as_the_tokens_tenant(
        cli, api: Api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "plan.yaml"
    path.write_text(plan("listed-v2"))
    code, out, _ = cli("sam", "plans", "register", str(path))
    assert code == 0 and out.startswith("plan listed-v2 (Release) of tenant acme: version 1"), out
    code, out, _ = cli("sam", "plans", "register", str(path))
    assert code == 0 and "unchanged (version 1)" in out
    code, _, err = cli("lee", "plans", "register", str(path))  # an operator may not register
    assert code == 2 and "admin" in err, err
    code, out, _ = cli("vic", "plans", "list", "--output", "json")
    listed = json.loads(out)  # the session's server: other tests register plans in acme too
    assert code == 0 and ("listed-v2", "sam", "acme") in [(p["name"], p["registeredBy"], p["tenant"]) for p in listed]
    assert {p["tenant"] for p in listed} == {"acme"}
    code, _, err = cli("vic", "plans", "list", "--tenant", "globex")
    assert code == 2 and "only your API token's tenant's plans (tenant acme)" in err
    code, out, _ = cli("gus", "plans", "list", "--output", "json")
    assert code == 0 and "listed-v2" not in {p["name"] for p in json.loads(out)}
