"""A tenant's guard alerts reach its people: every alert to the notify channels, a paging one to PagerDuty
too (the imitated Events API, which checks requests as the real one does)."""

from __future__ import annotations

import asyncio
import json
import random
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_services import pagerduty, webhook_receiver

from launchdeck.services import alerting, budget, operators, tenants
from launchdeck.services.guardrails import rails_of
from launchdeck.store import guard as stored
from launchdeck.store import guard_delivery
from launchdeck.store.repo import Store, now_utc

NOW = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)
KEY = "k" * 32


def test_alerts_go_to_notify_and_pages_to_pagerduty(store: Store, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IG_PD_KEY", KEY)
    with pagerduty({KEY}) as pd:
        policy = f"""apiVersion: launchdeck/v1
kind: TenantPolicy
metadata: {{tenant: ig}}
spec:
  budget: {{monthly: 1000}}
  alerts:
    channels:
      finops: {{type: file, path: {tmp_path / 'finops.jsonl'}}}
      oncall: {{type: pagerduty, routingKey: env:IG_PD_KEY, url: {pd.url}/v2/enqueue}}
    notify: [finops]
    page: [oncall]
"""
        tenants.apply_documents(store, [(policy, "ig.yaml")], by="root")
        text = "at,amount\n" + "".join(f"{(NOW - timedelta(hours=h)).isoformat()},{900 / 24}\n" for h in range(1, 25))
        budget.record(store, tenant="ig", text=text, source="bill", who="ops")
        budget.check(store, tenant="ig")  # nothing new: nothing sent again
        pages = [r.json() for r in pd.accepted]
        assert pd.refused == []
    notes = [json.loads(line) for line in (tmp_path / "finops.jsonl").read_text().splitlines()]
    # 90% spent: 75% and 85% notify; the forecast's exhaustion within 72 h pages (and notifies)
    assert [n["title"].split(": crossed ")[-1][:4] for n in notes] == ["75%", "85%", "100%"]
    assert [(p["payload"]["severity"], p["dedup_key"]) for p in pages] == [("critical", "launchdeck/guard/ig")]
    assert "forecast" in pages[0]["payload"]["summary"]
    assert not any("k" * 32 in n["text"] for n in notes)


def test_a_policy_naming_an_undefined_channel_is_refused(store: Store) -> None:
    from launchdeck.errors import PlanError

    bad = "apiVersion: launchdeck/v1\nkind: TenantPolicy\nmetadata: {tenant: ig}\nspec:\n  alerts: {notify: [nope]}\n"
    with pytest.raises(PlanError) as e:
        tenants.apply_documents(store, [(bad, "ig.yaml")], by="root")
    assert "ig.yaml:5" in str(e.value) and "not in alerts.channels" in str(e.value)


# -- durable delivery: retried with backoff, claimed once, given up after a bound -------------------------------

def _policy(store: Store, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("IG_HOOK_URL", url)
    policy = """apiVersion: launchdeck/v1
kind: TenantPolicy
metadata: {tenant: ig}
spec:
  budget: {monthly: 1000}
  alerts:
    channels:
      hook: {type: webhook, url: "env:IG_HOOK_URL"}
    notify: [hook]
"""
    tenants.apply_documents(store, [(policy, "ig.yaml")], by="root")


def _raise(store: Store, key: str, at: datetime) -> stored.Alert:
    rails = rails_of(store, "ig")
    [alert] = stored.raise_alerts(store, [stored.Alert("ig", "budget-actual", key, False, f"crossed {key}", at)],
                                  channels=lambda a: alerting.channels_of(rails, a))
    return alert


def _round(store: Store, now: datetime) -> alerting.DeliveryRound:
    return asyncio.run(alerting.deliver_due(store, rails_of(store, "ig"), now=now, rng=random.Random(7)))


def test_a_channel_failing_twice_gets_the_alert_once_after_retries(store: Store,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with webhook_receiver(None, fail_first=2) as hook:
        _policy(store, monkeypatch, f"{hook.url}/alerts")
        alert = _raise(store, "budget:2026-12:actual:0.75", NOW)
        assert _round(store, NOW).refused  # tried when raised: refused
        assert _round(store, NOW + timedelta(seconds=0.5)) == alerting.DeliveryRound()  # not before its backoff
        now = NOW
        for _ in range(5):
            now += timedelta(minutes=10)
            _round(store, now)
        assert len(hook.refused) == 2 and len(hook.accepted) == 1
        keys = {r.headers["idempotency-key"] for _, r in hook.refused} | {hook.accepted[0].headers["idempotency-key"]}
    assert keys == {f"alert:{alert.id}:hook"}
    [d] = guard_delivery.of_alerts(store, [alert.id])[alert.id]
    assert (d.status, d.attempts) == ("delivered", 3) and "HTTP 503" in (d.last_error or "")


def test_two_workers_racing_deliver_each_alert_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with webhook_receiver(None) as hook:
        _policy(store, monkeypatch, f"{hook.url}/alerts")
        alerts = [_raise(store, f"burn:api:14.4:{i}", NOW) for i in range(12)]
        with ThreadPoolExecutor(2) as pool:
            rounds = list(pool.map(lambda _: _round(store, NOW), range(2)))
        got = sorted(r.headers["idempotency-key"] for r in hook.accepted)
    assert got == sorted(f"alert:{a.id}:hook" for a in alerts)  # each once, none twice
    assert sum(len(r.sent) for r in rounds) == 12


def test_a_dead_channel_is_given_up_after_the_bound_and_shown(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/secret-path-abc"
    _policy(store, monkeypatch, dead)
    now = now_utc()
    alert = _raise(store, f"budget:{now:%Y-%m}:actual:0.75", now)
    gave_up: tuple[str, ...] = ()
    for i in range(alerting.MAX_ATTEMPTS + 3):
        gave_up += _round(store, now + timedelta(hours=i)).gave_up
    assert gave_up == (f"alert:{alert.id}:hook",)
    [row] = operators.budget_status(store, tenant="ig")
    [shown] = [a for a in row["alerts"] if a["key"] == alert.key]
    assert shown["delivery"] == "given up"
    [d] = shown["deliveries"]
    assert (d["channel"], d["status"], d["attempts"], d["nextAt"]) == ("hook", "given up", alerting.MAX_ATTEMPTS, None)
    assert "webhook channel 'hook'" in d["lastError"] and "secret-path-abc" not in json.dumps(row)
