"""Workers share the releases of one store: each release driven by exactly one lease holder at a time.

Releases are submitted (the same `submit` `run --detach` and the API use), `launchdeck worker`
processes drive them, and a worker killed mid-release loses nothing: the others take its releases
over once its leases expire, no stage is started twice, no router write is sent under an old epoch,
and every decision log verifies.
"""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest
from ld_integration import Background, Launchdeck, wait_for

from launchdeck.controller import audit
from launchdeck.controller.session import RunOptions
from launchdeck.controller.submit import submit
from launchdeck.controller.view import PlainView
from launchdeck.plan import load_plan
from launchdeck.store import leases
from launchdeck.store.repo import Store, StoredRelease

pytestmark = pytest.mark.integration

PLAN = """
    apiVersion: launchdeck/v1
    kind: Release
    metadata: {{name: {name}, service: {name}, version: v2, previousVersion: v1}}
    spec:
      target:
        versions:
          stable: {{errorRate: 0.1%, latency: {{median: 20ms, p95: 60ms}}}}
          canary:
            errorRate: 0.1%
            latency: {{median: 20ms, p95: 60ms}}
            faults: {faults}
        load: {{rps: 60, users: 1000}}
      stages:
        - {{weight: 20%, hold: 1m}}
        - {{weight: 50%, hold: 1m}}
      analysis: {{interval: 10s, window: 1m, minRequests: 10}}
      gates:
        - {{name: error-rate, metric: error_rate, op: ">=", threshold: 10%, for: 20s, severity: immediate}}
      rollback:
        steps: [kill-switch, traffic-to-stable, verify]
"""

BAD = "[{from: 30s, errorRate: 60%}]"  # fails in stage 1


def _plan(ld: Launchdeck, name: str, bad: bool) -> Path:
    return ld.write(f"{name}.yaml", PLAN.format(name=name, faults=BAD if bad else "[]"))


def _submit(ld: Launchdeck, path: Path, time_scale: float = 20.0) -> None:
    with Store(ld.db_url) as store:
        submit(store, load_plan(path), RunOptions(time_scale=time_scale, db_url=ld.db_url, workdir=path.parent, seed=3),
               PlainView())


def _holds(store: Store, worker: Background) -> list[str]:
    """Releases in a stage whose live lease the worker process holds."""
    mine = f"{socket.gethostname()}/{worker.pid}/"
    return [r.name for r in store.releases() if r.lease_holder and r.lease_holder.startswith(mine)
            and leases.holder(store, r.id).live() and r.state["engine"]["phase"] == "stage"]


def test_three_workers_drive_twenty_releases_and_one_killed_mid_release_changes_no_outcome(ld: Launchdeck) -> None:
    expected = {f"svc{i:02d}-v2": ("rolled_back" if i % 4 == 0 else "promoted") for i in range(20)}
    for name, outcome in expected.items():
        _submit(ld, _plan(ld, name, bad=outcome == "rolled_back"))
    workers = [ld.start("worker", "--lease", "3s", "--capacity", "4") for _ in range(3)]
    store = Store(ld.db_url)
    try:
        victim = workers[0]
        wait_for(lambda: _holds(store, victim), timeout=60, what="the first worker to drive a release in a stage",
                 alive=victim)
        victim.kill()
        outcomes = wait_for(lambda: (lambda rs: rs if all(r.outcome for r in rs) else None)(
                                [store.find(name=n) for n in expected]),
                            timeout=180, what="every release to reach its outcome")
        assert {r.name: r.outcome for r in outcomes if r} == expected

        for release in (r for r in outcomes if r):
            started = [d.inputs.get("stage") for d in store.decisions(release_id=release.id)
                       if d.kind == "stage.started"]
            assert len(started) == len(set(started)), f"{release.name} started a stage twice: {started}"
            epochs = [e.epoch for e in leases.effects(store, release.id)]
            assert epochs == sorted(epochs), f"{release.name}: a router write under an old lease epoch: {epochs}"
            report = audit.verify_release(store, release, audit.trusted_keys(keys=[], plan=Path(release.plan_path)))
            assert not report.problems, f"{release.name}: {report.problems}"
        taken_over = [r.name for r in outcomes if r and r.lease_epoch > 1]
        assert taken_over, "no release changed hands after the kill"
    finally:
        store.close()
        for w in workers[1:]:
            w.proc.send_signal(signal.SIGTERM)
    for w in workers[1:]:
        assert w.wait(timeout=30).returncode == 0


def test_a_second_run_of_a_driven_release_says_who_drives_it_and_exits_4(ld: Launchdeck) -> None:
    path = _plan(ld, "solo-v2", bad=False)
    first = ld.start("run", path, "--time-scale", "2")
    wait_for(lambda: (ld.release("solo-v2") or {}).get("engine", {}).get("phase") == "stage", timeout=60,
             what="the first run to reach its first stage", alive=first)
    second = ld("run", path, "--time-scale", "2")
    assert second.returncode == 4, second.explain()
    assert f"is being driven by pid {first.pid} on {socket.gethostname()}" in second.stderr
    assert "--wait" in second.stderr
    assert ld.kinds("solo-v2").count("stage.started") == 1


def test_a_worker_stopped_with_sigterm_finishes_its_tick_and_hands_the_release_over(ld: Launchdeck) -> None:
    _submit(ld, _plan(ld, "handover-v2", bad=False), time_scale=10.0)
    first = ld.start("worker", "--lease", "30s")
    store = Store(ld.db_url)
    try:
        wait_for(lambda: _holds(store, first), timeout=60, what="the worker to drive the release in a stage",
                 alive=first)
        first.proc.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30).returncode == 0
        release = store.find(name="handover-v2")
        assert release is not None and release.outcome is None
        assert not leases.holder(store, release.id).live()  # given up, not left to expire (30 s)

        second = ld.start("worker", "--lease", "30s")
        done = wait_for(lambda: (lambda r: r if r and r.outcome else None)(store.find(name="handover-v2")),
                        timeout=90, what="the second worker to finish the release", alive=second)
        assert done.outcome == "promoted" and done.lease_epoch == 2
        started = [d.inputs.get("stage") for d in store.decisions(release_id=done.id) if d.kind == "stage.started"]
        assert len(started) == len(set(started)) == 2
        second.proc.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30).returncode == 0
    finally:
        store.close()


TRAIN = """
    apiVersion: launchdeck/v1
    kind: ReleaseTrain
    metadata: {name: duo-v2, version: v2, previousVersion: v1}
    spec:
      defaults:
        target:
          versions:
            stable: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
            canary: {errorRate: 0.1%, latency: {median: 20ms, p95: 60ms}}
          load: {rps: 60, users: 1000}
        stages:
          - {weight: 50%, hold: 1m}
          - {weight: 100%, hold: 30s}
        analysis: {interval: 10s, window: 1m, minRequests: 10}
        gates:
          - {name: error-rate, metric: error_rate, op: ">=", threshold: 10%, for: 20s, severity: immediate}
        rollback:
          steps: [kill-switch, traffic-to-stable, verify]
      services:
        - {name: auth}
        - {name: api, after: [auth]}
"""


def _finished(store: Store, name: str) -> StoredRelease | None:
    found = store.find(name=name)
    return found if found and found.outcome else None


def test_a_train_started_over_the_api_is_run_by_a_worker_service_after_service(ld: Launchdeck) -> None:
    from launchdeck.services.submitting import Submission
    from launchdeck.services.submitting import submit as submit_api

    text = TRAIN.replace("\n    ", "\n").lstrip()
    with Store(ld.db_url) as store:
        train = submit_api(store, Submission(plan_text=text, time_scale=20.0), tenant="default", person="sam",
                           data_dir=ld.cwd / "launchdeck-data")
        assert train.state["train"]["services"] == ["duo-v2.auth", "duo-v2.api"]
    worker = ld.start("worker", "--lease", "5s")
    store = Store(ld.db_url)
    try:
        done = wait_for(lambda: _finished(store, "duo-v2"), timeout=180,
                        what="the worker to run the train to its outcome", alive=worker)
        assert done.outcome == "promoted", done.state["engine"].get("reason")
        assert done.state["engine"]["reason"] == "2/2 services promoted"
        services = {s["name"]: s for s in done.state["train"]["summary"]["services"]}
        assert services["api"]["startedAt"] >= services["auth"]["finishedAt"]  # in the train's order
        for name in ("duo-v2.auth", "duo-v2.api"):
            service = store.find(name=name)
            assert service is not None and service.outcome == "promoted"
            started = [d.inputs.get("stage") for d in store.decisions(release_id=service.id)
                       if d.kind == "stage.started"]
            assert len(started) == len(set(started)) == 2
        assert [d.kind for d in store.decisions(release_id=done.id)] == ["release.promoted"]
    finally:
        store.close()
        worker.proc.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30).returncode == 0


def test_a_train_whose_worker_stops_is_taken_over_and_no_service_stage_runs_twice(ld: Launchdeck) -> None:
    from launchdeck.services.submitting import Submission
    from launchdeck.services.submitting import submit as submit_api

    text = TRAIN.replace("\n    ", "\n").lstrip().replace("duo-v2", "relay-v2")
    with Store(ld.db_url) as store:
        submit_api(store, Submission(plan_text=text, time_scale=10.0), tenant="default", person="sam",
                   data_dir=ld.cwd / "launchdeck-data")
    first = ld.start("worker", "--lease", "30s")
    store = Store(ld.db_url)
    try:
        wait_for(lambda: _holds(store, first), timeout=90, what="the worker to drive the train's first service",
                 alive=first)
        first.proc.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60).returncode == 0
        train = store.find(name="relay-v2")
        assert train is not None and train.outcome is None and not leases.holder(store, train.id).live()

        second = ld.start("worker", "--lease", "30s")
        done = wait_for(lambda: _finished(store, "relay-v2"), timeout=240,
                        what="the second worker to finish the train", alive=second)
        assert done.outcome == "promoted" and done.lease_epoch == 2, done.state["engine"].get("reason")
        for name in ("relay-v2.auth", "relay-v2.api"):
            service = store.find(name=name)
            assert service is not None and service.outcome == "promoted"
            started = [d.inputs.get("stage") for d in store.decisions(release_id=service.id)
                       if d.kind == "stage.started"]
            assert len(started) == len(set(started)) == 2, f"{name} started a stage twice: {started}"
        second.proc.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60).returncode == 0
    finally:
        store.close()
