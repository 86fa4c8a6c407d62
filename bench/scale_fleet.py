"""The scale benchmark's fleet: fresh PostgreSQL databases, many submitted releases, and worker processes
driving them on the synthetic target (``launchdeck.bench.synthetic``).

``python bench/scale_fleet.py worker --db URL --out DIR [...]`` is one worker process: a ``LeasedWorker``
with the synthetic opener and the tick-lag view, until SIGTERM. Every few seconds and at the end it
writes its lag samples to ``DIR/lag-<pid>.json``; every router write goes to ``DIR/writes-<pid>.jsonl``
as it is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]

#: The bench's release: 10 s evaluations, time scale 1, stages far longer than any measurement.
PLAN = """\
apiVersion: launchdeck/v1
kind: Release
metadata: {{name: {name}, tenant: bench, service: {name}, version: v2, previousVersion: v1}}
spec:
  target:
    router: {{type: local}}
    metrics: {{type: local}}
    versions:
      stable: {{errorRate: 0.1%, latency: {{median: 20ms, p95: 60ms}}}}
      canary: {{errorRate: 0.1%, latency: {{median: 20ms, p95: 60ms}}}}
    load: {{rps: 100, users: 1000}}
  stages:
    - {{weight: 10%, hold: 2h}}
    - {{weight: 50%, hold: 2h}}
  analysis: {{interval: 10s, window: 1m, minRequests: 10, method: threshold}}
  gates:
    - {{name: error-rate, metric: error_rate, op: ">=", threshold: 5%, for: 30s, severity: immediate}}
    - {{name: latency, metric: latency_p95_ms, op: ">", threshold: 500ms, for: 30s, severity: immediate}}
  roles:
    sre: [sam]
  rollback:
    steps: [kill-switch, traffic-to-stable, verify]
"""
INTERVAL_S = 10.0


@contextmanager
def fresh_database(server: str, prefix: str = "launchdeck_scale") -> Iterator[str]:
    """A new, empty PostgreSQL database on ``server`` (any database URL there), dropped on the way out."""
    url = make_url(server)
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def submit_releases(db_url: str, n: int, folder: Path, prefix: str = "scale", start: int = 0) -> list[str]:
    """``n`` releases submitted for driving, each from a plan file of its own in ``folder``.

    The first goes through ``controller.submit.submit`` (what `run --detach` and the API do); the
    others are inserted in bulk as copies of its row (their own name, plan file, digest and text), so
    submitting thousands takes seconds."""
    from launchdeck.controller.session import RunOptions
    from launchdeck.controller.submit import submit
    from launchdeck.plan import load_plan
    from launchdeck.store.repo import Store
    from launchdeck.store.tables import ReleaseRow

    folder.mkdir(parents=True, exist_ok=True)
    names = [f"{prefix}-{i:05d}" for i in range(start, start + n)]
    paths = []
    for name in names:
        path = folder / f"{name}.yaml"
        path.write_text(PLAN.format(name=name), encoding="utf-8")
        paths.append(path)
    with Store(db_url) as store:
        first = submit(store, load_plan(paths[0]), RunOptions(db_url=db_url, workdir=folder), _Quiet(),
                       submitted_by="bench")
        stamp = datetime.now(UTC)
        rows = []
        for name, path in zip(names[1:], paths[1:], strict=True):
            body = path.read_bytes()
            rows.append({"tenant": first.tenant, "name": name, "plan_path": str(path.resolve()),
                         "plan_digest": "sha256:" + hashlib.sha256(body).hexdigest(), "state": first.state,
                         "plan_clock": 0.0, "created_at": stamp, "updated_at": stamp, "lease_epoch": 0,
                         "submitted_by": "bench", "plan_text": body.decode()})
        with store.session() as s:
            for i in range(0, len(rows), 1000):
                s.execute(insert(ReleaseRow), rows[i:i + 1000])
    return names


def driving(db_url: str) -> tuple[int, int]:
    """(releases whose lease is held, of those the ones past their start: in a stage)."""
    from launchdeck.store.tables import ReleaseRow

    engine = create_engine(db_url)
    try:
        with engine.connect() as c:
            held = c.scalar(select(func.count()).where(ReleaseRow.lease_holder.is_not(None))) or 0
            started = c.scalar(select(func.count()).where(ReleaseRow.lease_holder.is_not(None),
                                                          ReleaseRow.plan_clock > 0)) or 0
            return held, started
    finally:
        engine.dispose()


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds each process used so far (those that are gone are left out)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def cpu_seconds(pids: list[int]) -> float:
    return sum(cpu_by_pid(pids).values())


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two ``cpu_by_pid`` readings by the processes alive at the second (one
    started in between counts from zero)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def holders(db_url: str) -> list[int]:
    """How many releases each lease holder holds, most first."""
    from launchdeck.store.tables import ReleaseRow

    engine = create_engine(db_url)
    try:
        with engine.connect() as c:
            return sorted((n for _, n in c.execute(select(ReleaseRow.lease_holder, func.count())
                                                   .where(ReleaseRow.lease_holder.is_not(None))
                                                   .group_by(ReleaseRow.lease_holder))), reverse=True)
    finally:
        engine.dispose()


def backends(db_url: str) -> list[int]:
    """The PostgreSQL server processes serving the database (on this machine)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as c:
            return [int(p) for p in c.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                                   "AND pid <> pg_backend_pid()"))]
    finally:
        engine.dispose()


class _Quiet:
    def note(self, text: str) -> None: ...
    def decision(self, d: object) -> None: ...
    def tick(self, snapshot: object) -> None: ...


# -- worker processes -------------------------------------------------------------------------------------


def start_worker(db_url: str, out: Path, *, lease: float = 15.0, capacity: int = 10_000, check: bool = False,
                 profile: Path | None = None, src: str | None = None) -> subprocess.Popen[bytes]:
    argv = [sys.executable, str(Path(__file__).resolve()), "worker", "--db", db_url, "--out", str(out),
            "--lease", str(lease), "--capacity", str(capacity)]
    if check:
        argv.append("--check")
    if profile:
        argv += ["--profile", str(profile)]
    src = src or os.environ.get("LAUNCHDECK_SCALE_SRC") or str(ROOT / "src")  # another tree's controller, to compare
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=(out / "workers.log").open("ab"))


def stop_workers(workers: list[subprocess.Popen[bytes]], timeout: float = 60.0) -> None:
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for w in workers:
        try:
            w.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()


async def _work(args: argparse.Namespace) -> None:
    from launchdeck.bench.synthetic import LagSamples, LeasedWorker, SyntheticTarget, WriteLog, lease_check
    from launchdeck.store.repo import Store

    out = Path(args.out)
    samples = LagSamples(INTERVAL_S)
    log = WriteLog(out / f"writes-{os.getpid()}.jsonl")
    checker = Store(args.db) if args.check else None
    target = SyntheticTarget(log=log, check=lease_check(checker) if checker else None)
    worker = LeasedWorker(args.db, lease_seconds=args.lease, capacity=args.capacity, home=out / "home",
                          poll_seconds=0.2, view=samples.view, opener=target)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    if args.profile:  # SIGUSR1 starts a cProfile of the steady state, SIGUSR2 writes it to --profile
        import cProfile

        profiler = cProfile.Profile()
        loop.add_signal_handler(signal.SIGUSR1, profiler.enable)
        loop.add_signal_handler(signal.SIGUSR2, lambda: (profiler.disable(), profiler.dump_stats(args.profile)))

    async def dump() -> None:
        while True:
            await asyncio.sleep(2.0)
            samples.dump(out / f"lag-{os.getpid()}.json")

    dumper = asyncio.create_task(dump())
    try:
        await worker.run(stop)
    finally:
        dumper.cancel()
        samples.dump(out / f"lag-{os.getpid()}.json")
        log.close()
        if checker:
            checker.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one scale-benchmark worker process")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker")
    w.add_argument("--db", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--lease", type=float, default=15.0)
    w.add_argument("--capacity", type=int, default=10_000)
    w.add_argument("--check", action="store_true", help="ask the store, at every router write, if the lease holds")
    w.add_argument("--profile", default=None, help="where SIGUSR2 writes the cProfile SIGUSR1 started")
    args = parser.parse_args(argv)
    with suppress(KeyboardInterrupt):
        asyncio.run(_work(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
