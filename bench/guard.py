"""Budget guard: time from a breach being observable to the action taken (issue #15; goal < 1 s).

One worker (``LeasedWorker`` on the synthetic in-process target, so the time measured is launchdeck's
own, not a fleet's) drives N releases of one tenant whose TenantPolicy pauses its releases on a paging
budget alert. Once every release is in its first stage, the breach is made observable, in one of two ways:

* ``record``: spend over 95% of the budget is fed with the service `launchdeck budget record` and the API
  call (``services.budget.record``), which checks the budget at once;
* ``file``: the policy's spend file is rewritten; the worker's guard watch sees it change (a stat every 0.1 s).

For each release: seconds from that moment to the ``release.paused`` decision recorded by its tick. Also
the CPU seconds of this process over the whole breach-to-last-pause span (process time, not wall: the
machine is shared). Prints a table, or one JSON object with ``--output json``.

    python bench/guard.py [--releases 20] [--rounds 3] [--db URL] [--output json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from launchdeck.bench.synthetic import LeasedWorker, SyntheticTarget
from launchdeck.controller import submit
from launchdeck.controller.session import RunOptions
from launchdeck.core.engine import Decision
from launchdeck.plan import load_plan
from launchdeck.services import budget, tenants
from launchdeck.store.repo import Store, StoredRelease

PLAN = """\
apiVersion: launchdeck/v1
kind: Release
metadata: {{name: {name}, tenant: {tenant}, service: {name}, version: v2, previousVersion: v1}}
spec:
  stages:
    - {{weight: 10%, hold: 2h}}
    - {{weight: 50%, hold: 2h}}
  analysis: {{interval: 10s, window: 1m, minRequests: 10, method: threshold}}
  gates:
    - {{name: error-rate, metric: error_rate, op: ">=", threshold: 5%, for: 30s, severity: immediate}}
  roles: {{sre: [sam]}}
"""
POLICY = """\
apiVersion: launchdeck/v1
kind: TenantPolicy
metadata: {{tenant: {tenant}}}
spec:
  budget: {{monthly: 1000{spend}}}
  enforcement: {{action: pause, automatic: true}}
"""


class Seen:
    """Every release's decisions as its tick records them, with their wall time."""

    def __init__(self) -> None:
        self.started: set[str] = set()
        self.paused: dict[str, float] = {}

    def view(self, found: StoredRelease) -> Any:
        seen = self

        class View:
            def note(self, text: str) -> None:
                pass

            def tick(self, snapshot: dict[str, Any]) -> None:
                pass

            def decision(self, d: Decision) -> None:
                if d.kind == "stage.started":
                    seen.started.add(found.name)
                elif d.kind == "release.paused":
                    seen.paused.setdefault(found.name, time.time())

        return View()


def spend_csv(total: float) -> str:
    at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    if at.day == 1 and at.hour == 0:
        at += timedelta(minutes=1)
    return f"at,amount\n{at.isoformat()},{total}\n"


async def one_round(db: str, work: Path, *, tenant: str, releases: int, mode: str) -> dict[str, Any]:
    spend_file = work / f"{tenant}-spend.csv"
    spend_file.write_text(spend_csv(0.0), encoding="utf-8")
    with Store(db) as store:
        source = f", spend: {{file: {spend_file}}}" if mode == "file" else ""
        tenants.apply_documents(store, [(POLICY.format(tenant=tenant, spend=source), "policy.yaml")], by="bench")
        for i in range(releases):
            path = work / f"{tenant}-{i}.yaml"
            path.write_text(PLAN.format(name=f"{tenant}-{i}", tenant=tenant), encoding="utf-8")
            submit.submit(store, load_plan(path), RunOptions(db_url=db, workdir=work), _Quiet(), submitted_by="bench")
        seen = Seen()
        worker = LeasedWorker(db, opener=SyntheticTarget(), view=seen.view, home=work / "home")
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        deadline = time.monotonic() + 120
        while len(seen.started) < releases:
            if time.monotonic() > deadline or running.done():
                raise SystemExit(f"only {len(seen.started)} of {releases} releases started")
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # every release past its first tick and at rest
        cpu0, t0 = time.process_time(), time.time()
        if mode == "record":
            call0 = time.process_time()
            await asyncio.to_thread(budget.record, store, tenant=tenant, text=spend_csv(960.0), source="bench",
                                    who="bench")
            check_cpu = time.process_time() - call0
        else:
            spend_file.write_text(spend_csv(960.0), encoding="utf-8")
            check_cpu = None
        while len(seen.paused) < releases:
            if time.monotonic() > deadline + 60:
                raise SystemExit(f"only {len(seen.paused)} of {releases} releases paused")
            await asyncio.sleep(0.01)
        cpu = time.process_time() - cpu0
        stop.set()
        await running
    lat = sorted(t - t0 for t in seen.paused.values())
    return {"mode": mode, "releases": releases, "p50": statistics.median(lat), "p95": lat[int(0.95 * (len(lat) - 1))],
            "max": lat[-1], "cpuSeconds": cpu, "checkCpuSeconds": check_cpu}


class _Quiet:
    def note(self, text: str) -> None:
        pass

    def decision(self, d: Any) -> None:
        pass

    def tick(self, snapshot: dict[str, Any]) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--releases", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--db", default=None, help="store URL (default: a fresh SQLite file)")
    ap.add_argument("--output", choices=("table", "json"), default="table")
    args = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = args.db or f"sqlite:///{work / 'guard.db'}"
        for r in range(args.rounds):
            for mode in ("record", "file"):
                results.append(asyncio.run(one_round(db, work, tenant=f"g{r}-{mode}", releases=args.releases,
                                                     mode=mode)))
    summary = {"goalSeconds": 1.0, "rounds": results,
               "worstMax": max(r["max"] for r in results),
               "met": all(r["max"] < 1.0 for r in results)}
    if args.output == "json":
        print(json.dumps(summary))
        return 0
    print(f"{'mode':8} {'releases':>8} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'cpu s':>7} {'check cpu s':>11}")
    for r in results:
        check = f"{r['checkCpuSeconds']:.3f}" if r["checkCpuSeconds"] is not None else "-"
        print(f"{r['mode']:8} {r['releases']:>8} {r['p50']:7.3f} {r['p95']:7.3f} {r['max']:7.3f} "
              f"{r['cpuSeconds']:7.3f} {check:>11}")
    print(f"goal: every release paused < 1 s after the breach is observable: {'met' if summary['met'] else 'NOT met'} "
          f"(worst {summary['worstMax']:.3f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
