"""A webhook receiver that is down for a whole run: the run backs off (one line when the channel
starts failing), its summary and exit status say messages are undelivered, and `launchdeck
messages flush` delivers every one of them once, in order, when the receiver is back."""

from __future__ import annotations

import json

import fake_services
import pytest
from ld_integration import Launchdeck

pytestmark = pytest.mark.integration

SECRET = "outbox-hook-secret-value"
UNDELIVERED_EXIT = 5
EVENTS = ["release.started", "stage.started", "stage.passed", "stage.started", "stage.passed", "release.completed"]

PLAN = """
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {name: shop-v3, service: shop, version: v3, previousVersion: v2}
    spec:
      target:
        versions:
          stable: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
          canary: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
        load: {rps: 200, users: 1000}
      stages:
        - {weight: 20%, hold: 1m}
        - {weight: 100%, hold: 1m}
      analysis: {interval: 10s, window: 2m, minRequests: 20}
      gates:
        - {name: error-rate, metric: error_rate, op: ">=", threshold: 5%, for: 1m, severity: immediate}
      notifications:
        channels:
          war-room: {type: webhook, url: "env:WAR_ROOM_URL", secret: "env:HOOK_SECRET"}
          log: {type: file, path: notifications.jsonl}
        routes:
          - {on: [release.started, stage.started, stage.passed, release.completed], to: [war-room, log]}
"""


def test_messages_held_back_by_a_dead_receiver_are_flushed_once_each_in_order(ld: Launchdeck) -> None:
    ld.write("plan.yaml", PLAN)
    with fake_services.webhook_receiver(SECRET) as hook:
        hook.down = True
        ld.env.update(WAR_ROOM_URL=f"{hook.url}/hook", HOOK_SECRET=SECRET)
        run = ld("run", "plan.yaml", "--time-scale", "60", "--output", "json", "--seed", "4")

        assert run.returncode == UNDELIVERED_EXIT, run.explain()
        summary = run.summary
        assert summary["outcome"] == "promoted"
        assert summary["undelivered"] == {"count": len(EVENTS), "channels": ["war-room"]}
        # One line when the channel started failing, none per attempt; the end says what to do.
        assert run.stderr.count("channel war-room is failing") == 1, run.explain()
        assert "will retry" not in run.stderr and "recovered" not in run.stderr
        assert "launchdeck messages flush shop-v3" in run.stderr
        assert 2 <= len(hook.refused) <= 12, f"{len(hook.refused)} attempts: backoff should make a handful"
        assert not hook.accepted
        # The other channel was never held up.
        logged = [json.loads(line)["event"] for line in (ld.cwd / "notifications.jsonl").read_text().splitlines()]
        assert logged == EVENTS

        listed = ld("messages", "shop-v3")  # `messages RELEASE` is `messages list RELEASE`
        assert listed.returncode == 0, listed.explain()
        assert listed.stdout.count("failing (") == 1 and "HTTP 503" in listed.stdout  # the first waits, the rest queue
        assert listed.stdout.count("pending (not tried yet)") == len(EVENTS) - 1
        assert f"{2 * len(EVENTS)} message(s): {len(EVENTS)} sent, {len(EVENTS)} pending" in listed.stdout  # + the file

        early = ld("messages", "flush", "shop-v3")  # still down: nothing sent, and the exit status says so
        assert early.returncode == UNDELIVERED_EXIT, early.explain()
        assert "still queued: 6 message(s) for war-room" in early.stdout and "HTTP 503" in early.stdout

        hook.down = False
        flushed = ld("messages", "flush", "shop-v3")
        assert flushed.returncode == 0, flushed.explain()
        assert flushed.stdout.count("sent #") == len(EVENTS) and "every message is delivered" in flushed.stdout

        again = ld("messages", "flush", "shop-v3")  # nothing left: nothing sent twice
        assert again.returncode == 0 and "sent #" not in again.stdout, again.explain()

        history = ld("messages", "list", "shop-v3")  # each attempt of the first message: refused, then delivered
        assert f"{2 * len(EVENTS)} message(s): {2 * len(EVENTS)} sent, 0 pending" in history.stdout, history.explain()
        assert "refused: " in history.stdout and "HTTP 503" in history.stdout and "delivered" in history.stdout

    bodies = [r.json() for r in hook.accepted]
    assert [b["event"] for b in bodies] == EVENTS
    ids = [b["id"] for b in bodies]
    assert len(set(ids)) == len(ids)  # each delivery once...
    assert [int(i.split(":")[-1]) for i in ids] == sorted(int(i.split(":")[-1]) for i in ids)  # ...in order
    # ...with the same id it was refused under, so a receiver could have dropped a repeat.
    assert {r.json()["id"] for _, r in hook.refused} <= set(ids)
    assert all(r.headers.get("x-launchdeck-signature") for r in hook.accepted)
    assert SECRET not in run.stdout + run.stderr + flushed.stdout + flushed.stderr
