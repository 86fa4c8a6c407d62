"""The guard's tables: an alert is raised once by its key, spend records are kept once per source and hour,
and the state's mark moves whenever a tenant's guard state changes (what wakes a worker's releases)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from launchdeck.store import guard as stored
from launchdeck.store.repo import Store

AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_an_alert_is_raised_once_by_its_key(store: Store) -> None:
    alert = stored.Alert("mc", "budget-actual", "budget:2026-12:actual:0.75", False, "75%", AT)
    [raised] = stored.raise_alerts(store, [alert])
    assert raised == replace(alert, id=raised.id) and raised.id is not None  # returned with its row's id
    assert stored.raise_alerts(store, [alert]) == []
    other = stored.Alert("ig", "budget-actual", alert.key, False, "75%", AT)  # another tenant's is its own
    assert [a.tenant for a in stored.raise_alerts(store, [other])] == ["ig"]
    assert [a.tenant for a in stored.alerts(store, tenant="mc")] == ["mc"]


def test_spend_fed_twice_is_kept_once_with_the_later_amount(store: Store) -> None:
    stored.add_spend(store, tenant="mc", source="bill.csv", records=[(AT, 10.0)])
    stored.add_spend(store, tenant="mc", source="bill.csv", records=[(AT, 12.5)])
    assert stored.spend_since(store, tenant="mc", since=AT) == [("bill.csv", AT, 12.5)]


def test_the_mark_moves_with_every_state_change_and_history_says_who(store: Store) -> None:
    before = stored.mark(store)
    stored.update(store, tenant="mc", who="dana", kind="override", reason="incident", override_by="dana")
    after = stored.mark(store)
    assert after != before
    assert stored.state(store, tenant="mc").override_by == "dana"
    assert [(k, w) for _, k, w, _ in stored.history(store, tenant="mc")] == [("override", "dana")]
