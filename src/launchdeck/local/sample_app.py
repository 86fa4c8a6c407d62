"""The built-in sample service of the embedded local target: one process per version.

Every request other than ``/metrics`` and ``/healthz`` waits a lognormal latency (given by its
median and p95) and answers ``200 ok <version>``, or ``500`` with probability ``error_rate``.
Faults change that behaviour over *plan time*: wall seconds since the first served request,
multiplied by ``time_scale``, so a plan's minutes can be played in seconds. A fault may also make the
service report *events* at a rate per plan second (``cross_tenant_denied`` at 5/s), counted in
``app_events_total{version, event}`` as of each scrape. A process given a warm-up (``--warmup
DURATION``) is slower at first, as a fresh instance with cold caches is: its latency is multiplied by
1 + 0.5 (1 - t / DURATION), 1.5 at its first request, 1.25 at half the duration and 1 (warm) from its
end on. The service exposes Prometheus metrics from its own registry and, given ``--parent-pid``,
exits when its parent dies.
Run it as ``python -m launchdeck.local.sample_app --port P --version V``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import astuple, dataclass

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from launchdeck.errors import TargetError

#: z-score of the 95th percentile of a standard normal: p95 = median * exp(Z_95 * sigma).
Z_95 = 1.6448536269514722
#: Histogram buckets (seconds) of ``http_request_duration_seconds``: 5 ms .. 10 s.
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
#: How often (seconds) the parent-pid watchdog looks at its parent.
PARENT_CHECK_S = 1.0

#: How much slower a fresh process is at its first request (a factor 1 + this), with a warm-up.
WARMUP_EXTRA = 0.5

#: JSON keys of a fault's numbers, in the order of :class:`Fault`'s fields; ``events`` comes after them.
_FAULT_KEYS = ("from", "to", "errorRate", "latencyMedianMs", "latencyP95Ms")


def _check_rate(name: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise TargetError(f"{name} must be between 0 and 1, got {value}")


def _check_ms(name: str, value: float | None) -> None:
    if value is not None and (not math.isfinite(value) or value < 0):
        raise TargetError(f"{name} must be a finite number of milliseconds >= 0, got {value}")


@dataclass(frozen=True)
class Behaviour:
    """How one version behaves when no fault is active."""

    error_rate: float = 0.0
    latency_median_ms: float = 40.0
    latency_p95_ms: float = 120.0
    warmup_s: float = 0.0
    """Plan seconds a fresh process takes to warm up (0: it is warm from its first request)."""

    def __post_init__(self) -> None:
        if not math.isfinite(self.warmup_s) or self.warmup_s < 0:
            raise TargetError(f"a warm-up must be a plan duration >= 0, got {self.warmup_s}")
        _check_rate("error_rate", self.error_rate)
        _check_ms("latency_median_ms", self.latency_median_ms)
        _check_ms("latency_p95_ms", self.latency_p95_ms)
        if self.latency_p95_ms < self.latency_median_ms:
            raise TargetError(
                f"latency p95 ({self.latency_p95_ms} ms) is below the median "
                f"({self.latency_median_ms} ms)",
                hint="give a p95 at least as large as the median",
            )


@dataclass(frozen=True)
class Fault:
    """A change of behaviour during plan seconds ``[start_s, end_s)`` (``end_s=None``: forever).

    Only the fields that are set override the version's behaviour. If a fault raises the median
    above the p95 it leaves in place, the latency becomes constant at the median.
    """

    start_s: float
    end_s: float | None = None
    error_rate: float | None = None
    latency_median_ms: float | None = None
    latency_p95_ms: float | None = None
    events: tuple[tuple[str, float], ...] = ()
    """(event name, occurrences per plan second) reported while the fault is active."""

    def __post_init__(self) -> None:
        for name, rate in self.events:
            if not name or not math.isfinite(rate) or rate < 0:
                raise TargetError(f"a fault's event {name!r} needs a rate >= 0 per plan second, got {rate}")
        if not math.isfinite(self.start_s) or self.start_s < 0:
            raise TargetError(f"a fault must start at a plan second >= 0, got {self.start_s}")
        if self.end_s is not None and self.end_s <= self.start_s:
            raise TargetError(f"a fault ends ({self.end_s}) before it starts ({self.start_s})")
        _check_rate("fault error_rate", self.error_rate)
        _check_ms("fault latency_median_ms", self.latency_median_ms)
        _check_ms("fault latency_p95_ms", self.latency_p95_ms)

    def active_at(self, plan_s: float) -> bool:
        return self.start_s <= plan_s and (self.end_s is None or plan_s < self.end_s)

    def active_seconds(self, plan_s: float) -> float:
        """Plan seconds of ``[0, plan_s)`` during which the fault was active."""
        end = plan_s if self.end_s is None else min(plan_s, self.end_s)
        return max(0.0, end - self.start_s)


def warmup_factor(plan_s: float, warmup_s: float) -> float:
    """How much slower than warm a process is ``plan_s`` after its first request (1: warm)."""
    if warmup_s <= 0:
        return 1.0
    return 1.0 + WARMUP_EXTRA * max(0.0, 1.0 - max(plan_s, 0.0) / warmup_s)


def faults_to_json(faults: Iterable[Fault]) -> str:
    """Faults as a JSON list of ``{from, to, errorRate, latencyMedianMs, latencyP95Ms}``."""
    out = []
    for f in faults:
        fields = zip(_FAULT_KEYS, astuple(f)[: len(_FAULT_KEYS)], strict=True)
        item: dict[str, object] = {key: value for key, value in fields if value is not None}
        if f.events:
            item["events"] = dict(f.events)
        out.append(item)
    return json.dumps(out, separators=(",", ":"))


def _number(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TargetError(f"{where} must be a number, got {value!r}")
    return float(value)


def faults_from_json(text: str) -> tuple[Fault, ...]:
    """Inverse of :func:`faults_to_json`; raises TargetError on anything malformed."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise TargetError(f"faults are not valid JSON: {e}") from e
    if not isinstance(data, list):
        raise TargetError("faults must be a JSON list of objects")
    faults: list[Fault] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise TargetError(f"fault #{i} must be an object, got {item!r}")
        unknown = set(item) - {*_FAULT_KEYS, "events"}
        if unknown:
            raise TargetError(f"fault #{i} has unknown keys: {', '.join(sorted(unknown))}")
        v = {key: _number(item.get(key), f"fault #{i}: '{key}'") for key in _FAULT_KEYS}
        start = v["from"]
        if start is None:
            raise TargetError(f"fault #{i} needs a 'from' (plan second it starts at)")
        events = item.get("events") or {}
        if not isinstance(events, dict):
            raise TargetError(f"fault #{i}: 'events' must map event names to rates per plan second")
        rates = tuple((str(name), _number(rate, f"fault #{i}: event {name!r}") or 0.0) for name, rate in events.items())
        median, p95 = v["latencyMedianMs"], v["latencyP95Ms"]
        faults.append(Fault(start, v["to"], v["errorRate"], median, p95, rates))
    return tuple(faults)


class SampleService:
    """State of one sample app: behaviour, faults, plan clock, random source and metrics."""

    def __init__(
        self,
        version: str,
        behaviour: Behaviour,
        faults: tuple[Fault, ...] = (),
        *,
        time_scale: float = 1.0,
        seed: int | None = None,
    ) -> None:
        if not time_scale > 0:
            raise TargetError(f"time_scale must be > 0, got {time_scale}")
        self.version = version
        self.behaviour = behaviour
        self.faults = faults
        self.time_scale = time_scale
        self._rng = random.Random(seed)
        self._first_request: float | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        about = "Requests served, by version and status code."
        self._requests = Counter("http_requests", about, ["version", "code"], registry=reg)
        about = "Time to serve a request, by version."
        name = "http_request_duration_seconds"
        self._duration = Histogram(name, about, ["version"], buckets=BUCKETS_S, registry=reg)
        for code in ("200", "500"):
            self._requests.labels(version, code)
        self._duration.labels(version)
        about = "Events reported (cross-tenant denials, residency violations...), by version and event."
        self._events = Counter("app_events", about, ["version", "event"], registry=reg)
        # Every event a fault may report exists from the start at 0, so a scraper sees its first rise.
        self._reported = {name: 0 for f in faults for name, _ in f.events}
        for name in self._reported:
            self._events.labels(version, name)

    def plan_time(self, now: float | None = None) -> float:
        """Plan seconds since the first served request (0 before it)."""
        if self._first_request is None:
            return 0.0
        now = time.monotonic() if now is None else now
        return (now - self._first_request) * self.time_scale

    def effective(self, plan_s: float) -> tuple[float, float, float]:
        """(error rate, median ms, p95 ms) at a plan time; later faults win over earlier ones, and a
        process still warming up is slower by ``warmup_factor``."""
        err = self.behaviour.error_rate
        median = self.behaviour.latency_median_ms
        p95 = self.behaviour.latency_p95_ms
        for fault in self.faults:
            if fault.active_at(plan_s):
                err = err if fault.error_rate is None else fault.error_rate
                median = median if fault.latency_median_ms is None else fault.latency_median_ms
                p95 = p95 if fault.latency_p95_ms is None else fault.latency_p95_ms
        slower = warmup_factor(plan_s, self.behaviour.warmup_s)
        return err, median * slower, p95 * slower

    def sample_latency_s(self, median_ms: float, p95_ms: float) -> float:
        if median_ms <= 0:
            return 0.0
        sigma = max(0.0, math.log(max(p95_ms, median_ms) / median_ms) / Z_95)
        return self._rng.lognormvariate(math.log(median_ms), sigma) / 1000.0

    async def handle(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        if self._first_request is None:
            self._first_request = started
        err, median, p95 = self.effective(self.plan_time(started))
        fail = self._rng.random() < err
        latency = self.sample_latency_s(median, p95)
        if request.can_read_body:
            await request.read()
        await asyncio.sleep(latency)
        status = 500 if fail else 200
        self._requests.labels(self.version, str(status)).inc()
        self._duration.labels(self.version).observe(time.monotonic() - started)
        text = f"error {self.version}" if fail else f"ok {self.version}"
        return web.Response(status=status, text=text)

    def events_due(self, plan_s: float) -> dict[str, int]:
        """Each event's occurrences from plan time 0 to ``plan_s``: its faults' rates over their active time."""
        due = dict.fromkeys(self._reported, 0.0)
        for fault in self.faults:
            for name, rate in fault.events:
                due[name] += rate * fault.active_seconds(plan_s)
        return {name: math.floor(total + 1e-9) for name, total in due.items()}

    async def metrics(self, request: web.Request) -> web.Response:
        for name, total in self.events_due(self.plan_time()).items():
            if total > self._reported[name]:
                self._events.labels(self.version, name).inc(total - self._reported[name])
                self._reported[name] = total
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    """Set ``stop`` once the parent is gone (we were re-parented)."""
    while not stop.is_set():
        if os.getppid() != parent_pid:
            stop.set()
            return
        try:
            await asyncio.wait_for(stop.wait(), PARENT_CHECK_S)
        except TimeoutError:
            pass


async def _serve(service: SampleService, host: str, port: int, parent_pid: int | None) -> None:
    runner = web.AppRunner(service.app(), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    watcher: asyncio.Task[None] | None = None
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"sample-app {service.version} listening on http://{host}:{bound}", file=sys.stderr)
        sys.stderr.flush()
        if parent_pid is not None:
            watcher = asyncio.create_task(_watch_parent(parent_pid, stop))
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        await runner.cleanup()


def serve(
    *,
    port: int,
    version: str,
    behaviour: Behaviour,
    faults: tuple[Fault, ...] = (),
    time_scale: float = 1.0,
    seed: int | None = None,
    host: str = "127.0.0.1",
    parent_pid: int | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or until the parent ``parent_pid`` is gone); blocking."""
    service = SampleService(version, behaviour, faults, time_scale=time_scale, seed=seed)
    asyncio.run(_serve(service, host, port, parent_pid))


def _duration(text: str) -> float:
    from launchdeck.plan.units import parse_duration

    try:  # a bare number is seconds, as in a plan
        return parse_duration(float(text) if text.replace(".", "", 1).isdigit() else text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m launchdeck.local.sample_app",
        description="launchdeck's sample service: one version, configurable errors and latency.",
    )
    parser.add_argument("--port", type=int, required=True, help="TCP port (0: any free port)")
    parser.add_argument("--version", required=True, help="version name, e.g. stable or canary")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--error-rate", type=float, default=0.0, metavar="R")
    parser.add_argument("--latency-median", type=float, default=40.0, metavar="MS")
    parser.add_argument("--latency-p95", type=float, default=120.0, metavar="MS")
    parser.add_argument("--faults", default="[]", metavar="JSON", help="see faults_to_json")
    parser.add_argument("--warmup", type=_duration, default=0.0, metavar="DURATION",
                        help="plan time a fresh process takes to warm up (e.g. 3m): 50%% slower at first")
    parser.add_argument("--time-scale", type=float, default=1.0, metavar="N")
    parser.add_argument("--seed", type=int, default=None, metavar="S")
    parser.add_argument("--parent-pid", type=int, metavar="PID", help="exit once PID is gone")
    args = parser.parse_args(argv)
    try:
        behaviour = Behaviour(args.error_rate, args.latency_median, args.latency_p95, args.warmup)
        faults = faults_from_json(args.faults)
        service = SampleService(
            args.version, behaviour, faults, time_scale=args.time_scale, seed=args.seed
        )
    except TargetError as e:
        parser.error(str(e))
    try:
        asyncio.run(_serve(service, args.host, args.port, args.parent_pid))
    except OSError as e:
        where = f"{args.host}:{args.port}"
        print(f"sample-app {args.version}: cannot listen on {where}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
