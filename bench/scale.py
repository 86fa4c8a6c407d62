"""How far the control plane scales: releases per worker, with three workers, `why` on a big store, failover.

    python bench/scale.py --quick                  # a table
    python bench/scale.py --quick --output json    # the object below
    python bench/scale.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test --only capacity

* ``perWorker``: the most releases one `launchdeck worker` process (``controller.worker``, in a process
  of its own) keeps at a 10-second evaluation cadence on PostgreSQL, with the synthetic in-process
  target (``launchdeck.bench.synthetic``: no process per release): the largest count tried whose p99
  tick lag (how late an evaluation ran after it was due, as ``launchdeck_tick_lag_seconds`` counts it)
  stays under 1 s, with at least 90% of the evaluations due in the window done. The counts (250, 500,
  1000, 2000, 5000, 10000; --quick: 2000 and 5000, the goal, and no further) are tried in order on one
  database, each adding releases, and the search stops at the first that fails (``bench/scale_fleet.py``).
* ``threeWorkers``: the same with three worker processes, at 1, 1.5, 2, 2.5 and 3 times ``perWorker``
  (--quick: 1, 2 and 2.5 times, the goal); ``ratio`` = threeWorkers / perWorker.
* ``leaseSeconds``, ``takeoverSeconds``, ``staleWrites``: two workers, the one holding 100 releases is
  killed with SIGKILL: seconds until the other has fenced a router write on every one; then a worker
  paused (SIGSTOP) past its leases and resumed; stale writes are router writes sent under a lease that
  was no longer the release's (``bench/scale_failover.py``).
* ``why``: ``GET /api/v1/releases/{name}/why?all=true`` p50 / p95 on a store of 10^4 releases x 100
  decisions (10^6; --quick: 10^3 x 100), on SQLite and on PostgreSQL, and the server's CPU per answer
  (``bench/scale_why.py``).

``--quick`` is the coarse check that fits in 5 minutes on 2 cores: starting releases is most of a
capacity run's time (a worker starts a few dozen a second), so it starts only the releases the goals
need and measures over 10-second windows; its failover runs with a 6-second lease.

Every row also says the machine's load average while it ran: on a shared machine other work slows
every figure down. Each part gets a fresh database on the PostgreSQL server of ``--db`` (default
``$LAUNCHDECK_TEST_DB`` or postgresql+psycopg://postgres@127.0.0.1:5432/test), dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale_fleet as fleet  # noqa: E402

DEFAULT_SERVER = os.environ.get("LAUNCHDECK_TEST_DB") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL_LAG_S = 1.0
MIN_COVERAGE = 0.9
#: While a level's releases start: when the evaluations of the last 10 s stay this late (median) for 5 s,
#: the level has failed already (starting releases delays the others a few seconds; this is far beyond).
COLLAPSED_S = 10.0


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def read_lags(out: Path, since: float, until: float) -> tuple[list[float], float]:
    """The lags of the evaluations done in [since, until), and how many were due then (from each release's
    stage start: its evaluations are due every interval after it)."""
    lags: list[float] = []
    due = 0.0
    from launchdeck.bench.synthetic import LagSamples

    for path in out.glob("lag-*.json"):
        data, samples = LagSamples.read(path)
        lags += [lag for wall, lag in samples if since <= wall < until]
        every = data["interval"]
        for start in data["starts"]:
            first = max(1, math.ceil((since - start) / every))
            last = math.ceil((until - start) / every) - 1
            due += max(0, last - first + 1)
    return lags, due


def search(server: str, levels: list[int], workers: int, *, window: float, warmup: float,
           log: Any) -> tuple[int, list[dict[str, Any]]]:
    """The largest of ``levels`` (tried in order, stopping at the first failure) that ``workers`` keep up with.

    The workers run from the first level to the last on one database; each level adds releases up to its
    count, waits until every one is in its first stage and ``warmup`` more seconds, then measures over
    ``window`` seconds."""
    best, rows = 0, []
    with fleet.fresh_database(server) as db, tempfile.TemporaryDirectory(prefix="ld-scale-") as tmp:
        out = Path(tmp)
        procs = [fleet.start_worker(db, out) for _ in range(workers)]
        try:
            before = 0
            for n in levels:
                row = _level(db, out, procs, before, n, window=window, warmup=warmup)
                rows.append(row)
                before = n
                if "fellBehindWhileStarting" in row:
                    print(f"  {workers} worker(s), {n} releases: fell behind while starting them (median lag "
                          f"{row['fellBehindWhileStarting']['medianLagS']} s with {row['started']} started), load "
                          f"{row['loadAverage']}: FAILED", file=log, flush=True)
                else:
                    print(f"  {workers} worker(s), {n} releases: p99 lag {row['p99LagS']} s, {row['coverage']:.0%} of "
                          f"the evaluations due, worker CPU {row['workerCpu']}, load {row['loadAverage']}: "
                          f"{'ok' if row['ok'] else 'FAILED'}", file=log, flush=True)
                if not row["ok"]:
                    break
                best = n
        finally:
            fleet.stop_workers(procs)
    return best, rows


def _level(db: str, out: Path, procs: list[Any], before: int, n: int, *, window: float,
           warmup: float) -> dict[str, Any]:
    t0 = time.monotonic()
    fleet.submit_releases(db, n - before, out / "plans", start=before)
    submitted = time.monotonic() - t0
    deadline = time.monotonic() + max(60.0, (n - before) * 0.2)
    started, behind, late = 0, None, 0
    while time.monotonic() < deadline and not any(p.poll() is not None for p in procs):
        started = fleet.driving(db)[1]
        if started >= n:
            break
        recent, _ = read_lags(out, time.time() - 10.0, time.time())
        late = late + 1 if len(recent) >= 20 and (percentile(recent, 50) or 0.0) > COLLAPSED_S else 0
        if late >= 5:  # the releases already running stay far behind: no need to wait for the rest to start
            behind = percentile(recent, 50)
            break
        time.sleep(1.0)
    ramp = time.monotonic() - t0 - submitted
    if behind is not None:
        return {"releases": n, "workers": len(procs), "started": started, "ok": False,
                "fellBehindWhileStarting": {"medianLagS": _r(behind), "started": started},
                "loadAverage": round(os.getloadavg()[0], 1), "rampSeconds": round(ramp, 1)}
    time.sleep(warmup)
    pids = [p.pid for p in procs]
    pg0, cpu0, load0 = fleet.cpu_by_pid(fleet.backends(db)), fleet.cpu_seconds(pids), os.getloadavg()[0]
    since = time.time()
    time.sleep(window)
    until = time.time()
    cpu = (fleet.cpu_seconds(pids) - cpu0) / (until - since)
    pg_cpu = fleet.cpu_between(pg0, fleet.cpu_by_pid(fleet.backends(db))) / (until - since)
    load = (load0 + os.getloadavg()[0]) / 2
    time.sleep(2.5)  # the workers write their samples every 2 s
    lags, due = read_lags(out, since, until)
    coverage = len(lags) / due if due else 0.0
    p99 = percentile(lags, 99)
    ok = started >= n and p99 is not None and p99 < GOAL_LAG_S and coverage >= MIN_COVERAGE
    return {"releases": n, "workers": len(procs), "perProcess": fleet.holders(db), "started": started,
            "evaluations": len(lags), "due": round(due), "coverage": round(coverage, 3),
            "p50LagS": _r(percentile(lags, 50)), "p99LagS": _r(p99), "maxLagS": _r(max(lags) if lags else None),
            "workerCpu": round(cpu, 2), "postgresCpu": round(pg_cpu, 2), "loadAverage": round(load, 1),
            "submitSeconds": round(submitted, 1), "rampSeconds": round(ramp, 1), "ok": ok}


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


@contextmanager
def why_stores(server: str, releases: int) -> Iterator[tuple[dict[str, str], dict[str, float]]]:
    """An SQLite and a PostgreSQL store, each filled with ``releases`` x 100 decisions at the same time (one
    process each): their URLs and the seconds each fill took. Both are deleted on the way out."""
    import scale_why as why

    with fleet.fresh_database(server) as pg, tempfile.TemporaryDirectory(prefix="ld-why-") as tmp:
        urls = {"sqlite": f"sqlite:///{tmp}/why.db", "postgresql": pg}
        filled = why.fill_all(urls, releases)
        for url in urls.values():
            why.check_sample(url, releases)
        yield urls, filled


def time_why(urls: dict[str, str], filled: dict[str, float], releases: int, samples: int,
             log: Any) -> dict[str, Any]:
    import scale_why as why

    out: dict[str, Any] = {}
    for name, url in urls.items():
        timing = why.measure(url, releases, samples)
        p50, p95 = percentile(timing["seconds"], 50), percentile(timing["seconds"], 95)
        out[name] = {"p50Ms": _ms(p50), "p95Ms": _ms(p95), "via": timing["via"],
                     "serverCpuMs": timing.get("cpuMs"), "fillSeconds": filled[name],
                     "decisions": releases * why.PER_RELEASE, "samples": len(timing["seconds"])}
        print(f"  why on {name} ({timing['via']}): p50 {out[name]['p50Ms']} ms, p95 {out[name]['p95Ms']} ms, "
              f"server CPU {timing.get('cpuMs')} ms per answer (filled in {filled[name]} s)", file=log, flush=True)
    return out


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 2)


def _failover(server: str, lease: float, log: Any) -> dict[str, Any]:
    import scale_failover

    fo = scale_failover.failover(server, lease=lease)
    print(f"  failover: takeover {fo['takeoverSeconds']} s (lease {lease:g} s), stale writes {fo['staleWrites']}",
          file=log, flush=True)
    return {"leaseSeconds": fo["leaseSeconds"], "takeoverSeconds": fo["takeoverSeconds"],
            "staleWrites": fo["staleWrites"], "failover": fo}


def goals(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    why = result.get("why", {})
    p95s = [why[db]["p95Ms"] for db in ("sqlite", "postgresql") if db in why]
    lease, takeover = result.get("leaseSeconds"), result.get("takeoverSeconds")
    return {
        "perWorker>=5000": {"value": result.get("perWorker"), "met": (result.get("perWorker") or 0) >= 5000},
        "ratio>=2.5": {"value": result.get("ratio"), "met": (result.get("ratio") or 0) >= 2.5},
        "whyP95<20ms": {"value": max(p95s) if p95s else None, "met": bool(p95s) and max(p95s) < 20},
        "takeover<=2xLease": {"value": takeover, "met": takeover is not None and lease is not None
                              and takeover <= 2 * lease},
        "staleWrites==0": {"value": result.get("staleWrites"), "met": result.get("staleWrites") == 0},
    }


def table(result: dict[str, Any]) -> str:
    g = result["goals"]
    rows = [("releases per worker (p99 tick lag < 1 s)", result.get("perWorker"), ">= 5,000", "perWorker>=5000"),
            ("releases with 3 workers", result.get("threeWorkers"), "", None),
            ("ratio 3 workers / 1", result.get("ratio"), ">= 2.5", "ratio>=2.5")]
    for db in ("sqlite", "postgresql"):
        w = result.get("why", {}).get(db)
        if w:
            rows.append((f"why p50 / p95 ms, {db} ({w['decisions']:,} decisions, {w['via']})",
                         f"{w['p50Ms']} / {w['p95Ms']}", "p95 < 20", "whyP95<20ms"))
            if w.get("serverCpuMs") is not None:
                rows.append((f"  server CPU ms per why, {db}", w["serverCpuMs"], "", None))
    rows += [("takeover after SIGKILL, s (lease {:g} s)".format(result.get("leaseSeconds") or 0),
              result.get("takeoverSeconds"), "<= 2 leases", "takeover<=2xLease"),
             ("stale router writes", result.get("staleWrites"), "0", "staleWrites==0")]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'measure':<{width}}  {'value':>14}  {'goal':<12} met"]
    for label, value, goal, key in rows:
        met = "" if key is None or key not in g else ("yes" if g[key]["met"] else "NO")
        lines.append(f"{label:<{width}}  {str(value if value is not None else '-'):>14}  {goal:<12} {met}")
    low, high = result["loadAverage"]
    lines.append(f"({result['cores']} cores, load average {low:g} to {high:g} during the run; {result['seconds']:.0f} s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="coarse search, short windows (under 5 minutes)")
    parser.add_argument("--output", choices=("table", "json"), default="table")
    parser.add_argument("--db", default=DEFAULT_SERVER, help="a PostgreSQL URL; fresh databases are made there")
    parser.add_argument("--levels", default=None, help="release counts to try, comma-separated "
                        "(default 250,500,1000,2000,5000,10000; --quick 2000,5000)")
    parser.add_argument("--only", default="capacity,why,failover",
                        help="which parts, comma-separated: capacity (one and three workers), perWorker (one), why, "
                             "failover")
    parser.add_argument("--why-releases", type=int, default=None,
                        help="releases in the why store, x100 decisions (default 10000; --quick: 1000)")
    parser.add_argument("--lease", type=float, default=None, help="the failover's lease seconds (default 15; "
                        "--quick: 6)")
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    default = [2000, 5000] if args.quick else [250, 500, 1000, 2000, 5000, 10_000]
    lease = args.lease or (6.0 if args.quick else 15.0)
    levels = [int(x) for x in args.levels.split(",")] if args.levels else default
    window, warmup, samples = (10.0, 3.0, 300) if args.quick else (60.0, 15.0, 2000)
    why_releases = args.why_releases or (1000 if args.quick else 10_000)
    started, loads = time.monotonic(), [os.getloadavg()[0]]
    log = sys.stderr
    result: dict[str, Any] = {"cores": os.cpu_count(), "quick": args.quick}
    # `why` and the failover first: the capacity runs leave PostgreSQL busy for a while (dropping their databases
    # of thousands of releases, checkpoints), which would weigh on a measurement made right after them.
    if "why" in parts:
        with why_stores(args.db, why_releases) as (urls, filled):
            result["why"] = time_why(urls, filled, why_releases, samples, log)
    if "failover" in parts:
        result.update(_failover(args.db, lease, log))
    if "capacity" in parts or "perWorker" in parts:
        per, rows = search(args.db, levels, 1, window=window, warmup=warmup, log=log)
        result.update({"perWorker": per, "capacityRuns": rows})
    if "capacity" in parts:
        # From what one worker keeps up with, upwards, in steps of it (--quick: 1x, 2x and the goal, 2.5x).
        steps = (1, 2, 2.5) if args.quick else (1, 1.5, 2, 2.5, 3)
        three, rows3 = search(args.db, [round(per * k) for k in steps] if per else levels[:1], 3, window=window,
                              warmup=warmup, log=log)
        result.update({"threeWorkers": three, "ratio": round(three / per, 2) if per else None,
                       "capacityRuns": rows + rows3})
    loads += [r["loadAverage"] for r in result.get("capacityRuns", [])] + [os.getloadavg()[0]]
    result["loadAverage"] = [round(min(loads), 1), round(max(loads), 1)]
    result["seconds"] = round(time.monotonic() - started, 1)
    result["goals"] = goals(result)
    print(json.dumps(result, indent=2) if args.output == "json" else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
