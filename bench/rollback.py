"""Rollback speed: from the rollback decision to the router reporting canary weight 0.

For every router the benchmark opens a real target (the local proxy with a sample-app fleet, or a
real HAProxy / nginx stack from :mod:`launchdeck.stacks`), then repeats ``-n`` times: put the
canary at ``--weight`` percent (not timed), take the decision time, ``set_weight(0)`` and read the
weight back with ``current_weight()`` (what the controller does to end every rollback: a verified
0), and take the time again. With ``--rps`` it sends that many requests per second through the
router's frontend meanwhile, so the rollbacks happen under traffic.

    python bench/rollback.py                       # local, haproxy, nginx: a table
    python bench/rollback.py -n 50 --output json   # [{"router", "n", "medianMs", "p95Ms"}, ...]
    python bench/rollback.py --factory flag=mypkg.bench:flag_target   # add a router

A router is added with :func:`register` (in code) or ``--factory NAME=module:callable`` (on the
command line): the callable takes no argument and returns an async context manager yielding a
:class:`BenchTarget` (or a bare router). Routers whose program is not installed are skipped and
listed as such.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from launchdeck.adapters.routers import Router
from launchdeck.errors import LaunchdeckError, TargetError
from launchdeck.local.fleet import Fleet
from launchdeck.local.loadgen import LoadGenerator
from launchdeck.local.recorder import Recorder
from launchdeck.local.router import LocalRouter
from launchdeck.stacks import FAST_VERSIONS, HAProxyStack, NginxStack, missing_programs


@dataclass
class BenchTarget:
    router: Router
    url: str | None = None
    """Where traffic for ``--rps`` goes (the router's frontend), if there is one."""


Factory = Callable[[], AbstractAsyncContextManager[Any]]
#: Router name -> factory; ``--routers`` picks among these.
FACTORIES: dict[str, Factory] = {}
#: Programs a router needs; a router whose program is missing is skipped.
REQUIRES: dict[str, tuple[str, ...]] = {}
#: What we aim for, median ms (shown next to the figures).
GOALS_MS: dict[str, float] = {"local": 20.0, "haproxy": 50.0, "nginx": 1000.0}


def register(name: str, factory: Factory, *, requires: tuple[str, ...] = (),
             goal_ms: float | None = None) -> None:
    """Add (or replace) a router. ``flag`` is meant to be added this way by its owner."""
    FACTORIES[name] = factory
    REQUIRES[name] = requires
    if goal_ms is not None:
        GOALS_MS[name] = goal_ms


@asynccontextmanager
async def local_target() -> AsyncIterator[BenchTarget]:
    async with Fleet(FAST_VERSIONS, time_scale=1.0) as fleet:
        router = LocalRouter(fleet.url("stable"), fleet.url("canary"), Recorder(), seed=1)
        async with router:
            yield BenchTarget(router, router.url)


@asynccontextmanager
async def haproxy_target() -> AsyncIterator[BenchTarget]:
    async with HAProxyStack() as stack:
        yield BenchTarget(stack.router, stack.url)


@asynccontextmanager
async def nginx_target() -> AsyncIterator[BenchTarget]:
    async with NginxStack() as stack:
        yield BenchTarget(stack.router, stack.url)


@asynccontextmanager
async def flag_target() -> AsyncIterator[BenchTarget]:
    """A flagd flag file; "reports 0" means the OpenFeature SDK evaluates every sampled user to stable."""
    from launchdeck.adapters.routers.flag import FlagRouter

    with tempfile.TemporaryDirectory(prefix="launchdeck-flag-") as work:
        yield BenchTarget(FlagRouter(f"{work}/flags.json", "new-checkout"))


register("local", local_target)
register("haproxy", haproxy_target, requires=("haproxy",))
register("nginx", nginx_target, requires=("nginx",))
register("flag", flag_target, goal_ms=1000.0)


async def one_rollback(router: Router) -> float:
    """Seconds from the decision to the router reporting canary weight 0."""
    decided = time.perf_counter()
    await router.set_weight(0.0)
    seen = await router.current_weight()
    elapsed = time.perf_counter() - decided
    if seen != 0:
        raise TargetError(f"router {router.type} reports canary {seen:g}% after the rollback")
    return elapsed


async def measure(name: str, factory: Factory, n: int, weight: float, rps: float) -> dict[str, Any]:
    async with factory() as opened:
        target = opened if isinstance(opened, BenchTarget) else BenchTarget(opened)
        samples: list[float] = []
        load = None
        if rps > 0 and target.url:
            load = LoadGenerator(target.url, rps=rps, users=1000, seed=1)
            await load.start()
        try:
            for _ in range(n):
                await target.router.set_weight(weight)
                samples.append(await one_rollback(target.router))
        finally:
            if load is not None:
                await load.stop()
    ms = np.array(samples) * 1000.0
    return {
        "router": name,
        "n": n,
        "medianMs": round(float(np.median(ms)), 3),
        "p95Ms": round(float(np.percentile(ms, 95)), 3),
    }


def load_factory(spec: str) -> tuple[str, Factory]:
    name, _, target = spec.partition("=")
    module, _, attr = target.partition(":")
    if not name or not module or not attr:
        raise SystemExit(f"--factory wants NAME=module:callable, got {spec!r}")
    return name, getattr(importlib.import_module(module), attr)


def table(rows: list[dict[str, Any]], skipped: dict[str, str]) -> str:
    lines = [f"{'router':<10} {'n':>4} {'median ms':>10} {'p95 ms':>9}   goal (median)"]
    for row in rows:
        goal = GOALS_MS.get(row["router"])
        verdict = "" if goal is None else (
            f"< {goal:g} ms  {'met' if row['medianMs'] < goal else 'MISSED'}")
        lines.append(f"{row['router']:<10} {row['n']:>4} {row['medianMs']:>10.3f} "
                     f"{row['p95Ms']:>9.3f}   {verdict}")
    for name, why in skipped.items():
        lines.append(f"{name:<10} skipped: {why}")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows, skipped = [], {}
    for name in args.routers:
        if name not in FACTORIES:
            skipped[name] = f"unknown router (known: {', '.join(FACTORIES)})"
            continue
        missing = missing_programs(REQUIRES.get(name, ()))
        if missing:
            skipped[name] = f"{', '.join(missing)} not installed (apt-get install {' '.join(missing)})"
            continue
        try:
            rows.append(await measure(name, FACTORIES[name], args.n, args.weight, args.rps))
        except LaunchdeckError as e:
            skipped[name] = str(e).replace("\n", " ")
    return rows, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="rollbacks per router (default 20)")
    parser.add_argument("--routers", default=None,
                        help="comma-separated (default: every registered router)")
    parser.add_argument("--weight", type=float, default=25.0,
                        help="canary percent before each rollback (default 25)")
    parser.add_argument("--rps", type=float, default=0.0,
                        help="requests per second through the frontend meanwhile (default 0)")
    parser.add_argument("--factory", action="append", default=[], metavar="NAME=module:callable",
                        help="add a router (repeatable)")
    parser.add_argument("--output", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    for spec in args.factory:
        register(*load_factory(spec))
    args.routers = args.routers.split(",") if args.routers else list(FACTORIES)
    if args.n < 1:
        parser.error("-n must be >= 1")
    rows, skipped = asyncio.run(main_async(args))
    if args.output == "json":
        print(json.dumps(rows, indent=2))
        for name, why in skipped.items():
            print(f"skipped {name}: {why}", file=sys.stderr)
    else:
        print(table(rows, skipped))
    return 1 if skipped and not rows else 0


if __name__ == "__main__":
    raise SystemExit(main())
