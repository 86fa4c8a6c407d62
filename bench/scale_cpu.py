"""CPU per evaluation of one worker process keeping ``n`` synthetic releases, for one or more source trees.

    python bench/scale_cpu.py [-n 1000] [--window 60] [--tree A/src --tree B/src] [--profile DIR]

Each ``--tree`` (default: this one's ``src``) gets a fresh PostgreSQL database with ``n`` releases of the
scale bench (``bench/scale_fleet.py``) and one worker process running that tree's code. The trees run side
by side, so each sees the same load on the machine; once every release of every tree is in its first stage
and a warm-up has passed, each worker's process CPU (user + system; its main thread, the event loop, shown
apart) and its PostgreSQL backends' CPU over the same ``--window`` seconds are divided by the evaluations it
did meanwhile; and, before that, how fast each worker started its releases (from its first lease to its
last release in a stage: starts per second, and process CPU per start). Process CPU is what a change to the
tick path moves; on a shared machine wall time is not, and
compare trees by the ratio within one run. ``--profile DIR`` writes each worker's cProfile of the window (of
its main thread only) to ``DIR/<i>.prof``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale as bench
import scale_fleet as fleet

ROOT = Path(__file__).resolve().parents[1]


def _main_thread(pid: int) -> float:
    """CPU seconds of the process's main thread (the event loop; the others run the store's calls)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(server: str, n: int, trees: list[str], *, window: float, warmup: float,
            profile: Path | None) -> list[dict[str, Any]]:
    with ExitStack() as stack:
        dbs = [stack.enter_context(fleet.fresh_database(server, prefix="launchdeck_cpu")) for _ in trees]
        outs = [Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ld-cpu-"))) for _ in trees]
        for db, out in zip(dbs, outs, strict=True):  # one at a time: opening a store migrates it (Alembic)
            fleet.submit_releases(db, n, out / "plans")
        procs = [fleet.start_worker(db, out, src=tree, profile=profile / f"{i}.prof" if profile else None)
                 for i, (db, out, tree) in enumerate(zip(dbs, outs, trees, strict=True))]
        try:
            ramps = _ramp(dbs, procs, n, deadline=time.monotonic() + max(180.0, n * 0.2 * len(trees)))
            time.sleep(warmup)
            if profile:
                for p in procs:
                    p.send_signal(signal.SIGUSR1)
            backends = [fleet.backends(db) for db in dbs]
            pg0 = [fleet.cpu_by_pid(b) for b in backends]
            cpu0 = [fleet.cpu_seconds([p.pid]) for p in procs]
            main0 = [_main_thread(p.pid) for p in procs]
            since = time.time()
            time.sleep(window)
            cpu = [fleet.cpu_seconds([p.pid]) - c for p, c in zip(procs, cpu0, strict=True)]
            main = [_main_thread(p.pid) - m for p, m in zip(procs, main0, strict=True)]
            pg = [fleet.cpu_between(before, fleet.cpu_by_pid(fleet.backends(db)))
                  for before, db in zip(pg0, dbs, strict=True)]
            until = time.time()
            if profile:
                for p in procs:
                    p.send_signal(signal.SIGUSR2)
            time.sleep(2.5)  # the workers write their samples every 2 s
            rows = []
            for i, out in enumerate(outs):
                lags, due = bench.read_lags(out, since, until)
                evals = max(1, len(lags))
                rows.append({"tree": trees[i], "evaluations": len(lags), "due": round(due),
                             "workerCpuMsPerEval": cpu[i] / evals * 1000, "loopCpuMsPerEval": main[i] / evals * 1000,
                             "postgresCpuMsPerEval": pg[i] / evals * 1000, "workerCores": cpu[i] / (until - since),
                             "p99LagS": bench.percentile(lags, 99) or 0.0, "load": os.getloadavg()[0],
                             **ramps[i]})
            return rows
        finally:
            fleet.stop_workers(procs)


def _ramp(dbs: list[str], procs: list[Any], n: int, *, deadline: float) -> list[dict[str, float]]:
    """Wait until every tree's releases are in their first stage; per tree, how fast its worker started them:
    from its first lease to its last release in a stage, starts per second and process CPU per start."""
    first: dict[int, tuple[float, float]] = {}
    done: dict[int, dict[str, float]] = {}
    while len(done) < len(dbs) and time.monotonic() < deadline and all(p.poll() is None for p in procs):
        for i, db in enumerate(dbs):
            if i in done:
                continue
            leased, started = fleet.driving(db)
            if leased and i not in first:
                first[i] = (time.monotonic(), fleet.cpu_seconds([procs[i].pid]))
            if started >= n and i in first:
                t0, cpu0 = first[i]
                seconds = max(1e-3, time.monotonic() - t0)
                done[i] = {"startsPerSecond": n / seconds,
                           "cpuMsPerStart": (fleet.cpu_seconds([procs[i].pid]) - cpu0) / n * 1000}
        time.sleep(0.25)
    return [done.get(i, {"startsPerSecond": 0.0, "cpuMsPerStart": 0.0}) for i in range(len(dbs))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=bench.DEFAULT_SERVER)
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--tree", action="append", default=[], help="a src folder to measure (repeat to compare)")
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    trees = args.tree or [str(ROOT / "src")]
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    rows = measure(args.db, args.n, trees, window=args.window, warmup=args.warmup, profile=args.profile)
    print(f"{'tree':<30} {'evals':>6} {'due':>6} {'worker ms/eval':>15} {'of it loop':>11} {'pg ms/eval':>11} "
          f"{'cores':>6} {'p99 lag':>8} {'starts/s':>9} {'ms CPU/start':>13}   ({len(trees)} x {args.n} releases "
          f"side by side, {args.window:g} s, load {rows[0]['load']:.1f})")
    for r in rows:
        print(f"{r['tree'][-30:]:<30} {r['evaluations']:>6} {r['due']:>6} {r['workerCpuMsPerEval']:>15.3f} "
              f"{r['loopCpuMsPerEval']:>11.3f} {r['postgresCpuMsPerEval']:>11.3f} {r['workerCores']:>6.2f} "
              f"{r['p99LagS']:>8.3f} {r['startsPerSecond']:>9.1f} {r['cpuMsPerStart']:>13.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
