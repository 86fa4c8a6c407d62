"""A tenant's guard alerts reach its people: every alert to the notify channels, a paging one to PagerDuty
too (the imitated Events API, which checks requests as the real one does)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_services import pagerduty

from launchdeck.services import budget, tenants
from launchdeck.store.repo import Store

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
