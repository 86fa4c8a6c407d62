"""Failover: a worker holding 100 releases is killed with SIGKILL; how long until another drives them, and
whether any router write was ever sent under a lease that was no longer the release's.

1. Worker A claims all the releases and drives them into their first stage; worker B starts (it finds
   nothing to claim). A gets SIGKILL. ``takeoverSeconds`` is the time from the kill until the last of
   A's releases has a router write fenced by B (B re-applies the release's weight as soon as it holds
   the lease), ``firstDecisionSeconds`` until the last has a decision recorded by B.
2. Then a worker paused, not dead: C starts, B gets SIGSTOP for longer than a lease, C takes every
   release over, B gets SIGCONT. B resumes mid-tick with its old leases: fencing must stop it before
   it writes anything (its next commit or fence finds another holder's epoch).

Every synthetic router write asks the store, as it is sent, whether its lease is still the release's;
``staleWrites`` counts those that were not, plus any write of the killed worker after its kill, plus
any release whose recorded effects go back to an older epoch.
"""

from __future__ import annotations

import signal
import socket
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import scale_fleet as fleet
from sqlalchemy import create_engine, func, select

from launchdeck.bench.synthetic import WriteLog
from launchdeck.store.tables import DecisionRow, EffectRow, ReleaseRow


def _prefix(pid: int) -> str:
    return f"{socket.gethostname()}/{pid}/"


class Watch:
    """Reads, from the store, when each release was last fenced / decided by a given worker."""

    def __init__(self, db_url: str) -> None:
        self.engine = create_engine(db_url)

    def close(self) -> None:
        self.engine.dispose()

    def releases(self) -> dict[int, tuple[str | None, int]]:
        with self.engine.connect() as c:
            return {rid: (holder, epoch) for rid, holder, epoch in
                    c.execute(select(ReleaseRow.id, ReleaseRow.lease_holder, ReleaseRow.lease_epoch))}

    def first_effects(self, pid: int, after: datetime) -> dict[int, datetime]:
        """Each release's first effect fenced by the worker process ``pid`` after ``after``."""
        with self.engine.connect() as c:
            return dict(c.execute(select(EffectRow.release_id, func.min(EffectRow.at))
                                  .where(EffectRow.holder.startswith(_prefix(pid)), EffectRow.at > after)
                                  .group_by(EffectRow.release_id)).tuples().all())

    def first_decisions(self, after: datetime) -> dict[int, datetime]:
        with self.engine.connect() as c:
            return dict(c.execute(select(DecisionRow.release_id, func.min(DecisionRow.wall_at))
                                  .where(DecisionRow.wall_at > after).group_by(DecisionRow.release_id)).tuples().all())

    def epochs_go_back(self) -> list[int]:
        """Releases whose effects, in the order they were recorded, go back to an older epoch."""
        with self.engine.connect() as c:
            rows = c.execute(select(EffectRow.release_id, EffectRow.epoch).order_by(EffectRow.id)).all()
        last: dict[int, int] = {}
        back = set()
        for rid, epoch in rows:
            if epoch < last.get(rid, 0):
                back.add(rid)
            last[rid] = epoch
        return sorted(back)


def _until(what: str, check: Callable[[], bool], timeout: float, step: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"failover: timed out waiting for {what}")
        time.sleep(step)


def _seconds(times: dict[int, datetime], ids: set[int], since: datetime) -> float | None:
    if not ids or not ids <= times.keys():
        return None
    return round(max((times[i] - since).total_seconds() for i in ids), 2)


def failover(server: str, *, releases: int = 100, lease: float = 15.0, pause: bool = True) -> dict[str, Any]:
    with fleet.fresh_database(server) as db, tempfile.TemporaryDirectory(prefix="ld-failover-") as tmp:
        out = Path(tmp)
        fleet.submit_releases(db, releases, out / "plans", prefix="failover")
        watch = Watch(db)
        procs = []
        try:
            a = fleet.start_worker(db, out, lease=lease, capacity=releases, check=True)
            procs.append(a)
            held_by = lambda pid: {r for r, (h, _) in watch.releases().items() if h and h.startswith(_prefix(pid))}  # noqa: E731
            _until("worker A to drive every release", lambda: fleet.driving(db)[1] >= releases and
                   len(held_by(a.pid)) == releases, timeout=120)
            b = fleet.start_worker(db, out, lease=lease, check=True)
            procs.append(b)
            time.sleep(3.0)  # B is up and has looked for due releases: there are none
            victims = held_by(a.pid)
            killed = datetime.now(UTC)
            a.send_signal(signal.SIGKILL)
            a.wait()
            _until("worker B to take every release over", lambda: victims <= watch.first_effects(b.pid, killed).keys(),
                   timeout=4 * lease + 30)
            takeover = _seconds(watch.first_effects(b.pid, killed), victims, killed)
            _until("a decision by B on every release", lambda: victims <= watch.first_decisions(killed).keys(),
                   timeout=60)
            decided = _seconds(watch.first_decisions(killed), victims, killed)
            result: dict[str, Any] = {"releases": releases, "leaseSeconds": lease, "takeoverSeconds": takeover,
                                      "firstDecisionSeconds": decided}
            if pause:
                result["paused"] = _pause(db, out, watch, b, lease, procs)
            fleet.stop_workers(procs[1:])
            writes = [w for path in out.glob("writes-*.jsonl") for w in WriteLog.read(path)]
            stale = [w for w in writes if w.stale]
            after_kill = [w for w in writes if w.holder.startswith(_prefix(a.pid)) and w.wall > killed.timestamp()]
            back = watch.epochs_go_back()
            result.update({"writes": len(writes), "checkedWrites": sum(w.stale is not None for w in writes),
                           "staleWrites": len(stale) + len(after_kill) + len(back),
                           "staleDetail": {"sentUnderLostLease": len(stale), "byKilledWorkerAfterKill": len(after_kill),
                                           "releasesWhoseEpochWentBack": len(back)}})
            return result
        finally:
            fleet.stop_workers(procs)
            watch.close()


def _pause(db: str, out: Path, watch: Watch, b: Any, lease: float, procs: list[Any]) -> dict[str, Any]:
    """B paused (SIGSTOP) past its leases while C takes over; B then resumed (SIGCONT)."""
    c = fleet.start_worker(db, out, lease=lease, check=True)
    procs.append(c)
    time.sleep(3.0)
    held = {r for r, (h, _) in watch.releases().items() if h and h.startswith(_prefix(b.pid))}
    paused = datetime.now(UTC)
    b.send_signal(signal.SIGSTOP)
    try:
        _until("worker C to take every release of the paused worker", lambda: held <= watch.first_effects(
            c.pid, paused).keys(), timeout=4 * lease + 30)
    finally:
        b.send_signal(signal.SIGCONT)
    resumed = time.time()
    time.sleep(5.0)  # B finishes the ticks it was in and finds its leases gone
    writes = [w for path in out.glob(f"writes-{b.pid}.jsonl") for w in WriteLog.read(path)]
    return {"releases": len(held), "takeoverSeconds": _seconds(watch.first_effects(c.pid, paused), held, paused),
            "writesAfterResume": sum(w.wall >= resumed for w in writes)}
