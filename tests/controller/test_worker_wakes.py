"""A worker's release sleeps between evaluations (ten minutes of plan time here, six seconds at time scale
100), yet people and the worker itself are never kept waiting: a kill is acted on at once, a sign-off passes
its stage at once, and a stopping worker hands its releases over at once (the synthetic in-process target:
no fleet per release)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from launchdeck.bench.synthetic import LeasedWorker, SyntheticTarget
from launchdeck.controller import runner
from launchdeck.controller.session import RunOptions
from launchdeck.controller.submit import submit
from launchdeck.core.engine import Decision
from launchdeck.plan import load_plan
from launchdeck.services import actions
from launchdeck.store.repo import Store, StoredRelease

PLAN = """\
apiVersion: launchdeck/v1
kind: Release
metadata: {name: slow-eval, service: slow-eval, version: v2, previousVersion: v1}
spec:
  roles: {sre: [sam]}
  stages:
    - {weight: 20%, hold: 0s, approve: [sre]}
    - {weight: 100%, hold: 1h}
  analysis: {interval: 10m, window: 10m, minRequests: 10, method: threshold}
"""
INTERVAL = 600.0
BOUND_S = 60.0
"""A bound for a hung test, not a measurement."""


class Seen:
    def __init__(self) -> None:
        self.decisions: list[Decision] = []

    def view(self, found: StoredRelease) -> Any:
        seen = self

        class View:
            def note(self, text: str) -> None:
                pass

            def decision(self, d: Decision) -> None:
                seen.decisions.append(d)

            def tick(self, snapshot: dict[str, Any]) -> None:
                pass

        return View()

    def kinds(self) -> list[str]:
        return [d.kind for d in self.decisions]


def submitted(tmp_path: Path, time_scale: float) -> tuple[str, StoredRelease]:
    url = f"sqlite:///{tmp_path}/store.db"
    (tmp_path / "plan.yaml").write_text(PLAN)
    with Store(url) as store:
        return url, submit(store, load_plan(tmp_path / "plan.yaml"),
                           RunOptions(db_url=url, workdir=tmp_path, time_scale=time_scale),
                           Seen().view(None), submitted_by="kim")  # type: ignore[arg-type]


@pytest.fixture
def release(tmp_path: Path) -> tuple[str, StoredRelease]:
    return submitted(tmp_path, time_scale=100)


def drive(url: str, tmp_path: Path, seen: Seen, after: str, then: Callable[[Store], None],
          until: Callable[[], bool]) -> None:
    """Run a worker until the release decided ``after``, do ``then``, and run it until ``until()``."""
    async def main() -> None:
        stop = asyncio.Event()
        # Leases renewed every 2 s by the worker's shift, so no release beats on its own (every 3 s at this
        # time scale): nothing but the deadlines and the bell wakes a release.
        worker = LeasedWorker(url, opener=SyntheticTarget(), view=seen.view, home=tmp_path / "home", guard=False,
                              poll_seconds=0.05, lease_seconds=6.0)
        running = asyncio.create_task(worker.run(stop))
        with Store(url) as store:
            await _until(lambda: after in seen.kinds(), running)
            then(store)
            await _until(until, running)
        stop.set()
        await asyncio.wait_for(running, BOUND_S)

    asyncio.run(main())


async def _until(condition: Callable[[], bool], running: asyncio.Task[None]) -> None:
    deadline = time.monotonic() + BOUND_S
    while not condition():
        assert not running.done(), running.result()
        assert time.monotonic() < deadline, "not reached: the release was not woken"
        await asyncio.sleep(0.02)


def test_a_kill_between_two_evaluations_rolls_back_at_once(release: tuple[str, StoredRelease],
                                                           tmp_path: Path) -> None:
    url, found = release
    seen = Seen()
    drive(url, tmp_path, seen, "stage.started",
          lambda store: actions.request_kill(store, found, who="sam", role="sre", reason="stop"),
          lambda: "release.rolled_back" in seen.kinds())
    started = next(d for d in seen.decisions if d.kind == "rollback.started")
    assert started.at < INTERVAL and "evaluation" not in seen.kinds() \
        and "kill switch pulled by sam (sre): stop" in started.reason


def test_a_sign_off_between_two_evaluations_passes_the_stage_at_once(release: tuple[str, StoredRelease],
                                                                     tmp_path: Path) -> None:
    url, found = release
    seen = Seen()
    drive(url, tmp_path, seen, "approval.requested",  # after the first evaluation, at 600 s
          lambda store: actions.approve(store, found, who="sam", role="sre", stage=1),
          lambda: "stage.passed" in seen.kinds())
    passed = next(d for d in seen.decisions if d.kind == "stage.passed")
    assert passed.at < 2 * INTERVAL and seen.kinds().count("evaluation") == 1 and "signed by sre" in passed.reason


def test_a_stopping_worker_wakes_its_sleeping_releases_to_hand_them_over(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "WORKER_IDLE_S", 3600.0)
    url, found = submitted(tmp_path, time_scale=1)  # its first evaluation ten minutes away: it naps that long
    seen = Seen()
    drive(url, tmp_path, seen, "stage.started", lambda store: None, lambda: True)
    with Store(url) as store:
        assert store.find_id(found.id).lease_holder is None  # given up, for another worker to take at once
