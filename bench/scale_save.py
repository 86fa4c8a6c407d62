"""CPU per `Store.save` of one evaluation tick (the worker's commit), on PostgreSQL and SQLite.

    python bench/scale_save.py [--db postgresql+psycopg://…] [-n 2000]

Saves an evaluation-sized decision with a release state like the scale bench's, under a lease, ``n``
times, and prints the process CPU (``time.process_time``) per save: on a shared machine, CPU time and
not wall time is what a change to the save path moves. ``LAUNCHDECK_SCALE_SRC=<tree>/src`` measures
another tree's store, to compare two in one sitting.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, os.environ.get("LAUNCHDECK_SCALE_SRC") or str(ROOT / "src"))
sys.path.insert(1, str(Path(__file__).resolve().parent))

import scale_fleet as fleet

from launchdeck.store import leases
from launchdeck.store.repo import NewDecision, Store

STATE = {"engine": {"phase": "stage", "stage": 0, "weight": 10.0, "stage_started_at": 0.0, "last_eval_at": 120.0,
                    "gates": {"error-rate": {"status": "ok", "since": None}, "latency": {"status": "ok", "since": None}}},
         "totals": [12000, 12], "workdir": "/tmp/x", "startedAt": "2026-12-01T00:00:00+00:00",
         "roles": {"sre": ["sam"]}, "checklists": {}, "stages": 2, "waiting": None}
INPUTS = {"verdicts": [{"gate": g, "status": "ok", "canary": 0.001, "stable": 0.001, "limit": "5%",
                        "requests": {"canary": 600, "stable": 5400}} for g in ("error-rate", "latency")],
          "canary": {"requests": 600, "errors": 1, "latency": {str(b): 10 for b in range(12)}},
          "stable": {"requests": 5400, "errors": 5, "latency": {str(b): 90 for b in range(12)}}}


def measure(url: str, n: int) -> float:
    with Store(url) as store:
        release = store.create(tenant="bench", name=f"save-{time.monotonic_ns()}", plan_path="/p", plan_digest="sha256:x", state=STATE)
        lease = leases.claim(store, release.id, "bench/1/x", 15.0)
        assert lease is not None
        for i in range(20):  # warm: connection, statement caches
            store.save(release_id=release.id, state=STATE, plan_clock=float(i), outcome=None,
                       decisions=[NewDecision(float(i), "evaluation", "every gate within limits", None, INPUTS)],
                       messages=[], lease=lease)
        t0 = time.process_time()
        for i in range(n):
            store.save(release_id=release.id, state=STATE, plan_clock=float(i), outcome=None,
                       decisions=[NewDecision(float(i), "evaluation", "every gate within limits", None, INPUTS)],
                       messages=[], lease=lease)
        return (time.process_time() - t0) / n * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=os.environ.get("LAUNCHDECK_TEST_DB")
                        or "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("-n", type=int, default=2000)
    args = parser.parse_args()
    rows = []
    with fleet.fresh_database(args.db, prefix="launchdeck_save") as pg:
        rows.append(("postgresql", measure(pg, args.n)))
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("sqlite", measure(f"sqlite:///{tmp}/save.db", args.n)))
    print(f"{'store':<12} {'CPU ms per save':>16}   ({args.n} saves, tree {os.environ.get('LAUNCHDECK_SCALE_SRC') or ROOT / 'src'})")
    for name, ms in rows:
        print(f"{name:<12} {ms:>16.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
