"""The scale benchmark's synthetic target drives a real release through the one tick loop: every router
write is logged with the lease it was sent under, and the tick-lag view sees every evaluation."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

from launchdeck.bench.synthetic import LagSamples, SyntheticTarget, TickLag, WriteLog, current_lease, lease_check
from launchdeck.controller.runner import drive
from launchdeck.controller.session import RunOptions
from launchdeck.controller.submit import submit
from launchdeck.plan import load_plan
from launchdeck.store import leases
from launchdeck.store.repo import Store

PLAN = """\
apiVersion: launchdeck/v1
kind: Release
metadata: {name: synth-v2, service: synth, version: v2, previousVersion: v1}
spec:
  target:
    versions:
      stable: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
      canary: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
  stages:
    - {weight: 20%, hold: 30s}
    - {weight: 100%, hold: 30s}
  analysis: {interval: 10s, window: 30s, minRequests: 10, method: threshold}
  gates:
    - {name: error-rate, metric: error_rate, op: ">=", threshold: 5%, for: 20s, severity: immediate}
"""


def test_a_release_driven_on_the_synthetic_target_is_promoted_and_every_write_names_its_lease(tmp_path: Path) -> None:
    path = tmp_path / "synth.yaml"
    path.write_text(PLAN)
    url = f"sqlite:///{tmp_path}/store.db"
    # --time-scale 20: an evaluation every 0.5 s of wall time, so a machine under load that stalls the loop
    # for a few hundred milliseconds does not merge evaluations (at 100, CI once saw 3 of the 6)
    opts = RunOptions(time_scale=20.0, db_url=url, workdir=tmp_path)
    samples = LagSamples(interval=10.0)
    log = WriteLog(tmp_path / "writes.jsonl")
    with Store(url) as store:
        release = submit(store, load_plan(path), opts, TickLag(samples))
        lease = leases.claim(store, release.id, "bench/1/abc", 15.0)
        assert lease is not None

        async def driven() -> dict[str, object]:
            current_lease.set(lease)
            target = SyntheticTarget(log=log, check=lease_check(store))
            return await drive(load_plan(path), opts, samples.view(release), store, lease, opener=target)

        summary = asyncio.run(driven())
    log.close()

    assert summary["outcome"] == "promoted"
    written = WriteLog.read(tmp_path / "writes.jsonl")
    assert [w.what for w in written] == ["set-weight:20", "set-weight:100"]
    assert {(w.release_id, w.holder, w.epoch, w.stale) for w in written} == {(release.id, "bench/1/abc", 1, False)}
    assert samples.evaluations >= 4 and len(samples.lags()) == samples.evaluations


def test_a_write_under_a_lease_taken_over_is_logged_as_stale(tmp_path: Path) -> None:
    path = tmp_path / "synth.yaml"
    path.write_text(PLAN)
    url = f"sqlite:///{tmp_path}/store.db"
    with Store(url) as store:
        release = submit(store, load_plan(path), RunOptions(db_url=url, workdir=tmp_path), TickLag(LagSamples(10.0)))
        old = leases.claim(store, release.id, "old/1/aaa", 15.0)
        assert old is not None
        assert leases.claim(store, release.id, "new/2/bbb", 15.0, dead=lambda _h: True) is not None
        log = WriteLog()
        target = SyntheticTarget(log=log, check=lease_check(store))

        plan = load_plan(path)

        async def write() -> None:
            current_lease.set(old)
            opened = await target(plan.doc.spec, plan.doc.metadata, stack=AsyncExitStack(), time_scale=1.0,
                                  plan_offset=0.0)
            await opened.router.set_weight(10.0)

        asyncio.run(write())
    assert [(w.epoch, w.stale) for w in log.writes] == [(1, True)]



def test_lag_samples_dumped_twice_read_back_once_each(tmp_path: Path) -> None:
    samples = LagSamples(interval=10.0)
    samples.samples += [(1.5, 0.25), (2.5, 0.125)]
    samples.starts[1] = 1.0
    path = tmp_path / "lag-1.json"
    samples.dump(path)
    samples.samples.append((3.5, 0.5))
    samples.dump(path)
    data, read = LagSamples.read(path)
    assert read == [(1.5, 0.25), (2.5, 0.125), (3.5, 0.5)]
    assert data["interval"] == 10.0 and data["starts"] == [1.0]
