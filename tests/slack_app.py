"""Helpers for the Slack app's tests: a server with a signing secret, a tenant whose people are Slack users,
a plan registered for production, and requests signed as Slack signs them."""

from __future__ import annotations

import json
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from launchdeck.services import plans as plan_texts
from launchdeck.services import tenants
from launchdeck.store.repo import Store

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM, CHANNEL = "T0INTEL", "C0LAUNCH"
USERS = {"dana": "U0DANA", "sam": "U0SAM", "priya": "U0PRIYA"}  # priya is a person, with no role in the plan
SEED_LINE = "canary v0.1.0 → prod (us-west-2, US-only) steps: 5/25/50/100 kill-switch:gateway-flag"

TENANT = textwrap.dedent(f"""
    apiVersion: launchdeck/v1
    kind: Tenant
    metadata: {{tenant: intel}}
    spec:
      slack: {{team: {TEAM}, channels: [{CHANNEL}]}}
      people:
        - {{name: dana, email: dana@example.com, slack: {USERS['dana']}, roles: [launch-commander]}}
        - {{name: sam, email: sam@example.com, slack: {USERS['sam']}, roles: [sre]}}
        - {{name: priya, email: priya@example.com, slack: {USERS['priya']}}}
""").lstrip()

#: The plan registered for intelgraph-api in prod: 4 stages, region, residency and kill switch as the seed's line.
PLAN = textwrap.dedent("""
    apiVersion: launchdeck/v1
    kind: Release
    metadata:
      name: intelgraph-v0.0.9
      service: intelgraph-api
      version: v0.0.9
      previousVersion: v0.0.8
      labels: {environment: prod, region: us-west-2, residency: US-only}
    spec:
      killSwitch: {flag: gateway-flag}
      roles: {launch-commander: [dana], sre: [sam]}
      stages:
        - {weight: 10%, hold: 20m}
        - {weight: 30%, hold: 20m}
        - {weight: 60%, hold: 20m}
        - {weight: 100%, hold: 20m}
      gates:
        - {name: error-rate, metric: error_rate, op: ">=", threshold: 2%, for: 5m, severity: immediate}
""").lstrip()


def set_up_tenant(store: Store, plan: str = PLAN) -> None:
    tenants.apply_documents(store, [(TENANT, "tenant.yaml")], by="admin")
    plan_texts.register(store, plan, tenant="intel", by="dana")


def signed(body: bytes, *, secret: str = SIGNING_SECRET, age_s: float = 0.0) -> dict[str, str]:
    timestamp = str(int(time.time() - age_s))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class SlackClient:
    """Sends what Slack sends: slash commands and block_actions, signed, with a response_url on the stand-in."""

    server: str
    responses: str
    """The stand-in's base URL: response_urls are ``<responses>/response/<n>``."""
    sent: int = 0

    def command(self, text: str, *, user: str = "dana", command: str = "/approve", channel: str = CHANNEL,
                headers: dict[str, str] | None = None, age_s: float = 0.0) -> tuple[httpx.Response, str]:
        self.sent += 1
        url = f"{self.responses}/response/{self.sent}"
        body = urlencode({"token": "legacy-unused", "team_id": TEAM, "channel_id": channel,
                          "user_id": USERS.get(user, user), "command": command, "text": text,
                          "response_url": url, "trigger_id": "13345224609.738474920.8088930838d88f008e0"}).encode()
        sent = httpx.post(f"{self.server}/slack/commands", content=body,
                          headers=headers if headers is not None else signed(body, age_s=age_s), timeout=30)
        return sent, f"/response/{self.sent}"

    def click(self, action_id: str, release: str, *, user: str = "dana", text: str = "decide",
              label: str = "Roll back") -> tuple[httpx.Response, str]:
        self.sent += 1
        url = f"{self.responses}/response/{self.sent}"
        payload: dict[str, Any] = {
            "type": "block_actions", "team": {"id": TEAM, "domain": "intel"},
            "user": {"id": USERS.get(user, user), "username": user}, "channel": {"id": CHANNEL, "name": "launches"},
            "message": {"ts": "1764550001.000001", "text": text},
            "response_url": url,
            "actions": [{"action_id": action_id, "block_id": "launchdeck:decision.requested", "value": release,
                         "type": "button", "text": {"type": "plain_text", "text": label}}]}
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return httpx.post(f"{self.server}/slack/interactions", content=body, headers=signed(body), timeout=30), \
            f"/response/{self.sent}"


def answer(slack: Any, path: str, deadline_s: float = 30.0) -> dict[str, Any]:
    """The answer posted to ``path`` (polled until it arrives)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        for r in list(slack.responses):
            if r["path"] == path:
                return r  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise AssertionError(f"no answer at {path}: {slack.responses}")


def plan_path(tmp: Path) -> Path:
    (tmp / "plan.yaml").write_text(PLAN)
    return tmp / "plan.yaml"
