"""A worker shares itself fairly across tenants: a tenant that submitted a flood of releases first does not
keep another tenant's release waiting behind them (the synthetic in-process target: no fleet per release)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from launchdeck.bench.synthetic import LeasedWorker, SyntheticTarget
from launchdeck.controller import worker as workers
from launchdeck.controller.session import RunOptions
from launchdeck.controller.submit import submit
from launchdeck.core.engine import Decision
from launchdeck.plan import load_plan
from launchdeck.store.repo import Store, StoredRelease

PLAN = """\
apiVersion: launchdeck/v1
kind: Release
metadata: {name: NAME, tenant: TENANT, service: NAME, version: v2, previousVersion: v1}
spec:
  stages:
    - {weight: 20%, hold: 1h}
  analysis: {interval: 10s, window: 30s, minRequests: 10, method: threshold}
"""


class Quiet:
    def note(self, text: str) -> None:
        pass

    def decision(self, d: Any) -> None:
        pass

    def tick(self, snapshot: dict[str, Any]) -> None:
        pass


def test_a_flood_of_one_tenant_does_not_keep_another_tenants_release_waiting(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(workers, "CLAIM_BATCH", 20)  # a look claims 20: the flood needs several looks
    url = f"sqlite:///{tmp_path}/store.db"
    opts = RunOptions(db_url=url, workdir=tmp_path)
    with Store(url) as store:
        for tenant, names in (("flood", [f"flood-{i}" for i in range(60)]), ("calm", ["calm-1"])):
            for name in names:
                path = tmp_path / f"{name}.yaml"
                path.write_text(PLAN.replace("NAME", name).replace("TENANT", tenant))
                submit(store, load_plan(path), opts, Quiet(), submitted_by="kim")
    started: dict[str, float] = {}
    looks: list[list[int]] = []  # the release ids each look of the worker claimed, in order
    claim_due = workers.leases.claim_due

    def claiming(*args: Any, **kwargs: Any) -> Any:
        claimed = claim_due(*args, **kwargs)
        if claimed:
            looks.append([lease.release_id for lease in claimed])
        return claimed

    monkeypatch.setattr(workers.leases, "claim_due", claiming)

    def view(found: StoredRelease) -> Any:
        class View(Quiet):
            def decision(self, d: Decision) -> None:
                if d.kind == "stage.started":
                    started.setdefault(found.name, time.monotonic())
        return View()

    async def drive() -> None:
        stop = asyncio.Event()
        worker = LeasedWorker(url, opener=SyntheticTarget(), view=view, home=tmp_path / "home", guard=False)
        running = asyncio.create_task(worker.run(stop))
        deadline = time.monotonic() + 60
        while len(started) < 61 and time.monotonic() < deadline and not running.done():
            await asyncio.sleep(0.05)
        stop.set()
        await running

    asyncio.run(drive())
    assert len(started) == 61, sorted(started)  # every release was driven into its stage
    with Store(url) as store:
        calm = store.find(name="calm-1")
    assert calm is not None
    # claimed in the first look with the flood's first 19, not after all 60 of them
    assert len(looks[0]) == 20 and calm.id in looks[0], looks
