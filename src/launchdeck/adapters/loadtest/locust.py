"""Locust run headless, as its own process with this Python (``python -m locust``): the plan's locustfile
against the host, ``users`` spawned at ``spawn_rate`` for ``duration`` (wall-clock time). Failed requests
are results, not errors (``--exit-code-on-error 0``); a locustfile that does not load, or a run that
does not end in time, is a failure of the load test, said with the end of Locust's output.

Percentiles are read from ``--json-file``'s per-endpoint ``response_times`` (milliseconds, rounded as
Locust rounds them), merged over every endpoint: the nearest rank, as Locust computes its own.
"""

from __future__ import annotations

import json
import math
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

from launchdeck.adapters import process
from launchdeck.adapters.loadtest import Report
from launchdeck.errors import TargetError
from launchdeck.plan.hooks_model import LoadTestSpec

#: Beyond its run time, how long Locust may take to start and to stop its users.
GRACE_S = 60.0


async def run(spec: LoadTestSpec, *, host: str, cwd: Path, secrets: list[str] | None = None) -> Report:
    assert spec.locust is not None
    locustfile = cwd / spec.locust
    if not locustfile.is_file():
        raise TargetError(f"no locustfile at {locustfile}", hint="fix stages[].loadTest.locust (relative to the plan)")
    seconds = max(1, math.ceil(spec.duration))
    with tempfile.TemporaryDirectory(prefix="launchdeck-locust-") as folder:
        prefix = Path(folder) / "stats"
        argv = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", host,
                "-u", str(spec.users), "-r", f"{spec.spawn_rate:g}", "-t", f"{seconds}s", "--only-summary",
                "--json-file", str(prefix), "--exit-code-on-error", "0", "--loglevel", "WARNING"]
        ran = await process.run(shlex.join(argv), values={}, cwd=cwd, timeout=seconds + GRACE_S,
                                secrets=secrets or [])
        output = Path(str(prefix) + ".json")
        if not ran.ok or not output.is_file():
            raise TargetError(f"the Locust load test did not run: {ran.describe()}",
                              hint="run the same locustfile with `locust --headless` by hand to see why")
        entries = json.loads(output.read_text(encoding="utf-8"))
    return parse(entries, host=host, users=spec.users, seconds=float(seconds))


def parse(entries: list[dict[str, Any]], *, host: str, users: int, seconds: float) -> Report:
    """A report from Locust's JSON stats (one entry per endpoint)."""
    requests = sum(int(e.get("num_requests", 0)) for e in entries)
    failures = sum(int(e.get("num_failures", 0)) for e in entries)
    times: dict[float, int] = {}
    for e in entries:
        for ms, count in (e.get("response_times") or {}).items():
            times[float(ms)] = times.get(float(ms), 0) + int(count)
    starts = [float(e["start_time"]) for e in entries if e.get("start_time")]
    ends = [float(e["last_request_timestamp"]) for e in entries if e.get("last_request_timestamp")]
    span = max(ends) - min(starts) if starts and ends and max(ends) > min(starts) else seconds
    endpoints = [{"name": f"{e.get('method', '')} {e.get('name', '')}".strip(), "requests": e.get("num_requests", 0),
                  "failures": e.get("num_failures", 0)} for e in entries]
    return Report("Locust", requests, failures, span, _quantile(times, 0.50), _quantile(times, 0.95),
                  _quantile(times, 0.99), requests / span if span > 0 else None,
                  {"host": host, "users": users, "endpoints": endpoints})


def _quantile(times: dict[float, int], q: float) -> float | None:
    total = sum(times.values())
    if not total:
        return None
    rank, seen = math.ceil(q * total), 0
    for ms in sorted(times):
        seen += times[ms]
        if seen >= rank:
            return ms
    return max(times)
