"""An alert's deliveries as stored: written with the alert, claimed by one worker only, and finished as
delivered or given up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from launchdeck.store import guard as stored
from launchdeck.store import guard_delivery
from launchdeck.store.repo import Store

NOW = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)


def _alert(store: Store) -> stored.Alert:
    [a] = stored.raise_alerts(store, [stored.Alert("ig", "burn-rate", "burn:api:6", True, "burning", NOW)],
                              channels=lambda a: ["chat", "pager", "chat"])
    return a


def test_an_alert_is_stored_with_one_delivery_per_channel(store: Store) -> None:
    a = _alert(store)
    ds = guard_delivery.of_alerts(store, [a.id])[a.id]
    assert [(d.channel, d.status, d.attempts, d.key) for d in ds] == [
        ("chat", "pending", 0, f"alert:{a.id}:chat"), ("pager", "pending", 0, f"alert:{a.id}:pager")]


def test_of_two_workers_that_read_the_same_delivery_only_one_claims_it(store: Store) -> None:
    _alert(store)
    first = guard_delivery.due(store, tenant="ig", now=NOW)
    second = guard_delivery.due(store, tenant="ig", now=NOW)
    assert guard_delivery.claim(store, first[0][1], until=NOW + timedelta(minutes=1))
    assert not guard_delivery.claim(store, second[0][1], until=NOW + timedelta(minutes=1))
    assert [d.channel for _, d in guard_delivery.due(store, tenant="ig", now=NOW)] == ["pager"]


def test_a_claim_left_by_a_killed_worker_is_due_again_when_it_ends(store: Store) -> None:
    _alert(store)
    [(_, chat), _] = guard_delivery.due(store, tenant="ig", now=NOW)
    guard_delivery.claim(store, chat, until=NOW + timedelta(minutes=1))
    assert "chat" in [d.channel for _, d in guard_delivery.due(store, tenant="ig", now=NOW + timedelta(minutes=1))]


def test_delivered_and_given_up_deliveries_are_not_due_again(store: Store) -> None:
    a = _alert(store)
    [(_, chat), (_, pager)] = guard_delivery.due(store, tenant="ig", now=NOW)
    guard_delivery.delivered(store, chat, at=NOW)
    guard_delivery.failed(store, pager, error="HTTP 503", at=NOW, retry_at=None)
    assert guard_delivery.due(store, tenant="ig", now=NOW + timedelta(days=1)) == []
    ds = guard_delivery.of_alerts(store, [a.id])[a.id]
    assert [(d.status, d.attempts, d.last_error) for d in ds] == [("delivered", 1, None), ("given up", 1, "HTTP 503")]
