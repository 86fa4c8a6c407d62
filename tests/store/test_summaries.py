"""The dashboard's list read (``queries.release_summaries``): the shown fields of each release's state read by
JSON path, on SQLite and PostgreSQL alike; filtered by finished or not and by a part of the name or
service, taken literally (``%`` and ``_`` are characters, not wildcards); one tenant only."""

from __future__ import annotations

from launchdeck.store import queries
from launchdeck.store.repo import Store


def make(store: Store, name: str, *, tenant: str = "acme", service: str = "api", outcome: str | None = None,
         waiting: dict[str, object] | None = None) -> None:
    state = {"engine": {"phase": "done" if outcome else "stage", "stage": 1, "weight": 37.5,
                        "gates": {"p95": {"status": "breach", "evidence": {"log_lr": [0.5]}}},
                        "baseline": {"latency": {str(i): i for i in range(50)}}},
             "service": service, "stages": 3, "startedAt": "2026-01-01T00:00:00+00:00", "waiting": waiting}
    found = store.create(tenant=tenant, name=name, plan_path="plan.yaml", plan_digest="d1", state=state)
    if outcome:
        store.save(release_id=found.id, state=state, plan_clock=1.0, outcome=outcome, decisions=[], messages=[])


def test_the_shown_fields_come_from_the_state(store: Store) -> None:
    make(store, "shop-v2", waiting={"kind": "sign-off", "roles": ["sre"], "stage": 2})
    [got] = queries.release_summaries(store, tenant="acme", limit=10)
    assert (got.name, got.phase, got.stage, got.weight, got.service, got.stages) == ("shop-v2", "stage", 1, 37.5, "api", 3)
    assert got.gates is not None and got.gates["p95"]["status"] == "breach"
    assert got.waiting == {"kind": "sign-off", "roles": ["sre"], "stage": 2}
    assert got.started_at == "2026-01-01T00:00:00+00:00" and got.plan_digest == "d1"


def test_active_and_finished_are_told_apart_newest_first(store: Store) -> None:
    for name, outcome in (("a", None), ("b", "promoted"), ("c", None)):
        make(store, name, outcome=outcome)
    assert [r.name for r in queries.release_summaries(store, tenant="acme", limit=10)] == ["c", "b", "a"]
    assert [r.name for r in queries.release_summaries(store, tenant="acme", limit=10, finished=False)] == ["c", "a"]
    assert [r.name for r in queries.release_summaries(store, tenant="acme", limit=10, finished=True)] == ["b"]
    assert [r.name for r in queries.release_summaries(store, tenant="acme", limit=1)] == ["c"]


def test_text_matches_name_or_service_literally(store: Store) -> None:
    make(store, "checkout-v2", service="pay_ments")
    make(store, "search-v9", service="search")
    make(store, "payxments-v1", service="other")
    assert [r.name for r in queries.release_summaries(store, tenant="acme", limit=10, text="CHECK")] == ["checkout-v2"]
    assert [r.name for r in queries.release_summaries(store, tenant="acme", limit=10, text="pay_")] == ["checkout-v2"]
    assert queries.release_summaries(store, tenant="acme", limit=10, text="%") == []


def test_another_tenants_releases_are_not_read(store: Store) -> None:
    make(store, "theirs", tenant="globex")
    assert queries.release_summaries(store, tenant="acme", limit=10) == []
