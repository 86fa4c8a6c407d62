"""What a same-age baseline (``analysis.baseline: same-age``) asks of the rest of the plan.

With ``same-age`` a third version runs beside stable and canary: the stable version, started fresh
with the canary and given the canary's weight out of the stable version's share (Kayenta's
baseline). Gates ``vs: baseline`` compare the canary with it, so cold caches, JIT and connection
pools weigh on both sides alike; ``vs: stable`` still compares with the warm fleet. That needs:

* room for it: a stage below 100% gives the canary at most 50%, since canary and baseline together
  cannot serve more than everything (at 50% the stable fleet serves nothing; at 100% both the
  stable fleet and the baseline serve nothing, and gates compare with their counts frozen at
  cut-over);
* a router that can send traffic three ways: a real router names the baseline's server
  (``servers.baseline``); the command router, whose commands set one weight, cannot;
* metrics that tell the baseline from the stable fleet: Prometheus needs the baseline's own
  ``version`` label (``metrics.labels.baseline``), since it runs the stable version's code.

``problems`` are refusals with a fix, in the form of ``rules.py``; ``notes`` are warnings for a
plan that is valid but pays for a baseline it does not use, or waits out a warm-up it no longer
needs.
"""

from __future__ import annotations

from collections.abc import Iterator

from launchdeck.plan import units
from launchdeck.plan.model import Metadata, ReleaseSpec

Problem = tuple[tuple[str | int, ...], str, str]
#: The largest weight a stage below 100% may give the canary with a same-age baseline.
MAX_SHARED_WEIGHT = 50.0
#: Routers that name their servers in the plan (the baseline needs its own).
_SERVER_ROUTERS = {
    "haproxy": "the HAProxy server running the baseline, e.g. v1-baseline",
    "nginx": "the baseline's address, e.g. 127.0.0.1:8083",
    "gateway-api": "the baseline's backend Service, e.g. api-baseline",
    "istio": "the baseline's host, e.g. api-baseline",
}


def same_age(spec: ReleaseSpec) -> bool:
    return spec.analysis.baseline == "same-age"


def problems(spec: ReleaseSpec, base: tuple[str | int, ...] = ("spec",),
             metadata: Metadata | None = None) -> Iterator[Problem]:
    if not same_age(spec):
        return
    why = "with analysis.baseline: same-age"
    for i, stage in enumerate(spec.stages):
        if MAX_SHARED_WEIGHT < stage.weight < 100:
            yield (base + ("stages", i, "weight"),
                   f"stage {i + 1} gives the canary {stage.weight:g}% {why}, which also gives the baseline "
                   f"{stage.weight:g}%: together more than all the traffic",
                   f"use at most {MAX_SHARED_WEIGHT:g}% before 100%, or analysis.baseline: stable")
    router = spec.target.router
    servers = router.servers or {}
    if router.type == "command":
        yield (base + ("target", "router", "type"), f"the command router cannot route three ways {why}: its "
               "commands set one weight, the canary's, and the baseline needs a share of its own",
               "use a router that routes three ways (local, haproxy, nginx, flag, gateway-api, istio), "
               "or analysis.baseline: stable")
    if router.type in _SERVER_ROUTERS:
        at = base + ("target", "router", "servers")
        if "baseline" not in servers:
            yield (at, f"a {router.type} router needs a third server for the baseline {why}",
                   f"add servers.baseline: {_SERVER_ROUTERS[router.type]} (the stable version, started "
                   "fresh with the canary)")
        elif servers["baseline"] in (servers.get("stable"), servers.get("canary")):
            yield (at + ("baseline",), f"servers.baseline is the same server as another version "
                   f"({servers['baseline']!r})",
                   "run the baseline as its own server: a fresh copy of the stable version, not the warm fleet")
    metrics = spec.target.metrics
    if metrics.type == "prometheus":
        # The labels of the other two default to the release's versions (adapters/metrics/factory.py).
        labels = {**({"stable": metadata.previous_version or "stable", "canary": metadata.version}
                     if metadata else {}), **metrics.labels}
        if "baseline" not in labels:
            yield (base + ("target", "metrics"), f"Prometheus cannot tell the baseline from the stable fleet {why}: "
                   "both run the stable version",
                   "add labels.baseline: the version label the baseline's metrics carry, e.g. v1-baseline")
        elif labels["baseline"] in (labels.get("stable"), labels.get("canary")):
            yield (base + ("target", "metrics", "labels", "baseline"),
                   f"labels.baseline {labels['baseline']!r} is another version's label",
                   "give the baseline's metrics a label of their own, e.g. v1-baseline")


def notes(spec: ReleaseSpec) -> list[str]:
    """Warnings for a valid plan: a baseline no gate compares with, a warm-up it makes unnecessary."""
    if not same_age(spec):
        return []
    out = []
    if not any(g.vs == "baseline" for g in spec.gates):
        out.append("analysis.baseline: same-age starts a baseline at the canary's weight, but no gate compares "
                   "with it; give gates `vs: baseline`, or use analysis.baseline: stable and spare the capacity")
    if spec.analysis.warmup > 0 and any(g.vs == "baseline" and g.metric.startswith("latency") for g in spec.gates):
        out.append(f"analysis.warmup keeps latency gates unjudged for {units.format_duration(spec.analysis.warmup)}, "
                   "but the same-age baseline warms up like the canary; with warmup: 0 a latency regression is "
                   "caught that much sooner")
    return out
