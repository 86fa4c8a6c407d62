"""A baseline of the same age on the local fleet: the canary and the baseline warm up alike.

Runs ``examples/same-age-baseline.yaml`` (canary and stable processes 50% slower at first, warm after
three minutes; no ``analysis.warmup``) ``-n`` times in each of three variants, each run a real
``launchdeck run`` with its own store and evidence in a scratch folder:

* ``same-age``: the plan as it is; a healthy canary, expected promoted;
* ``stable``: the same plan with ``analysis.baseline: stable``: the fresh canary is compared with the
  warm fleet, expected rolled back;
* ``slower``: ``same-age`` with a canary also 30% slower once warm, expected rolled back.

    python bench/same_age.py                      # 5 runs of each, a table
    python bench/same_age.py -n 10 --output json  # [{"variant", "run", "outcome", "firedGate", ...}]

It exits 0 when every run ended as expected. ``tests/integration/test_cli_same_age.py`` runs each
variant once.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "examples" / "same-age-baseline.yaml"
EXPECTED = {"same-age": "promoted", "stable": "rolled_back", "slower": "rolled_back"}


def variant(name: str) -> dict[str, Any]:
    """The example plan as the variant runs it."""
    data = yaml.safe_load(PLAN.read_text(encoding="utf-8"))
    spec = data["spec"]
    if name == "stable":
        spec["analysis"]["baseline"] = "stable"
    elif name == "slower":
        canary = spec["target"]["versions"]["canary"]
        canary["latency"] = {k: f"{float(v.removesuffix('ms')) * 1.3:g}ms" for k, v in canary["latency"].items()}
    return data


def run_once(name: str, index: int, time_scale: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"same-age-{name}-") as scratch:
        plan = Path(scratch) / "plan.yaml"
        plan.write_text(yaml.safe_dump(variant(name), sort_keys=False), encoding="utf-8")
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "launchdeck", "run", str(plan), "--time-scale", str(time_scale),
                               "--output", "json", "--db", f"sqlite:///{scratch}/launchdeck.db"],
                              cwd=scratch, capture_output=True, text=True, timeout=600)
        seconds = time.perf_counter() - began
    try:
        summary = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        summary = {"outcome": f"no summary (exit {done.returncode}): {done.stderr.strip()[-300:]}"}
    return {"variant": name, "run": index + 1, "outcome": summary.get("outcome"), "expected": EXPECTED[name],
            "firedGate": summary.get("firedGate"), "detectedAfterSeconds": summary.get("detectedAfterSeconds"),
            "canaryRequests": summary.get("canaryRequests"), "wallSeconds": round(seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="runs of each variant (default 5)")
    parser.add_argument("--time-scale", type=float, default=20.0, help="as `launchdeck run` (default 20)")
    parser.add_argument("--variants", default=",".join(EXPECTED), help="comma-separated (default: all three)")
    parser.add_argument("--output", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    rows = []
    for name in args.variants.split(","):
        for i in range(args.n):
            rows.append(run_once(name, i, args.time_scale))
            if args.output == "table":
                r = rows[-1]
                mark = "ok" if r["outcome"] == r["expected"] else "UNEXPECTED"
                print(f"{name:9} run {r['run']}: {r['outcome']:12} {mark:10} fired {r['firedGate'] or '-':16} "
                      f"detected after {r['detectedAfterSeconds'] or '-'} s, {r['canaryRequests']} canary requests, "
                      f"{r['wallSeconds']} s", flush=True)
    if args.output == "json":
        print(json.dumps(rows))
    as_expected = sum(r["outcome"] == r["expected"] for r in rows)
    print(f"{as_expected} of {len(rows)} runs ended as expected", file=sys.stderr)
    return 0 if as_expected == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
