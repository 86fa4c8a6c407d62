"""A run on a Slack channel with a bot token posts one parent message, keeps it up to date, and threads
every message under it (a broadcast route also shows its events in the channel); a P0 incident notice goes
out when a gate of that severity fires, and PagerDuty is triggered then resolved with one dedup key."""

from __future__ import annotations

from pathlib import Path

import fake_services
import pytest
import yaml
from ld_integration import launchdeck_in

pytestmark = pytest.mark.integration

BOT = "xoxb-0000-1111-runbottoken"
ROUTING_KEY = "R0UT1NGKEY00000000000000000000PD"
EVENTS = ["release.started", "stage.started", "gate.fired", "rollback.started", "rollback.completed",
          "release.completed"]


def plan() -> dict[str, object]:
    return {
        "apiVersion": "launchdeck/v1", "kind": "Release", "metadata": {"name": "shop-v2", "version": "v2"},
        "spec": {
            "target": {"load": {"rps": 200}, "versions": {
                "stable": {"errorRate": "0.5%"},
                "canary": {"errorRate": "0.5%", "faults": [{"from": "1m", "errorRate": "30%"}]}}},
            "stages": [{"weight": "20%", "hold": "4m"}, {"weight": "100%", "hold": "1m"}],
            "analysis": {"interval": "30s", "window": "1m", "minRequests": 20},
            "gates": [{"name": "error-rate", "metric": "error_rate", "op": ">=", "threshold": "5%",
                       "severity": "immediate"}],
            "roles": {"sre": ["sam"]},
            "escalation": {"open": {"immediate": "P0"},
                           "levels": {"P0": [{"notify": "sre", "via": ["oncall"], "within": "0m"}]}},
            "notifications": {
                "locale": "fr",
                "channels": {
                    "launches": {"type": "slack", "token": "env:LAUNCHDECK_SLACK_BOT_TOKEN", "channel": "C0LAUNCH",
                                 "url": "env:SLACK_API_URL"},
                    "oncall": {"type": "pagerduty", "routingKey": "env:PD_ROUTING_KEY", "url": "env:PD_EVENTS_URL"},
                },
                "routes": [
                    {"on": [e for e in EVENTS if e != "gate.fired"], "to": ["launches"]},
                    {"on": ["gate.fired"], "to": ["launches"], "broadcast": True},
                    {"on": ["incident.opened"], "to": ["launches"]},
                    {"on": ["gate.fired", "rollback.completed"], "to": ["oncall"]},
                ],
            },
        },
    }


def test_a_run_threads_its_messages_under_one_parent_and_pages_then_resolves(tmp_path: Path, cli_db_url: str) -> None:
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan(), sort_keys=False))
    with (fake_services.slack_web({BOT}, {"C0LAUNCH"}) as slack, fake_services.pagerduty({ROUTING_KEY}) as pd,
          launchdeck_in(tmp_path, cli_db_url) as cli):
        cli.env.update(LAUNCHDECK_SLACK_BOT_TOKEN=BOT, SLACK_API_URL=f"{slack.url}/api/", PD_ROUTING_KEY=ROUTING_KEY,
                       PD_EVENTS_URL=f"{pd.url}/v2/enqueue")
        result = cli("run", "plan.yaml", "--time-scale", "30", "--output", "json", "--seed", "3")
    assert result.returncode == 3, result.explain()

    (parent,) = slack.parents("C0LAUNCH")
    replies = slack.replies(parent.ts)
    titles = [r.text.splitlines()[0] for r in replies]
    assert len(replies) == len(EVENTS) + 1 == len(parent.updates) + 1, titles  # + the P0 notice
    assert titles[0].startswith("[launchdeck] shop-v2 v2") and len({r.thread_ts for r in replies}) == 1
    notice = next(r.text for r in replies if r.text.startswith("🚨 INCIDENT P0 - shop-v2 v2"))
    assert "⏰ Détecté : " in notice and "{{" not in notice and "None" not in notice
    assert [r.reply_broadcast for r in replies].count(True) == 1  # the gate firing, also shown in the channel
    assert parent.text.splitlines()[0] == titles[-1]  # the parent says where the release is now
    assert BOT not in result.stdout + result.stderr

    pages = [r.json() for r in pd.accepted]
    # the gate firing and the P0 escalation (its step pages oncall) add to one alert; the rollback resolves it
    assert [p["event_action"] for p in pages] == ["trigger", "trigger", "resolve"]
    assert {p["dedup_key"] for p in pages} == {"launchdeck/shop-v2"}
