"""Rules that need the whole plan: names that must exist elsewhere, units that depend on metrics.

Each rule yields ``(path, message, fix)``; the loader locates the path in the file. Every rule
runs, so a plan with several mistakes gets all of them in one answer.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from launchdeck.core.observation import STANDARD_METRICS
from launchdeck.plan import baseline, units
from launchdeck.plan.model import Metadata, ReleaseSpec

Problem = tuple[tuple[str | int, ...], str, str]
_SECRET_FIELDS = ("webhook", "secret", "routing_key")
_JUDGED = ("error_rate", "availability", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms")


def _defined_metrics(spec: ReleaseSpec) -> list[str]:
    """The metrics gates and criteria may name: the standard ones and the plan's own queries."""
    return list(STANDARD_METRICS) + list(spec.target.metrics.queries)


def _undefined_metric(at: tuple[str | int, ...], metric: str, metrics: list[str]) -> Problem:
    """The problem of a gate or criterion naming a metric the plan does not define."""
    return (at + ("metric",), f"metric '{metric}' is not defined",
            _suggest(metric, metrics) + "; or define it under target.metrics.queries")


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    known = ", ".join(sorted(choices)) or "none defined"
    return f"did you mean '{close[0]}'? (defined: {known})" if close else f"use one of: {known}"


def check_release(spec: ReleaseSpec, base: tuple[str | int, ...] = ("spec",),
                  metadata: Metadata | None = None) -> Iterator[Problem]:
    yield from _gates(spec, base)
    yield from _stages(spec, base)
    yield from _people(spec, base)
    yield from _notifications(spec, base)
    yield from _target(spec, base)
    yield from _criteria(spec, base)
    yield from baseline.problems(spec, base, metadata)


def _gates(spec: ReleaseSpec, base: tuple[str | int, ...]) -> Iterator[Problem]:
    metrics = _defined_metrics(spec)
    names: set[str] = set()
    for i, gate in enumerate(spec.gates):
        at = base + ("gates", i)
        if gate.name in names:
            yield at + ("name",), f"gate name '{gate.name}' is used twice", "give each gate its own name"
        names.add(gate.name)
        if gate.metric not in metrics:
            yield _undefined_metric(at, gate.metric, metrics)
            continue
        try:
            threshold = units.parse_threshold(gate.threshold, gate.metric)
        except ValueError as e:
            yield at + ("threshold",), str(e), "write e.g. 2% for rates, 350ms for latency, +20% with vs: baseline"
            continue
        if threshold.relative and gate.vs is None:
            yield (at + ("threshold",), f"'{gate.threshold}' is a relative change but the gate has no `vs`",
                   "add `vs: baseline`, or write an absolute threshold like 2%")
        if gate.vs is not None and not threshold.relative:
            yield (at + ("threshold",), f"with `vs: {gate.vs}` the threshold must be a relative change, not '{gate.threshold}'",
                   "write a change like +20% or -10%, or drop `vs`")
        if gate.test in ("sequential", "mann-whitney") and gate.metric not in _JUDGED:
            yield (at + ("test",), f"`test: {gate.test}` judges error rates, availability and latency "
                   f"quantiles, not {gate.metric}", "drop `test` to use the threshold judge")
        if gate.test in ("sequential", "mann-whitney") and gate.metric.startswith("latency") and not threshold.relative:
            yield (at + ("test",), f"`test: {gate.test}` on latency compares with the baseline",
                   "write a relative threshold like +20% with vs: baseline, or drop `test`")
        policy = spec.rollback.policy
        if gate.severity == "urgent" and policy.urgent is None:
            yield (at + ("severity",), "an urgent gate needs rollback.policy.urgent (window, authority, default)",
                   "add rollback.policy.urgent, or make the gate immediate")
        if gate.severity == "conditional" and policy.conditional is None:
            yield (at + ("severity",), "a conditional gate needs rollback.policy.conditional (window, authority, default)",
                   "add rollback.policy.conditional, or make the gate immediate")


def _stages(spec: ReleaseSpec, base: tuple[str | int, ...]) -> Iterator[Problem]:
    previous = 0.0
    for i, stage in enumerate(spec.stages):
        if stage.weight <= previous:
            yield (base + ("stages", i, "weight"),
                   f"stage {i + 1} weight {stage.weight:g}% does not grow from {previous:g}%",
                   "give each stage a larger weight than the one before")
        previous = stage.weight
    if spec.analysis.window < spec.analysis.interval:
        yield (base + ("analysis", "window"), "the window is shorter than the interval, so some traffic is never judged",
               "make window at least as long as interval")


def _people(spec: ReleaseSpec, base: tuple[str | int, ...]) -> Iterator[Problem]:
    roles = list(spec.roles)
    places: list[tuple[tuple[str | int, ...], list[str]]] = []
    places += [(base + ("stages", i, "approve"), s.approve) for i, s in enumerate(spec.stages)]
    places += [(base + ("checklists", i, "signoff"), c.signoff) for i, c in enumerate(spec.checklists)]
    for severity in ("urgent", "conditional"):
        decision = getattr(spec.rollback.policy, severity)
        if decision is not None:
            places.append((base + ("rollback", "policy", severity, "authority"), decision.authority))
    if spec.escalation:
        for level, steps in spec.escalation.levels.items():
            places += [(base + ("escalation", "levels", level, j, "notify"), [s.notify]) for j, s in enumerate(steps)]
    for path, named in places:
        for j, role in enumerate(named):
            if role not in spec.roles:
                where = path if path[-1] == "notify" else path + (j,)
                yield where, f"role '{role}' is not defined under roles", _suggest(role, roles)


def _notifications(spec: ReleaseSpec, base: tuple[str | int, ...]) -> Iterator[Problem]:
    from launchdeck.comms import catalog  # templates live with the messages layer

    notes = spec.notifications
    channels = list(notes.channels)
    templates = catalog.available_templates(notes.locale)
    for i, route in enumerate(notes.routes):
        for j, name in enumerate(route.to):
            if name not in notes.channels:
                yield base + ("notifications", "routes", i, "to", j), f"channel '{name}' is not defined", _suggest(name, channels)
        if route.template and route.template not in templates:
            yield (base + ("notifications", "routes", i, "template"),
                   f"no template '{route.template}' for locale {notes.locale}", _suggest(route.template, templates))
    for name, channel in notes.channels.items():
        at = base + ("notifications", "channels", name)
        for field in _SECRET_FIELDS:
            value = getattr(channel, field)
            if value is not None and not value.startswith("env:"):
                yield (at + (units_camel(field),), f"{field} holds a secret written into the plan",
                       "write env:NAME and export NAME, so the secret stays out of files and logs")
        needs = _CHANNEL_NEEDS.get(channel.type)
        if needs and not getattr(channel, needs[0]):
            yield at, f"a {channel.type} channel needs `{units_camel(needs[0])}`", needs[1]
    if spec.escalation:
        for level, steps in spec.escalation.levels.items():
            for j, step in enumerate(steps):
                for k, via in enumerate(step.via):
                    if via not in notes.channels:
                        yield (base + ("escalation", "levels", level, j, "via", k),
                               f"channel '{via}' is not defined", _suggest(via, channels))


_CHANNEL_NEEDS = {
    "file": ("path", "add path: out/messages.jsonl"),
    "slack": ("webhook", "add webhook: env:SLACK_WEBHOOK_URL (the incoming webhook's URL, exported as SLACK_WEBHOOK_URL)"),
    "webhook": ("url", "add url: https://hooks.example.com/launchdeck (and secret: env:NAME to sign each request)"),
    "pagerduty": ("routing_key", "add routingKey: env:PD_ROUTING_KEY (an Events API v2 integration key)"),
}

_ROUTER_NEEDS = {
    "haproxy": (("socket", "the Runtime API socket, e.g. /run/haproxy/admin.sock"), ("backend", "the backend, e.g. api")),
    "nginx": (("config", "the main nginx.conf"), ("include", "the upstream include file nginx.conf includes"),
              ("upstream", "the upstream's name")),
    "gateway-api": (("route", "the HTTPRoute's name"),),
    "istio": (("route", "the VirtualService's name"),),
}


def _target(spec: ReleaseSpec, base: tuple[str | int, ...]) -> Iterator[Problem]:
    router, metrics = spec.target.router, spec.target.metrics
    at = base + ("target", "router")
    if router.type == "flag" and not router.flag and (router.path or not spec.kill_switch):
        # killSwitch.flag names only the embedded router's flag; a flagd file needs its own
        yield at, "a flag router needs the flag's name", "add flag: my-feature"
    for field, what in _ROUTER_NEEDS.get(router.type, ()):
        if not getattr(router, field):
            yield at, f"a {router.type} router needs `{field}`", f"add {field}: {what}"
    if router.type in _ROUTER_NEEDS and not {"stable", "canary"} <= set(router.servers or {}):
        yield at, f"a {router.type} router needs `servers` for stable and canary", "add servers: {stable: ..., canary: ...}"
    embedded = router.type == "local" or (router.type == "flag" and not router.path)
    if embedded and metrics.type != "local":
        yield (base + ("target", "metrics"), f"the embedded {router.type} router measures its own traffic",
               "use metrics: {type: local}, or a real router (haproxy, nginx, flag with path) with prometheus")
    if not embedded and metrics.type == "local":
        yield (base + ("target", "metrics"), f"a {router.type} router needs a metrics source that sees its traffic",
               "use metrics: {type: prometheus, url: ...}")
    if metrics.type == "prometheus" and not metrics.url:
        yield base + ("target", "metrics"), "a prometheus source needs `url`", "add url: http://127.0.0.1:9090"


def units_camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


def _criteria(spec: ReleaseSpec, base: tuple[str | int, ...]) -> Iterator[Problem]:
    """Soak and post-launch criteria are checked on one version's numbers: a known metric, an absolute limit."""
    metrics = _defined_metrics(spec)
    places = [(base + ("soak", "criteria", i), c) for i, c in enumerate(spec.soak.criteria if spec.soak else [])]
    for j, point in enumerate(spec.post_launch.checkpoints if spec.post_launch else []):
        places += [(base + ("postLaunch", "checkpoints", j, "criteria", i), c) for i, c in enumerate(point.criteria)]
    for at, criterion in places:
        if criterion.metric not in metrics:
            yield _undefined_metric(at, criterion.metric, metrics)
            continue
        try:
            threshold = units.parse_threshold(criterion.threshold, criterion.metric)
        except ValueError as e:
            yield at + ("threshold",), str(e), "write e.g. 0.5% for rates, 350ms for latency"
            continue
        if threshold.relative:
            yield (at + ("threshold",), f"'{criterion.threshold}' is a relative change, but a criterion has no baseline",
                   "write an absolute limit like 0.5% or 350ms")
