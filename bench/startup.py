"""Start-up time: how long `launchdeck --help`, `--version` and `validate PLAN` take, end to end.

Each command runs ``-n`` times as a fresh process (after one untimed run that warms the disk cache)
and the wall time from spawn to exit is taken; the table gives the median and the 95th percentile,
and the median CPU time (user + system) of the process, which other load on the machine disturbs
less than the wall time.
``python -c pass`` is timed the same way: it is the floor no command can go below on this machine.
The goal is under 200 ms for each launchdeck command.

    python bench/startup.py                      # a table
    python bench/startup.py -n 50 --output json  # [{"command", "n", "medianMs", "p95Ms", "cpuMs"}, ...]
    python bench/startup.py --launchdeck "python -m launchdeck"
    python bench/startup.py --before /tmp/before/src   # this checkout against another, as ratios

Without ``--launchdeck`` the ``launchdeck`` script next to this Python is used, else
``python -m launchdeck``. Timings are only meaningful on an otherwise idle machine.

``--before SRC`` compares two versions of the code in one run: each command runs with
``PYTHONPATH=SRC`` (e.g. ``git archive main src | tar -x -C /tmp/before``) and with this checkout's
``src/``, alternately, so both see the same load; the table gives both medians and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "examples" / "intelgraph-canary.yaml"
GOAL_MS = 200.0


def default_launchdeck() -> list[str]:
    """The installed command if there is one beside this interpreter, else the module."""
    script = Path(sys.executable).with_name("launchdeck")
    return [str(script)] if script.exists() else [sys.executable, "-m", "launchdeck"]


def cases(launchdeck: list[str]) -> list[tuple[str, list[str]]]:
    return [
        ("python -c pass (floor)", [sys.executable, "-c", "pass"]),
        ("launchdeck --help", launchdeck + ["--help"]),
        ("launchdeck --version", launchdeck + ["--version"]),
        (f"launchdeck validate examples/{PLAN.name}", launchdeck + ["validate", str(PLAN)]),
    ]


def time_once(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU milliseconds from spawn to exit; a failing command stops the benchmark."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stderr.close()
    if child.returncode != 0:
        raise SystemExit(f"{shlex.join(argv)} exited {child.returncode}:\n{errors}")
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def compare(name: str, argv: list[str], n: int, before: Path) -> dict[str, Any]:
    """The command with ``before`` first on the path and with this checkout's ``src/``, alternately."""
    sides = {"before": str(before.resolve()), "after": str(ROOT / "src")}
    runs: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
    for i in range(n + 1):
        for side, src in sides.items():
            os.environ["PYTHONPATH"] = src
            timed = time_once(argv)
            if i:  # the first round is untimed: page cache and .pyc files
                runs[side].append(timed)
    os.environ.pop("PYTHONPATH", None)
    row: dict[str, Any] = {"command": name, "n": n}
    for side, timed in runs.items():
        row[f"{side}MedianMs"] = round(statistics.median(w for w, _ in timed), 1)
        row[f"{side}CpuMs"] = round(statistics.median(c for _, c in timed), 1)
    row["ratio"] = round(row["afterMedianMs"] / row["beforeMedianMs"], 2)
    row["cpuRatio"] = round(row["afterCpuMs"] / row["beforeCpuMs"], 2)
    return row


def compare_table(rows: list[dict[str, Any]]) -> str:
    width = max(len(r["command"]) for r in rows)
    head = ("before ms", "after ms", "ratio", "before CPU", "after CPU", "CPU ratio")
    lines = [f"{'command (medians)':<{width}}  " + "  ".join(f"{h:>10}" for h in head),
             f"{'-' * width}  " + "  ".join("-" * 10 for _ in head)]
    for r in rows:
        values = (r["beforeMedianMs"], r["afterMedianMs"], r["ratio"], r["beforeCpuMs"], r["afterCpuMs"], r["cpuRatio"])
        lines.append(f"{r['command']:<{width}}  " + "  ".join(f"{v:>10}" for v in values))
    return "\n".join(lines)


def measure(name: str, argv: list[str], n: int) -> dict[str, Any]:
    time_once(argv)  # untimed: fills the page cache and writes .pyc files
    runs = [time_once(argv) for _ in range(n)]
    wall = [w for w, _ in runs]
    return {"command": name, "n": n, "medianMs": round(statistics.median(wall), 1),
            "p95Ms": round(percentile(wall, 0.95), 1), "cpuMs": round(statistics.median(c for _, c in runs), 1)}


def table(rows: list[dict[str, Any]]) -> str:
    width = max(len(r["command"]) for r in rows)
    lines = [f"{'command':<{width}}  {'median ms':>9}  {'p95 ms':>7}  {'CPU ms':>6}  goal",
             f"{'-' * width}  {'-' * 9}  {'-' * 7}  {'-' * 6}  ----"]
    for r in rows:
        goal = "—" if r["command"].startswith("python") else f"< {GOAL_MS:.0f}"
        lines.append(f"{r['command']:<{width}}  {r['medianMs']:>9.1f}  {r['p95Ms']:>7.1f}  {r['cpuMs']:>6.1f}  {goal}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="timed runs per command (default 20)")
    parser.add_argument("--launchdeck", default=None, help="the command to time, e.g. 'python -m launchdeck'")
    parser.add_argument("--output", choices=("table", "json"), default="table")
    parser.add_argument("--before", type=Path, default=None,
                        help="a src/ directory of the code to compare with (each command runs with both)")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("-n must be >= 1")
    launchdeck = shlex.split(args.launchdeck) if args.launchdeck else default_launchdeck()
    os.environ.pop("LAUNCHDECK_DB", None)  # none of these commands opens the store
    # As installed: byte-compiled modules (the untimed first run writes them for a source tree).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.before is not None:
        if not (args.before / "launchdeck").is_dir():
            parser.error(f"--before {args.before}: no launchdeck package there; give a src/ directory")
        rows = [compare(name, command, args.n, args.before) for name, command in cases(launchdeck)]
        print(json.dumps(rows, indent=2) if args.output == "json" else compare_table(rows))
        return 0
    rows = [measure(name, command, args.n) for name, command in cases(launchdeck)]
    print(json.dumps(rows, indent=2) if args.output == "json" else table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
