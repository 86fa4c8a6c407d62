"""A release tells Slack, a signed webhook and PagerDuty what happens, through stand-ins that check
requests like the real services; a receiver that is down at first loses no message, and no secret
leaves in any message, log or evidence."""

from __future__ import annotations

from pathlib import Path

import fake_services
import pytest
import yaml
from ld_integration import launchdeck_in

pytestmark = pytest.mark.integration

TOKEN = "T0001/B0001/sLaCkToKeNvAlUe"
ROUTING_KEY = "R0UT1NGKEY00000000000000000000PD"
SECRET = "hook-signing-secret-value"


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
            "notifications": {
                "channels": {
                    "status": {"type": "slack", "webhook": "env:SLACK_STATUS_WEBHOOK"},
                    "war-room": {"type": "webhook", "url": "env:WAR_ROOM_URL", "secret": "env:HOOK_SECRET"},
                    "oncall": {"type": "pagerduty", "routingKey": "env:PD_ROUTING_KEY", "url": "env:PD_EVENTS_URL"},
                },
                "routes": [
                    {"on": ["stage.started"], "to": ["status"]},
                    {"on": ["gate.fired", "rollback.started", "rollback.completed"], "to": ["war-room", "oncall"]},
                ],
            },
        },
    }


def test_a_bad_canary_is_announced_on_slack_signed_to_the_war_room_and_paged(tmp_path: Path,
                                                                             cli_db_url: str) -> None:
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan(), sort_keys=False))
    with (fake_services.slack({TOKEN}) as slack, fake_services.webhook_receiver(SECRET, fail_first=2) as hook,
          fake_services.pagerduty({ROUTING_KEY}) as pd, launchdeck_in(tmp_path, cli_db_url) as cli):
        cli.env.update(SLACK_STATUS_WEBHOOK=f"{slack.url}/services/{TOKEN}", WAR_ROOM_URL=f"{hook.url}/hook",
                       HOOK_SECRET=SECRET, PD_ROUTING_KEY=ROUTING_KEY, PD_EVENTS_URL=f"{pd.url}/v2/enqueue")
        result = cli("run", "plan.yaml", "--time-scale", "30", "--output", "json", "--seed", "3")
    assert result.returncode == 3, result.explain()
    assert result.summary["firedGate"] == "error-rate"

    slack_texts = [r.json()["text"] for r in slack.accepted]
    assert len(slack_texts) == 1 and "20%" in slack_texts[0]  # stage 1 started; the release never reached 100%

    # The receiver refused the first two deliveries (503); they were retried, and every message
    # arrived exactly once, signed, in the order the decisions were made.
    assert [status for status, _ in hook.refused] == [503, 503]
    events = [r.json()["event"] for r in hook.accepted]
    assert events == ["gate.fired", "rollback.started", "rollback.completed"]
    assert len({r.json()["id"] for r in hook.accepted}) == 3

    pages = [r.json() for r in pd.accepted]
    assert [p["event_action"] for p in pages] == ["trigger", "trigger", "resolve"]  # the rollback completed: resolved
    assert [p["payload"]["class"] for p in pages[:2]] == ["gate.fired", "rollback.started"]
    assert {p["dedup_key"] for p in pages} == {"launchdeck/shop-v2"}
    assert pages[0]["payload"]["severity"] == "critical" and "error-rate" in pages[0]["payload"]["summary"]

    seen = result.stdout + result.stderr + "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*.json"))
    for secret in (TOKEN, ROUTING_KEY, SECRET):
        assert secret not in seen


def test_a_channel_whose_secret_is_not_exported_is_refused_before_anything_starts(tmp_path: Path,
                                                                               cli_db_url: str) -> None:
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan(), sort_keys=False))
    with launchdeck_in(tmp_path, cli_db_url) as cli:
        for name in ("SLACK_STATUS_WEBHOOK", "WAR_ROOM_URL", "HOOK_SECRET", "PD_ROUTING_KEY", "PD_EVENTS_URL"):
            cli.env.pop(name, None)
        result = cli("run", "plan.yaml", "--time-scale", "30", "--output", "json")
    assert result.returncode == 2, result.explain()
    assert "SLACK_STATUS_WEBHOOK is not set" in result.stderr and "Traceback" not in result.stderr


def test_a_slow_slack_does_not_hold_up_the_rollback(tmp_path: Path, cli_db_url: str) -> None:
    # Slack takes 6 s to answer the first message (the gate firing). Messages are delivered beside
    # the tick loop, so the rollback is finished, weight 0 read back, before Slack has answered.
    data = plan()
    data["spec"]["notifications"]["routes"] = [  # type: ignore[index]
        {"on": ["gate.fired", "rollback.started", "rollback.completed"], "to": ["status"]}]
    data["spec"]["notifications"]["channels"] = {  # type: ignore[index]
        "status": {"type": "slack", "webhook": "env:SLACK_STATUS_WEBHOOK"}}
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    with (fake_services.slack({TOKEN}, slow_first_s=6.0) as slack, launchdeck_in(tmp_path, cli_db_url) as cli):
        cli.env["SLACK_STATUS_WEBHOOK"] = f"{slack.url}/services/{TOKEN}"
        result = cli("run", "plan.yaml", "--time-scale", "30", "--output", "json", "--seed", "3")
        assert result.returncode == 3, result.explain()
        store = cli.store()
        assert store is not None
        release = store.require(name="shop-v2")
        done = next(d for d in store.decisions(release_id=release.id) if d.kind == "rollback.completed")
    assert done.wall_at.timestamp() < slack.answered_at[0]
    texts = [r.json()["text"] for r in slack.accepted]
    assert len(texts) == 3 and "error-rate" in texts[0]  # and every message still arrived, in order
