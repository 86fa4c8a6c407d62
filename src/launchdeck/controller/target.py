"""Builds the run's target from the plan: the embedded local fleet (sample apps, router, load), or a
real router (HAProxy, nginx, flagd, Gateway API, Istio, commands) with Prometheus through the factories.
A command router with the local metrics source is a rehearsal on the fleet: its commands drive the
embedded router through its admin API, whose address they find in ``$LAUNCHDECK_LOCAL_ROUTER``."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from launchdeck.adapters.metrics import MetricsSource
from launchdeck.adapters.metrics import factory as metrics
from launchdeck.adapters.metrics.local import AppEvents, LocalMetrics
from launchdeck.adapters.routers import Router
from launchdeck.adapters.routers import factory as routers
from launchdeck.controller.messages import secret_values
from launchdeck.core.observation import WindowStats
from launchdeck.errors import TargetError
from launchdeck.local.fleet import Fleet
from launchdeck.local.loadgen import LoadGenerator
from launchdeck.local.recorder import Recorder
from launchdeck.local.router import LocalRouter
from launchdeck.local.sample_app import Behaviour, Fault
from launchdeck.plan import model

LoadSpecLike = model.LoadSpec
#: Where a command router rehearsed on the local fleet finds the embedded router's admin API.
LOCAL_ROUTER_ENV = "LAUNCHDECK_LOCAL_ROUTER"


@dataclass
class Target:
    router: Router
    metrics: MetricsSource
    recorder: Recorder | None
    first_fault_from: float | None
    """Plan seconds (from the canary's start) at which the first configured fault begins."""
    fleet: Fleet | None = None
    load: LoadSpecLike | None = None

    async def soak_traffic(self, stack: AsyncExitStack, seed: int | None = None) -> MetricsSource:
        """Synthetic traffic to the new version alone (users stay on stable): a soak's metrics source."""
        if self.fleet is None or self.load is None:
            raise TargetError("a soak needs the local target in this version",
                              hint="use router: {type: local} or {type: flag} for plans with a soak")
        recorder = Recorder(resolution_s=0.1)
        canary = self.fleet.url("canary")
        router = LocalRouter(canary, canary, recorder, seed=seed)
        await stack.enter_async_context(router)
        await router.set_weight(100.0)
        await stack.enter_async_context(LoadGenerator(router.url, rps=self.load.rps, users=self.load.users, seed=seed))
        return LocalMetrics(recorder)

    observed: dict[str, list[int]] = field(default_factory=dict)
    """Requests and errors per version summed over the slices judged (real targets have no recorder)."""

    def totals(self, version: str) -> tuple[int, int]:
        if self.recorder:
            return self.recorder.totals(version)
        requests, errors = self.observed.get(version, [0, 0])
        return requests, errors

    def count(self, stats: WindowStats) -> None:
        seen = self.observed.setdefault(stats.version, [0, 0])
        seen[0] += stats.requests
        seen[1] += stats.errors


class TargetOpener(Protocol):
    async def __call__(self, spec: model.ReleaseSpec, metadata: model.Metadata, *, stack: AsyncExitStack,
                       time_scale: float, plan_offset: float, seed: int | None = None,
                       workdir: Path = Path(".")) -> Target: ...


async def open_target(spec: model.ReleaseSpec, metadata: model.Metadata, *, stack: AsyncExitStack,
                      time_scale: float, plan_offset: float, seed: int | None = None,
                      workdir: Path = Path(".")) -> Target:
    """The target; ``workdir`` is the plan file's folder, where a real router's relative paths point."""
    router_type = spec.target.router.type
    if not spec.target.on_embedded_fleet():
        # A real target: launchdeck moves its traffic and reads its numbers; the users make the load.
        router = routers.build(spec.target.router, base=workdir, metadata=metadata, secrets=secret_values(spec),
                               same_age=spec.analysis.baseline == "same-age")
        return Target(router, metrics.build(spec.target.metrics, metadata, events=event_names(spec)), None, None)
    stable, canary = spec.target.versions.stable, spec.target.versions.canary
    # The stable fleet has been serving for hours: warm. The canary starts fresh, and so does a same-age
    # baseline, the stable version started with it (stable's behaviour, faults and warm-up).
    versions = {"stable": (_behaviour(stable, warm=True), _faults(stable, plan_offset)),
                "canary": (_behaviour(canary), _faults(canary, plan_offset))}
    same_age = spec.analysis.baseline == "same-age"
    if same_age:
        versions["baseline"] = (_behaviour(stable), _faults(stable, plan_offset))
    fleet = await stack.enter_async_context(Fleet(versions, time_scale=time_scale, seed=seed))
    recorder = Recorder(resolution_s=0.1)
    flag = spec.target.router.flag or (spec.kill_switch.flag if spec.kill_switch else "launchdeck")
    rehearsal = router_type == "command"  # the plan's commands drive the embedded router through its admin API
    embedded = LocalRouter(fleet.url("stable"), fleet.url("canary"), recorder, by_user=router_type == "flag",
                           flag=flag, seed=seed, admin=rehearsal,
                           baseline_url=fleet.url("baseline") if same_age else None,
                           retire=lambda: fleet.stop_version("baseline"))
    await stack.enter_async_context(embedded)
    load = LoadGenerator(embedded.url, rps=spec.target.load.rps, users=spec.target.load.users, seed=seed)
    await stack.enter_async_context(load)
    router: Router = embedded
    if rehearsal:
        router = routers.build(spec.target.router, base=workdir, metadata=metadata, secrets=secret_values(spec),
                               env={LOCAL_ROUTER_ENV: embedded.admin_url})
    faults = spec.target.versions.canary.faults
    first = min((f.from_ for f in faults), default=None)
    app_events = AppEvents({name: fleet.url(name) for name in ("stable", "canary")})
    versions = spec.target.versions
    costs = {name: v.cost_per_request for name, v in (("stable", versions.stable), ("canary", versions.canary),
                                                      ("baseline", versions.stable))
             if v.cost_per_request is not None}
    source = LocalMetrics(recorder, app_events=app_events, events=event_names(spec), costs=costs)
    return Target(router, source, recorder, first, fleet, spec.target.load)


def event_names(spec: model.ReleaseSpec) -> list[str]:
    """The events the plan's event gates count."""
    return [g.event for g in spec.gates if g.event is not None]


def _behaviour(v: model.VersionSpec, *, warm: bool = False) -> Behaviour:
    return Behaviour(error_rate=v.error_rate, latency_median_ms=v.latency.median, latency_p95_ms=v.latency.p95,
                     warmup_s=0.0 if warm else v.warmup)


def _faults(v: model.VersionSpec, plan_offset: float) -> tuple[Fault, ...]:
    # A resumed run starts a new canary process whose fault clock restarts at zero: shift the
    # schedule by the plan time already elapsed so faults keep their place in the release.
    out = []
    for f in v.faults:
        end = None if f.to is None else f.to - plan_offset
        if end is not None and end <= 0:
            continue
        out.append(Fault(start_s=max(0.0, f.from_ - plan_offset), end_s=end, error_rate=f.error_rate,
                         latency_median_ms=f.latency.median if f.latency else None,
                         latency_p95_ms=f.latency.p95 if f.latency else None, events=tuple(f.events.items())))
    return tuple(out)


def wall_now() -> float:
    return time.time()


def thin_windows(spec: model.ReleaseSpec, time_scale: float) -> list[str]:
    """Stages whose windows the embedded load cannot fill at this time scale (they will be inconclusive).

    The local load generator's rate is per wall second, so compressing plan time shrinks every window.
    """
    if not spec.target.on_embedded_fleet():
        return []
    window_wall = spec.analysis.window / time_scale
    out = []
    for i, stage in enumerate(spec.stages, 1):
        expected = spec.target.load.rps * stage.weight / 100.0 * window_wall
        if expected < spec.analysis.min_requests:
            out.append(f"stage {i} at {stage.weight:g}%: about {expected:.0f} canary requests per window at "
                       f"--time-scale {time_scale:g}, below minRequests {spec.analysis.min_requests}; expect "
                       f"inconclusive windows (lower the time scale, or raise load.rps or analysis.window)")
    return out
