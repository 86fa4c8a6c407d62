"""CPU per evaluation of one worker process keeping ``n`` synthetic releases, for one or more source trees.

    python bench/scale_cpu.py [-n 2000] [--window 60] [--tree A/src --tree B/src --tree A/src] [--profile DIR]

For each ``--tree`` in turn (default: this one's ``src``; name the first again last to see the machine's
load drift), a fresh PostgreSQL database gets ``n`` releases of the scale bench
(``bench/scale_fleet.py``), one worker drives them, and once all are in their first stage and a warm-up
has passed, the worker's process CPU (user + system) and its PostgreSQL backends' CPU over ``--window``
seconds are divided by the evaluations done meanwhile (and the share of the
worker's main thread, the event loop, shown apart). Process CPU is what a change to the tick path
moves; on a shared machine wall time is not. ``--profile DIR`` writes each worker's cProfile of the
window to ``DIR/<i>.prof``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale as bench
import scale_fleet as fleet

ROOT = Path(__file__).resolve().parents[1]


def measure(server: str, n: int, tree: str, *, window: float, warmup: float,
            profile: Path | None) -> dict[str, float]:
    os.environ["LAUNCHDECK_SCALE_SRC"] = tree
    with fleet.fresh_database(server, prefix="launchdeck_cpu") as db, \
            tempfile.TemporaryDirectory(prefix="ld-cpu-") as tmp:
        out = Path(tmp)
        fleet.submit_releases(db, n, out / "plans")
        proc = fleet.start_worker(db, out, profile=profile)
        try:
            deadline = time.monotonic() + max(120.0, n * 0.1)
            while fleet.driving(db)[1] < n and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(1.0)
            time.sleep(warmup)
            if profile:
                proc.send_signal(__import__("signal").SIGUSR1)
            pids = fleet.backends(db)
            pg0, cpu0, main0, since = (fleet.cpu_by_pid(pids), fleet.cpu_seconds([proc.pid]), _main_thread(proc.pid),
                                       time.time())
            time.sleep(window)
            cpu, main, until = fleet.cpu_seconds([proc.pid]) - cpu0, _main_thread(proc.pid) - main0, time.time()
            pg = fleet.cpu_between(pg0, fleet.cpu_by_pid(fleet.backends(db)))
            if profile:
                proc.send_signal(__import__("signal").SIGUSR2)
            time.sleep(2.5)  # the worker writes its lag samples every 2 s
            lags, due = bench.read_lags(out, since, until)
        finally:
            fleet.stop_workers([proc])
    evals = max(1, len(lags))
    return {"evaluations": len(lags), "due": round(due), "workerCpuMsPerEval": cpu / evals * 1000,
            "loopCpuMsPerEval": main / evals * 1000,
            "postgresCpuMsPerEval": pg / evals * 1000, "workerCores": cpu / (until - since),
            "p99LagS": bench.percentile(lags, 99) or 0.0, "load": os.getloadavg()[0]}


def _main_thread(pid: int) -> float:
    """CPU seconds of the process's main thread (the event loop; the others run the store's calls)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=bench.DEFAULT_SERVER)
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--tree", action="append", default=[], help="a src folder to measure (repeat: each in turn)")
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    trees = args.tree or [str(ROOT / "src")]
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    print(f"{'tree':<40} {'evals':>6} {'due':>6} {'worker ms/eval':>15} {'of it loop':>11} {'pg ms/eval':>11} {'cores':>6} "
          f"{'p99 lag':>8} {'load':>5}", flush=True)
    for i, tree in enumerate(trees):
        r = measure(args.db, args.n, tree, window=args.window, warmup=args.warmup,
                    profile=args.profile / f"{i}.prof" if args.profile else None)
        print(f"{tree[-40:]:<40} {r['evaluations']:>6} {r['due']:>6} {r['workerCpuMsPerEval']:>15.3f} {r['loopCpuMsPerEval']:>11.3f} "
              f"{r['postgresCpuMsPerEval']:>11.3f} {r['workerCores']:>6.2f} {r['p99LagS']:>8.3f} {r['load']:>5.1f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
