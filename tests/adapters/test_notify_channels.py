"""Email (a real SMTP server), Microsoft Teams and PagerDuty's resolve and Change Events, against stand-ins."""

from __future__ import annotations

import asyncio
from pathlib import Path

import fake_services
import pytest

from launchdeck.adapters.notify.email import EmailChannel
from launchdeck.adapters.notify.factory import make_channel
from launchdeck.adapters.notify.pagerduty import PagerDutyChannel
from launchdeck.adapters.notify.teams import TeamsChannel
from launchdeck.comms.render import Message
from launchdeck.errors import NotifyError
from launchdeck.plan.model import ChannelSpec

ROUTING_KEY = "R0UT1NGKEY0000000000000000000001"
PASSWORD = "smtp-pa55word-value"


def message(event: str = "gate.fired", title: str = "[launchdeck] shop v2 — gate error-rate fired") -> Message:
    return Message(event, "ops", "en", f"{title}\nerror rate 3.12% ≥ 2% for 5m\nStage 1/2, canary at 20%.", title,
                   release="shop-v2", key="shop-v2:1:7")


def test_email_arrives_through_smtp_with_starttls_and_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_USER", "launchdeck")
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    with fake_services.smtp_server(tmp_path, "launchdeck", PASSWORD) as box:
        spec = ChannelSpec.model_validate({"type": "email", "smtp": f"127.0.0.1:{box.port}", "from": "ld@example.com",
                                           "to": ["leads@example.com", "sre@example.com"], "username": "env:SMTP_USER",
                                           "password": "env:SMTP_PASSWORD", "caFile": box.ca_file})
        channel = make_channel("mail", spec, workdir=tmp_path)
        asyncio.run(channel.send(message()))
        asyncio.run(channel.send(message()))  # a retry: the same Message-ID
    assert box.logins == ["launchdeck", "launchdeck"]
    (sender, to, mail), (_, _, again) = box.received
    assert sender == "ld@example.com" and to == ["leads@example.com", "sre@example.com"]
    assert mail["Subject"] == "[launchdeck] shop v2 — gate error-rate fired"
    assert "error rate 3.12%" in mail.get_content() and mail["X-Launchdeck-Release"] == "shop-v2"
    assert mail["Message-ID"] == again["Message-ID"]


def test_a_wrong_smtp_password_is_said_without_the_password(tmp_path: Path) -> None:
    with fake_services.smtp_server(tmp_path, "launchdeck", PASSWORD) as box:
        channel = EmailChannel("mail", host="127.0.0.1", port=box.port, sender="ld@example.com", to=["a@example.com"],
                               username="launchdeck", password="not-the-password", ca_file=box.ca_file)
        with pytest.raises(NotifyError) as err:
            asyncio.run(channel.send(message()))
    assert "refused the login" in err.value.message and "username and password" in (err.value.hint or "")
    assert "not-the-password" not in str(err.value) and not box.received


def test_an_smtp_server_whose_certificate_is_not_trusted_gets_nothing(tmp_path: Path) -> None:
    with fake_services.smtp_server(tmp_path, "launchdeck", PASSWORD) as box:
        channel = EmailChannel("mail", host="127.0.0.1", port=box.port, sender="ld@example.com", to=["a@example.com"],
                               username="launchdeck", password=PASSWORD)  # the system's CAs: the test cert is unknown
        with pytest.raises(NotifyError) as err:
            asyncio.run(channel.send(message()))
    assert "could not reach SMTP server 127.0.0.1" in err.value.message and not box.logins and not box.received


def test_teams_gets_an_adaptive_card_with_the_title_and_the_text() -> None:
    with fake_services.teams({"/webhookb2/abc/IncomingWebhook/def"}) as hook:
        asyncio.run(TeamsChannel("teams", f"{hook.url}/webhookb2/abc/IncomingWebhook/def").send(message()))
    (req,) = hook.accepted
    card = req.json()["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"] == message().title
    assert card["body"][0]["weight"] == "Bolder" and "error rate 3.12%" in card["body"][1]["text"]


def test_a_removed_teams_webhook_is_refused_without_its_url() -> None:
    with fake_services.teams(set()) as hook:
        url = f"{hook.url}/webhookb2/gone/IncomingWebhook/secret-part"
        with pytest.raises(NotifyError) as err:
            asyncio.run(TeamsChannel("teams", url).send(message()))
    assert "HTTP 404" in err.value.message and "create a new one" in (err.value.hint or "")
    assert "secret-part" not in str(err.value)


def test_pagerduty_triggers_then_resolves_one_alert_and_records_promotions_as_changes() -> None:
    with fake_services.pagerduty({ROUTING_KEY}) as pd:
        channel = PagerDutyChannel("oncall", ROUTING_KEY, url=f"{pd.url}/v2/enqueue")
        for event in ("stage.passed", "gate.fired", "rollback.started", "rollback.completed"):
            asyncio.run(channel.send(message(event, f"[launchdeck] shop-v2 v2 — {event}")))
    assert not pd.refused
    paths = [r.path for r in pd.accepted]
    assert paths == ["/v2/change/enqueue", "/v2/enqueue", "/v2/enqueue", "/v2/enqueue"]
    change, trigger, more, resolve = (r.json() for r in pd.accepted)
    assert change["payload"]["summary"] == "[launchdeck] shop-v2 v2 — stage.passed"
    assert [trigger["event_action"], more["event_action"], resolve["event_action"]] == ["trigger", "trigger", "resolve"]
    assert trigger["dedup_key"] == more["dedup_key"] == resolve["dedup_key"] == "launchdeck/shop-v2"
    assert trigger["payload"]["severity"] == "critical"
