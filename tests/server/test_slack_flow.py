"""End to end: a release driven by the server's worker asks for a decision on Slack (a message with Continue and
Roll back buttons, in the release's thread); clicking Roll back rolls the release back and replaces the message
with who did it and when."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import fake_services
import httpx
import pytest
from ld_server import Serving
from slack_app import SIGNING_SECRET, SlackClient, answer, set_up_tenant

from launchdeck.server.app import create_app
from launchdeck.store import tokens

BOT = "xoxb-2222-3333-serverbottoken"
PLAN = textwrap.dedent("""
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: shop-v5, tenant: intel, version: v5, previousVersion: v4}
    spec:
      target:
        versions:
          stable: {errorRate: 0.2%}
          canary: {errorRate: 0.2%, faults: [{from: 30s, errorRate: 30%}]}
        load: {rps: 200}
      roles: {launch-commander: [dana], sre: [sam]}
      stages:
        - {weight: 20%, hold: 30m}
        - {weight: 100%, hold: 1m}
      analysis: {interval: 30s, window: 1m, minRequests: 20, method: threshold}
      gates:
        - {name: error-rate, metric: error_rate, op: ">=", threshold: 5%, severity: urgent}
      rollback:
        policy:
          urgent: {window: 2h, authority: [launch-commander], default: continue}
      notifications:
        channels:
          launches: {type: slack, token: env:LAUNCHDECK_SLACK_BOT_TOKEN, channel: C0LAUNCH, url: env:SLACK_API_URL}
        routes:
          - {on: [release.started, stage.started, gate.fired, decision.requested, rollback.started,
                  rollback.completed, release.completed], to: [launches]}
""").lstrip()


def wait_for(what: str, check: Callable[[], object], deadline_s: float = 90.0) -> object:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_clicking_roll_back_on_the_decision_message_rolls_the_release_back(
        tmp_path: Path, new_store_url: Callable[[Path], AbstractContextManager[str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    with (fake_services.slack_web({BOT}, {"C0LAUNCH"}) as slack, new_store_url(tmp_path) as url):
        monkeypatch.setenv("LAUNCHDECK_SLACK_BOT_TOKEN", BOT)
        monkeypatch.setenv("SLACK_API_URL", f"{slack.url}/api/")
        app = create_app(url, embedded_worker=True, data_dir=tmp_path / "data", slack_signing_secret=SIGNING_SECRET,
                         poll_seconds=0.2)
        with Serving(app) as served:
            store = app.state.store
            set_up_tenant(store)
            token, _ = tokens.create(store, tenant="intel", person="dana", role="operator")
            started = httpx.post(f"{served.url}/api/v1/releases", json={"planText": PLAN, "timeScale": 30},
                                 headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert started.status_code == 201, started.text

            def decision_message() -> object:
                return next((p for p in slack.posts if p.blocks and p.blocks[-1]["type"] == "actions"), None)

            asking = wait_for("the decision message", decision_message)
            buttons = {b["action_id"]: b for b in asking.blocks[-1]["elements"]}  # type: ignore[attr-defined]
            assert set(buttons) == {"launchdeck.continue", "launchdeck.rollback"}
            roll_back = buttons["launchdeck.rollback"]
            clicked, path = SlackClient(served.url, slack.url).click(roll_back["action_id"], roll_back["value"],
                                                                     text=asking.text)  # type: ignore[attr-defined]
            assert clicked.status_code == 200
            replaced = answer(slack, path)
            wait_for("the rollback", lambda: store.require(name="shop-v5").outcome == "rolled_back")
            decided = [s for s in store.signoffs(release_id=store.require(name="shop-v5").id) if s.decision]
            assert [(s.who, s.decision, s.source) for s in decided] == [("dana", "rollback", "slack")]

    assert replaced["replace_original"] is True and "Roll back by dana (<@U0DANA>)" in replaced["text"]
    (parent,) = slack.parents("C0LAUNCH")
    events = [p.text.splitlines()[0] for p in slack.replies(parent.ts)]
    assert any("rollback" in t.lower() or "rolled back" in t.lower() for t in events), events
