"""The Slack app's endpoint: the seed's /approve canary line, signed, starts the release it describes; a bad
signature, a stale timestamp, an unsigned request, a stranger or a person without a plan role changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import fake_services
import pytest
from ld_server import Serving
from slack_app import (
    PLAN,
    SEED_LINE,
    SIGNING_SECRET,
    SlackClient,
    answer,
    set_up_tenant,
    signed,
)

from launchdeck.server.app import create_app
from launchdeck.services import plans as plan_texts
from launchdeck.store.repo import Store


@pytest.fixture
def app_store(tmp_path: Path, new_store_url: Callable[[Path], AbstractContextManager[str]]) -> Iterator[tuple[str, Store]]:
    with new_store_url(tmp_path) as url:
        app = create_app(url, embedded_worker=False, data_dir=tmp_path / "data",
                         slack_signing_secret=SIGNING_SECRET)
        with Serving(app) as served:
            store: Store = app.state.store
            set_up_tenant(store)
            yield served.url, store


@pytest.fixture
def slack() -> Iterator[fake_services.SlackWeb]:
    with fake_services.slack_web(set(), set()) as web:
        yield web


def client(app_store: tuple[str, Store], slack: fake_services.SlackWeb) -> SlackClient:
    return SlackClient(app_store[0], slack.url)


def test_the_seeds_line_signed_starts_the_release_it_describes(app_store: tuple[str, Store],
                                                                slack: fake_services.SlackWeb) -> None:
    _, store = app_store
    sent, path = client(app_store, slack).command(SEED_LINE)
    assert sent.status_code == 200 and sent.json()["response_type"] == "ephemeral"  # acknowledged at once
    reply = answer(slack, path)
    assert reply["response_type"] == "in_channel", reply
    assert "dana started intelgraph-v0.1.0: v0.1.0 → prod (us-west-2, US-only), steps 5/25/50/100" in reply["text"]
    release = store.require(name="intelgraph-v0.1.0")
    assert release.tenant == "intel" and release.submitted_by == "dana"
    assert "version: v0.1.0" in (release.plan_text or "")
    assert [w for w in ("weight: 5%", "weight: 25%", "weight: 50%", "weight: 100%") if w in release.plan_text] == [
        "weight: 5%", "weight: 25%", "weight: 50%", "weight: 100%"]


def test_the_same_line_with_a_bad_signature_a_stale_timestamp_or_none_changes_nothing(
        app_store: tuple[str, Store], slack: fake_services.SlackWeb, caplog: pytest.LogCaptureFixture) -> None:
    _, store = app_store
    slack_client = client(app_store, slack)
    forged = slack_client.command(SEED_LINE, headers=signed(b"another body"))[0]
    stale = slack_client.command(SEED_LINE, age_s=6 * 60)[0]
    unsigned = slack_client.command(SEED_LINE, headers={"Content-Type": "application/x-www-form-urlencoded"})[0]
    for refused in (forged, stale, unsigned):
        assert refused.status_code == 401 and refused.headers["content-type"].startswith("application/problem+json")
    assert store.find(name="intelgraph-v0.1.0") is None and not slack.responses
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == "launchdeck.server")
    assert "refused a Slack request to /slack/commands" in logged and "v0.1.0" not in logged


@pytest.mark.parametrize(("user", "says"), [
    ("priya", "priya holds no role in intelgraph-v0.0.9's plan"),
    ("U0STRANGER", "you (Slack user U0STRANGER) are not one of tenant intel's people"),
])
def test_a_person_without_the_role_or_a_stranger_is_told_why_and_nothing_starts(
        app_store: tuple[str, Store], slack: fake_services.SlackWeb, user: str, says: str) -> None:
    _, store = app_store
    sent, path = client(app_store, slack).command(SEED_LINE, user=user)
    assert sent.status_code == 200
    reply = answer(slack, path)
    assert reply["response_type"] == "ephemeral" and says in reply["text"], reply
    assert store.find(name="intelgraph-v0.1.0") is None


def test_a_line_that_disagrees_with_the_plan_is_refused_naming_the_difference(
        app_store: tuple[str, Store], slack: fake_services.SlackWeb) -> None:
    _, store = app_store
    line = SEED_LINE.replace("us-west-2", "eu-west-1").replace("gateway-flag", "other-flag")
    reply = answer(slack, client(app_store, slack).command(line)[1])
    assert reply["response_type"] == "ephemeral"
    assert "region: the plan says us-west-2, the line eu-west-1" in reply["text"]
    assert "kill switch: the plan says gateway-flag, the line other-flag" in reply["text"]
    assert store.find(name="intelgraph-v0.1.0") is None


def test_a_malformed_command_gets_its_usage(app_store: tuple[str, Store], slack: fake_services.SlackWeb) -> None:
    reply = answer(slack, client(app_store, slack).command("rollback", command="/launchdeck")[1])
    assert reply["response_type"] == "ephemeral"
    assert "rollback needs one release name" in reply["text"] and "/launchdeck rollback RELEASE" in reply["text"]


def test_a_command_from_another_channel_is_refused(app_store: tuple[str, Store], slack: fake_services.SlackWeb) -> None:
    reply = answer(slack, client(app_store, slack).command("status", command="/launchdeck", channel="C0RANDOM")[1])
    assert "not taken in this channel" in reply["text"]


def test_status_and_approve_act_through_the_same_services(app_store: tuple[str, Store],
                                                          slack: fake_services.SlackWeb) -> None:
    _, store = app_store
    # stage 1 asks an sre's sign-off (a stage that asks none is refused one: it would count for nothing)
    plan_texts.register(store, PLAN.replace("- {weight: 10%, hold: 20m}", "- {weight: 10%, hold: 20m, approve: [sre]}"),
                        tenant="intel", by="dana")
    slack_client = client(app_store, slack)
    answer(slack, slack_client.command(SEED_LINE)[1])
    status = answer(slack, slack_client.command("status intelgraph-v0.1.0", command="/launchdeck")[1])
    assert status["text"].startswith("intelgraph-v0.1.0: starting") or "stage 1" in status["text"], status
    signed_off = answer(slack, slack_client.command("intelgraph-v0.1.0 stage 1", user="sam")[1])
    assert signed_off["response_type"] == "in_channel" and "recorded: sam (sre) stage 1" in signed_off["text"]
    release = store.require(name="intelgraph-v0.1.0")
    (signoff,) = store.signoffs(release_id=release.id)
    assert (signoff.who, signoff.role, signoff.stage, signoff.source) == ("sam", "sre", 1, "slack")
    refused = answer(slack, slack_client.command("kill intelgraph-v0.1.0", command="/launchdeck", user="priya")[1])
    assert refused["response_type"] == "ephemeral" and "priya holds no role" in refused["text"]


def test_clicking_roll_back_records_the_decision_and_replaces_the_message(
        app_store: tuple[str, Store], slack: fake_services.SlackWeb) -> None:
    _, store = app_store
    slack_client = client(app_store, slack)
    answer(slack, slack_client.command(SEED_LINE)[1])
    clicked, path = slack_client.click("launchdeck.rollback", "intelgraph-v0.1.0", text="decide: gate p95 fired")
    assert clicked.status_code == 200
    reply = answer(slack, path)
    assert reply["replace_original"] is True
    assert reply["text"].startswith("decide: gate p95 fired\nRoll back by dana (<@U0DANA>) at ")
    assert reply["blocks"][-1]["type"] == "context"  # the buttons are gone
    release = store.require(name="intelgraph-v0.1.0")
    (decided,) = store.signoffs(release_id=release.id)
    assert (decided.who, decided.decision, decided.source) == ("dana", "rollback", "slack")


def test_the_endpoint_without_a_signing_secret_says_it_is_not_configured(
        tmp_path: Path, new_store_url: Callable[[Path], AbstractContextManager[str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    monkeypatch.delenv("LAUNCHDECK_SLACK_SIGNING_SECRET", raising=False)
    with (new_store_url(tmp_path) as url,
          Serving(create_app(url, embedded_worker=False, data_dir=tmp_path / "data")) as served):
        body = b"command=%2Flaunchdeck&text=help"
        refused = httpx.post(f"{served.url}/slack/commands", content=body, headers=signed(body))
    assert refused.status_code == 503 and "LAUNCHDECK_SLACK_SIGNING_SECRET" in refused.json()["hint"]
