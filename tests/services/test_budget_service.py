"""The budget guard through its service: thresholds once each, the page at 90%, the forecast ahead of the
spend, burn-rate alerts, and the policy's enforcement."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from launchdeck.services import budget, tenants
from launchdeck.store import guard as stored
from launchdeck.store.repo import Store

NOW = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)
POLICY = """apiVersion: launchdeck/v1
kind: TenantPolicy
metadata: {tenant: ig}
spec:
  budget: {monthly: 1000}
  enforcement: {action: pause, automatic: AUTO}
"""


def apply(store: Store, text: str = POLICY, auto: str = "true") -> None:
    tenants.apply_documents(store, [(text.replace("AUTO", auto), "ig.yaml")], by="root")


def spend_csv(amounts: list[float], start: datetime) -> str:
    lines = ["at,amount"] + [f"{(start + timedelta(hours=i)).isoformat()},{a}" for i, a in enumerate(amounts)]
    return "\n".join(lines) + "\n"


def test_each_threshold_fires_once_and_ninety_and_over_page(store: Store) -> None:
    apply(store)
    start = NOW - timedelta(days=10)
    raised: list[tuple[str, bool]] = []
    # Flat spend (no forecast surprise): steps to 76%, 86%, 96%, 101%, each fed twice.
    for total in (760.0, 760.0, 860.0, 960.0, 960.0, 1010.0):
        text = spend_csv([total / 24] * 24, start)
        stored.add_spend(store, tenant="ig", source="feed", records=budget.parse_records(text, "feed"))
        report = budget.check(store, tenant="ig", now=NOW)
        raised += [(a.key.split(":", 2)[2], a.page) for a in report.raised if a.kind == "budget-actual"]
    assert raised == [("actual:0.75", False), ("actual:0.85", False), ("actual:0.95", True), ("actual:1.0", True)]


def test_a_paging_alert_pauses_the_tenant_at_once(store: Store) -> None:
    apply(store)
    budget.record(store, tenant="ig", text=spend_csv([40.0] * 24, NOW - timedelta(days=2)), source="feed", who="ops")
    st = stored.state(store, tenant="ig")
    assert st.action == "pause" and not st.action_pending and "95%" in st.action_reason


def test_enforcement_after_approval_waits_for_budget_protect(store: Store) -> None:
    apply(store, auto="false")
    budget.record(store, tenant="ig", text=spend_csv([40.0] * 24, NOW - timedelta(days=2)), source="feed", who="ops")
    st = stored.state(store, tenant="ig")
    assert st.action == "pause" and st.action_pending
    st = budget.protect(store, tenant="ig", who="root")
    assert st.action == "pause" and not st.action_pending
    assert budget.protect(store, tenant="ig", who="root", lift=True).action == "none"


def test_a_rising_spend_alerts_on_the_forecast_before_the_spend_crosses(store: Store) -> None:
    apply(store)
    start = NOW - timedelta(hours=96)
    amounts = [2.0 + 0.06 * h for h in range(96)]  # ~ 480 spent, rising to ~8/h: 1000 within 72 h
    stored.add_spend(store, tenant="ig", source="feed", records=budget.parse_records(spend_csv(amounts, start), "f"))
    report = budget.check(store, tenant="ig", now=NOW)
    assert report.spent < 1000 * 0.75
    assert report.forecast is not None and report.forecast.exhaustion_inside
    assert [a.kind for a in report.raised] == ["budget-forecast"] and report.raised[0].page
    assert "within 72 h" in report.raised[0].reason


def test_a_fast_burn_pages_from_the_error_budget_file(store: Store, tmp_path: Path) -> None:
    counts = [{"at": (NOW - timedelta(minutes=m)).isoformat(), "total": 1000, "bad": 0} for m in range(5, 3 * 1440)]
    counts += [{"at": (NOW - timedelta(minutes=m)).isoformat(), "total": 1000, "bad": 500} for m in range(5)]
    (tmp_path / "req.json").write_text(json.dumps(counts))
    apply(store, POLICY + f"  errorBudgets: [{{service: graphql, objective: 99.9%, file: {tmp_path / 'req.json'}}}]\n")
    report = budget.check(store, tenant="ig", now=NOW)
    assert {a.kind for a in report.raised} == {"burn-rate"} and all(a.page for a in report.raised)
    assert "alert at 14.4x" in report.raised[0].reason and report.burn[0]["remaining"] < 1.0
    assert budget.check(store, tenant="ig", now=NOW).raised == ()  # once


def test_spend_read_from_a_real_prometheus_adds_up_its_series(store: Store) -> None:
    import asyncio

    from launchdeck.stacks.prometheus import PrometheusServer

    async def check() -> budget.BudgetReport:
        async with PrometheusServer(["127.0.0.1:9"]) as prom:  # nothing to scrape: the query is a constant
            # Two series, as spend per service would be: 12.5 and 7.5 an hour.
            query = 'vector(12.5) or label_replace(vector(7.5), "service", "search", "", "")'
            policy = POLICY.replace("budget: {monthly: 1000}", "budget: {monthly: 1000, spend: {prometheus: "
                                    f"{{url: '{prom.url}', query: '{query}'}}}}}}")
            apply(store, policy)
            return await asyncio.to_thread(budget.check, store, tenant="ig", now=NOW)

    report = asyncio.run(check())
    hours_this_month = (NOW - budget.month_start(NOW)).total_seconds() // 3600 + 1
    assert report.spent == (12.5 + 7.5) * hours_this_month
    assert report.forecast is not None and report.forecast.upper > report.spent


def test_a_hook_action_runs_its_command_with_the_tenant(store: Store, tmp_path: Path) -> None:
    import pytest

    mp = pytest.MonkeyPatch()
    mp.chdir(tmp_path)
    try:
        apply(store, POLICY.replace("enforcement: {action: pause, automatic: AUTO}",
                                    "enforcement: {action: hook, hook: 'touch hooked-{{tenant}}'}"))
        budget.record(store, tenant="ig", text=spend_csv([40.0] * 24, NOW - timedelta(days=2)), source="f", who="ops")
    finally:
        mp.undo()
    assert (tmp_path / "hooked-ig").is_file()
    assert stored.state(store, tenant="ig").action == "hook"


@pytest.fixture(scope="module")
def prometheus() -> Iterator[str]:
    """A real Prometheus with nothing to scrape: the error-ratio queries below are built from constants."""
    import asyncio

    from launchdeck.stacks.prometheus import PrometheusServer

    prom = PrometheusServer(["127.0.0.1:9"])
    asyncio.run(prom.start())
    try:
        yield prom.url
    finally:
        asyncio.run(prom.close())


def _prometheus_budget(store: Store, url: str, query: str) -> budget.BudgetReport:
    apply(store, POLICY + f"  errorBudgets: [{{service: graphql, objective: 99.9%, prometheus: "
                          f"{{url: '{url}', query: '{query}'}}}}]\n")
    return budget.check(store, tenant="ig", now=NOW)


def test_error_budget_read_from_a_real_prometheus_window_by_window(store: Store, prometheus: str) -> None:
    # One minute-point per minute of the window over 3000: 5m gives ~0.002 (~2x of a 0.1% budget), 30m ~10x,
    # 1h ~20x, 6h ~120x -- so only the 6x (6h and 30m) and 1x (3d and 6h) pairs fire, never the 14.4x one
    # (its 5m short window is calm): each window is its own query.
    report = _prometheus_budget(store, prometheus, "count_over_time(vector(1)[{{window}}:1m]) / 3000")
    (burn,) = report.burn
    assert "error" not in burn, burn
    assert 1.5 <= burn["rates"]["5m"] <= 2.5 and 18 <= burn["rates"]["1h"] <= 22
    assert sorted(a.key.split(":")[2] for a in report.raised) == ["1", "6"]
    assert [a.page for a in sorted(report.raised, key=lambda a: a.key)] == [False, True]
    assert burn["remaining"] < 0  # 30 days at this rate: overspent
    assert budget.error_budget_remaining(store, tenant="ig", service="graphql", now=NOW) == pytest.approx(burn["remaining"], abs=1e-3)


def test_a_query_prometheus_rejects_is_named_in_the_burn_row(store: Store, prometheus: str) -> None:
    report = _prometheus_budget(store, prometheus, "sum(rate(oops[{{window}}])")
    (burn,) = report.burn
    assert "Prometheus refused" in burn["error"] and "parse error" in burn["error"]
    assert report.raised == ()
    assert budget.error_budget_remaining(store, tenant="ig", service="graphql", now=NOW) is None


def test_no_traffic_in_prometheus_leaves_the_error_budget_whole(store: Store, prometheus: str) -> None:
    report = _prometheus_budget(store, prometheus, "sum(rate(http_requests_total[{{window}}]))")
    assert report.burn[0]["remaining"] == 1.0 and report.raised == ()


def test_an_unreadable_spend_file_is_a_note_on_the_tenants_status_not_a_failure(store: Store, tmp_path: Path) -> None:
    apply(store, POLICY.replace("budget: {monthly: 1000}",
                                f"budget: {{monthly: 1000, spend: {{file: {tmp_path / 'gone.csv'}}}}}"))
    (report,) = budget.status(store, tenants=["ig"])
    assert report.spent == 0.0 and report.raised == ()
    assert report.to_json()["note"].startswith(f"spend not read: cannot read the spend file {tmp_path / 'gone.csv'}")
