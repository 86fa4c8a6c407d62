"""Bad input, measured: time, peak memory and exit status of `launchdeck validate` on each.

Each case is a file made in a scratch directory (or a device), given to ``launchdeck validate`` as
a fresh process ``-n`` times. The table shows the exit status, the median wall time and the peak
resident memory of the process (``ru_maxrss``). The goal for each: exit 2, well under a second,
under 200 MB. ``valid plan`` is the baseline: what any start of the command costs.

    python bench/bounded_input.py                  # a table
    python bench/bounded_input.py -n 10 --output json

Without ``--launchdeck`` the ``launchdeck`` script next to this Python is used, else
``python -m launchdeck``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from startup import default_launchdeck  # bench/ is this script's folder, so on sys.path

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 1.0
GOAL_MB = 200.0


def billion_laughs() -> str:
    lines = ['lol0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"lol{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def make_cases(folder: Path) -> list[tuple[str, str]]:
    """(name, path) for every case; the files are written into ``folder`` a piece at a time, so this
    process stays small (a child's peak memory as reported counts what it shared with its parent)."""
    cases = [("valid plan", str(ROOT / "examples" / "intelgraph-canary.yaml"))]
    files: dict[str, tuple[str, list[str], int]] = {  # name: (file, pieces, repeats of the last piece)
        "billion laughs (10^9 values)": ("laughs.yaml", [billion_laughs()], 1),
        "nesting 100,000 deep": ("deep.yaml", ["spec: ", "[" * 100_000, "]" * 100_000 + "\n"], 1),
        "alias inside itself": ("loop.yaml", ["a: &a [1, *a]\n"], 1),
        "plan of 50 MB": ("big.yaml", ["# padding\n" * 100_000], 50),
        "aliases of long text (40 MB)": ("text.yaml", ["a: &a " + "x" * 400_000 + "\nb: [" + ", ".join(["*a"] * 100) + "]\n"], 1),
    }
    for name, (file, pieces, repeats) in files.items():
        with open(folder / file, "w", encoding="utf-8") as out:
            out.writelines(pieces[:-1])
            out.writelines(pieces[-1] for _ in range(repeats))
        cases.append((name, str(folder / file)))
    os.mkfifo(folder / "pipe.yaml")
    cases += [("/dev/zero", "/dev/zero"), ("FIFO nobody writes", str(folder / "pipe.yaml"))]
    return cases


def run_once(argv: list[str]) -> tuple[int, float, float]:
    """Exit status, wall seconds and peak resident MB of one process."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    return os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss / 1024  # ru_maxrss is in KB on Linux


def measure(name: str, argv: list[str], n: int) -> dict[str, Any]:
    runs = [run_once(argv) for _ in range(n)]
    return {"input": name, "n": n, "exit": sorted({code for code, _, _ in runs}),
            "medianS": round(statistics.median(wall for _, wall, _ in runs), 3),
            "maxS": round(max(wall for _, wall, _ in runs), 3),
            "peakMB": round(max(mb for _, _, mb in runs), 1)}


def table(rows: list[dict[str, Any]]) -> str:
    width = max(len(r["input"]) for r in rows)
    lines = [f"{'input':<{width}}  exit  {'median s':>8}  {'max s':>6}  {'peak MB':>7}",
             f"{'-' * width}  ----  {'-' * 8}  {'-' * 6}  {'-' * 7}"]
    for r in rows:
        code = ",".join(map(str, r["exit"]))
        lines.append(f"{r['input']:<{width}}  {code:>4}  {r['medianS']:>8.3f}  {r['maxS']:>6.3f}  {r['peakMB']:>7.1f}")
    lines.append(f"goal: exit 2 (0 for the valid plan), under {GOAL_S:g} s, under {GOAL_MB:g} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="runs per input (default 5)")
    parser.add_argument("--launchdeck", default=None, help="the command to run, e.g. 'python -m launchdeck'")
    parser.add_argument("--output", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("-n must be >= 1")
    launchdeck = shlex.split(args.launchdeck) if args.launchdeck else default_launchdeck()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: byte-compiled modules
    run_once(launchdeck + ["--version"])  # untimed: writes them for a source tree
    with tempfile.TemporaryDirectory(prefix="launchdeck-bounded-") as folder:
        rows = [measure(name, launchdeck + ["validate", path], args.n) for name, path in make_cases(Path(folder))]
    print(json.dumps(rows, indent=2) if args.output == "json" else table(rows))
    within = all(r["exit"] == ([0] if r["input"] == "valid plan" else [2]) and r["maxS"] < GOAL_S
                 and r["peakMB"] < GOAL_MB for r in rows)
    return 0 if within else 1


if __name__ == "__main__":
    raise SystemExit(main())
