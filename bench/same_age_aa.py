"""False rollbacks against a same-age baseline over many A/A runs: the issue #11 target at its upper bound.

``launchdeck bench detection --quick`` runs 1,000 A/A replications per cell, whose 95% interval is too
wide to show a rate of 0.5% under 1% at its upper bound. This runs ``aa`` and ``aa-robust`` at the
three traffic levels with ``-n`` replications each (default 10,000), seeded as the full benchmark seeds
each cell, for the detectors that read the baseline and the warm-fleet judge, and prints a table (or
JSON rows in the benchmark's schema):

    python bench/same_age_aa.py                  # 10,000 runs per cell, a table
    python bench/same_age_aa.py -n 2000 --output json
    python bench/same_age_aa.py --scenarios aa-robust --rps 1000 --detectors sequential-baseline
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from launchdeck.bench.detection import simulate_detections, summarise
from launchdeck.bench.simulation import HORIZON, RPS_LEVELS, SCENARIOS

DETECTORS = ("sequential", "sequential-baseline", "oracle-baseline")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="A/A runs per scenario and traffic level")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", choices=("text", "json"), default="text")
    parser.add_argument("--rps", type=float, nargs="+", default=list(RPS_LEVELS), help="traffic levels")
    parser.add_argument("--scenarios", nargs="+", default=["aa", "aa-robust"], choices=["aa", "aa-robust"])
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=list(DETECTORS))
    args = parser.parse_args()
    rows = []
    began = time.process_time()
    for name in args.scenarios:
        for rps in args.rps:
            seed = (args.seed, list(SCENARIOS).index(name), round(rps))  # as ``detection.run`` seeds the cell
            times, served = simulate_detections(name, rps, args.n, seed=seed, detectors=args.detectors)
            rows += [summarise(d, SCENARIOS[name], rps, times[d], served[d], HORIZON) for d in args.detectors]
    if args.output == "json":
        print(json.dumps(rows))
    else:
        print("| scenario | detector | rps | false rollbacks [95% CI] |\n| --- | --- | --- | --- |")
        for r in rows:
            lo, hi = r["falseRollbackCI"]
            print(f"| {r['scenario']} | {r['detector']} | {r['rps']:g} | "
                  f"{100 * r['falseRollbackRate']:.2f}% [{100 * lo:.2f}–{100 * hi:.2f}%] |")
    print(f"{len(rows)} rows, {args.n} runs per cell, {time.process_time() - began:.0f} s of CPU", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
