"""A worker's guard watch: it checks every tenant with a policy (a spend file rewritten is seen within a
tenth of a second), wakes the releases napping in their tick loop when a tenant's state changes, and puts
the tenant's error budget into a release's observations."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from launchdeck.controller import doorbell, guardwatch
from launchdeck.core.engine import Observations
from launchdeck.core.observation import WindowStats
from launchdeck.services import tenants
from launchdeck.store import guard as stored
from launchdeck.store.repo import Store

POLICY = """apiVersion: launchdeck/v1
kind: TenantPolicy
metadata: {tenant: ig}
spec:
  budget: {monthly: 100, spend: {file: FILE}}
"""


def spend(path: Path, amount: float) -> None:
    at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    path.write_text(f"at,amount\n{at.isoformat()},{amount}\n")


def test_a_rewritten_spend_file_is_checked_at_once_and_pauses_the_tenant(tmp_path: Path) -> None:
    file = tmp_path / "spend.csv"
    spend(file, 1.0)
    url = f"sqlite:///{tmp_path}/store.db"
    with Store(url) as store:
        tenants.apply_documents(store, [(POLICY.replace("FILE", str(file)), "ig.yaml")], by="root")

        async def watched() -> None:
            stop = asyncio.Event()
            watching = asyncio.create_task(guardwatch.watch(store, stop, every=3600.0))  # only the file look
            await asyncio.sleep(0.3)  # whether the first round has read the file yet or not
            spend(file, 96.0)
            changed = time.monotonic()
            while stored.state(store, tenant="ig").action != "pause":
                # Far sooner than the next round, an hour away: the file look saw the rewrite.
                assert time.monotonic() - changed < 120, "the rewritten spend file was not checked"
                await asyncio.sleep(0.02)
            stop.set()
            await watching

        asyncio.run(watched())


def test_a_napping_release_wakes_when_the_guard_changes() -> None:
    async def nap_then_wake() -> None:
        bell = doorbell.Doorbell()
        with doorbell.hung(bell):
            napping = asyncio.create_task(bell.nap(3600.0))
            await asyncio.sleep(0)  # it naps
            guardwatch.changed()
            await asyncio.wait_for(napping, 60)  # an hour's nap, ended by the change

    asyncio.run(nap_then_wake())


def test_the_error_budget_goes_into_every_window(tmp_path: Path) -> None:
    stats = WindowStats("canary", 100, 1, 60.0, 0.1)
    obs = Observations(stats, stats, stats, stats)
    with Store(f"sqlite:///{tmp_path}/store.db") as store:
        out = guardwatch.with_error_budget(store, "none", "graphql", obs)
    assert out.canary.values == {"error_budget_remaining": None} and out.stable_slice.values == out.canary.values


def test_the_watch_retries_an_alert_its_channel_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fake_services import webhook_receiver

    with webhook_receiver(None, fail_first=1) as hook, Store(f"sqlite:///{tmp_path}/store.db") as store:
        monkeypatch.setenv("IG_HOOK", f"{hook.url}/a")
        policy = POLICY.replace("FILE", str(tmp_path / "spend.csv")) + (
            "  alerts:\n    channels:\n      hook: {type: webhook, url: 'env:IG_HOOK'}\n    notify: [hook]\n")
        tenants.apply_documents(store, [(policy, "ig.yaml")], by="root")
        spend(tmp_path / "spend.csv", 80.0)
        guardwatch.check_all(store, safety=False)  # raised and tried: the first one refused, the others sent
        [(_, refused)] = hook.refused
        key = refused.headers["idempotency-key"]
        def keys() -> list[str]:
            return [r.headers["idempotency-key"] for r in hook.accepted]
        assert key.startswith("alert:") and key not in keys()
        deadline = time.monotonic() + 30
        while key not in keys() and time.monotonic() < deadline:
            guardwatch.check_all(store, safety=False)  # what the watch does each second
            time.sleep(0.2)
        assert keys().count(key) == 1 and len(keys()) == len(set(keys()))
