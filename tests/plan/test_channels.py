"""Plan rules for the chat channels: a bot-token Slack channel, an email channel, and the status page's routes."""

from __future__ import annotations

import textwrap

import pytest

from launchdeck.errors import PlanError
from launchdeck.plan import load_plan_text


def problems(channels: str, routes: str = "") -> list[str]:
    text = textwrap.dedent("""
        apiVersion: launchdeck/v1
        kind: Release
        metadata: {name: shop-v2, version: v2}
        spec:
          stages: [{weight: 100%}]
          notifications:
            channels:
        CHANNELS
            routes:
        ROUTES
    """).replace("CHANNELS", textwrap.indent(channels, "      ")).replace("ROUTES", textwrap.indent(routes or "[]", "      "))
    with pytest.raises(PlanError) as err:
        load_plan_text(text)
    return [f"{p.message} | {p.fix}" for p in err.value.problems]


def test_a_bot_token_slack_channel_needs_its_channel_id_and_no_webhook() -> None:
    found = problems("launches: {type: slack, token: env:BOT, webhook: env:HOOK}")
    assert any("a slack channel with a bot token needs `channel`" in p for p in found)
    assert any("a webhook or a bot token, not both" in p for p in found)


def test_a_token_written_into_the_plan_is_refused() -> None:
    found = problems("launches: {type: slack, token: xoxb-123-456, channel: C01}")
    assert any(p.startswith("token holds a secret written into the plan") for p in found)


def test_an_email_channel_needs_smtp_from_to_and_both_credentials() -> None:
    found = problems("mail: {type: email, username: env:SMTP_USER}")
    assert any("an email channel needs `smtp`" in p for p in found)
    assert any("an email channel needs `from`" in p for p in found)
    assert any("an email channel needs `to`" in p for p in found)
    assert any("logs in with both `username` and `password`" in p for p in found)


def test_the_status_page_is_routed_only_events_it_has_words_for() -> None:
    found = problems("status: {type: console}", "- {on: [stage.started], to: [status], audience: status-page}")
    assert any("the status page has no wording for stage.started" in p and "rollback.started" in p for p in found)


def test_a_valid_chat_plan_loads() -> None:
    text = textwrap.dedent("""
        apiVersion: launchdeck/v1
        kind: Release
        metadata: {name: shop-v2, version: v2}
        spec:
          stages: [{weight: 100%}]
          notifications:
            channels:
              launches: {type: slack, token: env:BOT, channel: C01}
              mail: {type: email, smtp: "smtp.example.com:587", from: ld@example.com, to: [a@example.com]}
              teams: {type: teams, webhook: env:TEAMS}
              status: {type: console}
            routes:
              - {on: [gate.fired], to: [launches], broadcast: true}
              - {on: [incident.opened], to: [mail, teams]}
              - {on: [rollback.started], to: [status], audience: status-page}
    """)
    spec = load_plan_text(text).doc.spec
    assert spec.notifications.channels["mail"].from_ == "ld@example.com"
    assert spec.notifications.routes[0].broadcast and spec.notifications.routes[2].audience == "status-page"
