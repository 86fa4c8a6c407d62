"""Slack, webhook and PagerDuty channels against stand-ins that check requests like the real APIs."""

from __future__ import annotations

import asyncio
import json

import fake_services
import pytest

from launchdeck.adapters.notify.pagerduty import PagerDutyChannel
from launchdeck.adapters.notify.slack import SlackChannel
from launchdeck.adapters.notify.webhook import WebhookChannel
from launchdeck.comms.render import Message
from launchdeck.errors import NotifyError

TOKEN = "T0001/B0001/sEcReTtOkEn"
ROUTING_KEY = "R0UT1NGKEY0000000000000000000001"


def message(event: str = "gate.fired") -> Message:
    text = "[launchdeck] shop v2 — gate error-rate fired\nerror rate 3.12% ≥ 2% for 5m"
    return Message(event, "ops", "en", text, text.splitlines()[0], release="shop-v2", key="shop-v2#7")


def test_slack_posts_the_text_where_the_webhook_points() -> None:
    with fake_services.slack({TOKEN}) as slack:
        asyncio.run(SlackChannel("ops", f"{slack.url}/services/{TOKEN}").send(message()))
    (req,) = slack.accepted
    assert req.json() == {"text": message().text}


@pytest.mark.parametrize(("tokens", "archived", "expected", "hint"), [
    (set(), frozenset(), "HTTP 404 no_service", "create a new incoming webhook"),
    (set(), frozenset({TOKEN}), "HTTP 410 channel_is_archived", "unarchive it"),
])
def test_slack_refusals_name_the_problem_and_what_to_do(tokens: set[str], archived: frozenset[str], expected: str,
                                                       hint: str) -> None:
    with fake_services.slack(tokens, archived=archived) as slack:
        url = f"{slack.url}/services/{TOKEN}"
        with pytest.raises(NotifyError) as err:
            asyncio.run(SlackChannel("ops", url).send(message()))
    assert expected in err.value.message and hint in (err.value.hint or "")
    assert TOKEN not in err.value.message and url not in str(err.value)


def test_an_unreachable_slack_webhook_is_a_notify_error_without_the_url() -> None:
    with fake_services.slack({TOKEN}) as slack:
        url = f"{slack.url}/services/{TOKEN}"
    with pytest.raises(NotifyError) as err:  # the server is gone: connection refused
        asyncio.run(SlackChannel("ops", url).send(message()))
    assert "could not reach its webhook" in err.value.message and TOKEN not in str(err.value)


def test_webhook_signs_the_body_the_receiver_verifies() -> None:
    with fake_services.webhook_receiver("s3cret") as hook:
        asyncio.run(WebhookChannel("war-room", f"{hook.url}/hook", secret="s3cret").send(message()))
    (req,) = hook.accepted
    body = req.json()
    assert body["event"] == "gate.fired" and body["release"] == "shop-v2" and body["id"] == "shop-v2#7"
    assert req.headers["x-launchdeck-delivery"] == "shop-v2#7"


def test_a_wrong_secret_is_refused_and_said_so() -> None:
    with fake_services.webhook_receiver("s3cret") as hook:
        with pytest.raises(NotifyError) as err:
            asyncio.run(WebhookChannel("war-room", f"{hook.url}/hook", secret="other").send(message()))
    assert "HTTP 401" in err.value.message and "signature" in (err.value.hint or "")
    assert "other" not in str(err.value)


def test_pagerduty_triggers_one_alert_per_release_with_the_events_severity() -> None:
    with fake_services.pagerduty({ROUTING_KEY}) as pd:
        channel = PagerDutyChannel("oncall", ROUTING_KEY, url=f"{pd.url}/v2/enqueue")
        asyncio.run(channel.send(message("gate.fired")))
        asyncio.run(channel.send(message("decision.requested")))
    first, second = (r.json() for r in pd.accepted)
    assert first["event_action"] == second["event_action"] == "trigger"
    assert first["dedup_key"] == second["dedup_key"] == "launchdeck/shop-v2"
    assert first["payload"]["severity"] == "critical" and second["payload"]["severity"] == "warning"
    assert first["payload"]["summary"] == "[launchdeck] shop v2 — gate error-rate fired"


def test_pagerduty_says_what_is_invalid_without_showing_the_key() -> None:
    wrong = "X" * 32
    with fake_services.pagerduty({ROUTING_KEY}) as pd:
        with pytest.raises(NotifyError) as err:
            asyncio.run(PagerDutyChannel("oncall", wrong, url=f"{pd.url}/v2/enqueue").send(message()))
    assert "HTTP 400" in err.value.message and "not an integration key" in err.value.message
    assert "routingKey" in (err.value.hint or "") and wrong not in str(err.value)
    assert json.loads(pd.refused[0][1].body)["routing_key"] == wrong


def test_a_channel_url_that_is_not_http_is_refused_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from launchdeck.adapters.notify.factory import make_channel
    from launchdeck.errors import UsageError
    from launchdeck.plan.model import ChannelSpec

    monkeypatch.setenv("SLACK_HOOK", "hooks.slack.com/services/T/B/secret-part")
    with pytest.raises(UsageError) as err:
        make_channel("status", ChannelSpec(type="slack", webhook="env:SLACK_HOOK"), workdir=Path("."))
    assert "the value of SLACK_HOOK is not an http(s) URL" in err.value.message
    assert "secret-part" not in str(err.value)
    monkeypatch.delenv("SLACK_HOOK")
    with pytest.raises(UsageError) as err:
        make_channel("status", ChannelSpec(type="slack", webhook="env:SLACK_HOOK"), workdir=Path("."))
    assert "SLACK_HOOK is not set" in err.value.message
