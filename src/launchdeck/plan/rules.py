"""Rules that need the whole plan: names that must exist elsewhere, units that depend on metrics.

Each rule yields ``(path, message, fix)``; the loader locates the path in the file. Every rule
runs, so a plan with several mistakes gets all of them in one answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from launchdeck.core.metrics import STANDARD_METRICS
from launchdeck.plan import baseline, units
from launchdeck.plan.hooks_model import ROUTER_PLACEHOLDERS, STEP_PLACEHOLDERS
from launchdeck.plan.model import ChannelSpec, GateSpec, Metadata, ReleaseSpec

Problem = tuple[tuple[str | int, ...], str, str]
_SECRET_FIELDS = ("webhook", "secret", "routing_key", "token", "password")
_JUDGED = ("error_rate", "availability", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms")


def _defined_metrics(spec: ReleaseSpec) -> list[str]:
    """The metrics gates and criteria may name: the standard ones and the plan's own queries."""
    costed = spec.target.versions.stable.cost_per_request is not None and \
        spec.target.versions.canary.cost_per_request is not None
    # error_budget_remaining comes from the tenant's policy (errorBudgets, checked when the release starts);
    # cost_per_request from the versions' costs on the local target, or the plan's own query.
    return (list(STANDARD_METRICS) + ["error_budget_remaining"] + (["cost_per_request"] if costed else [])
            + list(spec.target.metrics.queries))


def _undefined_metric(at: tuple[str | int, ...], metric: str, metrics: list[str]) -> Problem:
    """The problem of a gate or criterion naming a metric the plan does not define."""
    return (at + ("metric",), f"metric '{metric}' is not defined",
            _suggest(metric, metrics) + "; or define it under target.metrics.queries")


def _suggest(word: str, choices: list[str]) -> str:
    import difflib  # only a plan with a problem needs it; a valid plan's check starts without it

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
    yield from _supply_chain(spec, base)
    yield from _hooks(spec, base)
    yield from _load_tests(spec, base)
    yield from baseline.problems(spec, base, metadata)


def _gates(spec: ReleaseSpec, base: tuple[str | int, ...]) -> Iterator[Problem]:
    names: set[str] = set()
    for i, gate in enumerate(spec.gates):
        at = base + ("gates", i)
        if gate.name in names:
            yield at + ("name",), f"gate name '{gate.name}' is used twice", "give each gate its own name"
        names.add(gate.name)
        if gate.event is None and gate.source == "loadtest":
            yield from _load_test_gate(gate, at)
        elif gate.event is None:  # an event gate has no metric, unit or judge to check: any occurrence fires it
            yield from _metric_gate(spec, gate, at)
        policy = spec.rollback.policy
        if gate.severity == "urgent" and policy.urgent is None:
            yield (at + ("severity",), "an urgent gate needs rollback.policy.urgent (window, authority, default)",
                   "add rollback.policy.urgent, or make the gate immediate")
        if gate.severity == "conditional" and policy.conditional is None:
            yield (at + ("severity",), "a conditional gate needs rollback.policy.conditional (window, authority, default)",
                   "add rollback.policy.conditional, or make the gate immediate")


def _metric_gate(spec: ReleaseSpec, gate: GateSpec, at: tuple[str | int, ...]) -> Iterator[Problem]:
    assert gate.metric is not None and gate.threshold is not None
    metrics = _defined_metrics(spec)
    if gate.metric not in metrics:
        yield _undefined_metric(at, gate.metric, metrics)
        return
    try:
        threshold = units.parse_threshold(gate.threshold, gate.metric)
    except ValueError as e:
        yield at + ("threshold",), str(e), "write e.g. 2% for rates, 350ms for latency, +20% with vs: baseline"
        return
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
        if route.audience == "status-page" and not route.template:
            public = sorted(t.removeprefix("status-page.") for t in templates if t.startswith("status-page."))
            for j, event in enumerate(route.on):
                if f"status-page.{event}" not in templates:
                    yield (base + ("notifications", "routes", i, "on", j),
                           f"the status page has no wording for {event}",
                           f"route only {', '.join(public)} to the status page, or name a template: for it")
    for name, channel in notes.channels.items():
        at = base + ("notifications", "channels", name)
        for field in _SECRET_FIELDS:
            value = getattr(channel, field)
            if value is not None and not value.startswith("env:"):
                yield (at + (units_camel(field),), f"{field} holds a secret written into the plan",
                       "write env:NAME and export NAME, so the secret stays out of files and logs")
        needs = _CHANNEL_NEEDS.get(channel.type)
        if needs and not getattr(channel, needs[0]) and not (channel.type == "slack" and channel.token):
            article = "an" if channel.type[0] in "aeiou" else "a"
            yield at, f"{article} {channel.type} channel needs `{units_camel(needs[0])}`", needs[1]
        yield from _channel_extras(channel, at)
    if spec.escalation:
        for level, steps in spec.escalation.levels.items():
            for j, step in enumerate(steps):
                for k, via in enumerate(step.via):
                    if via not in notes.channels:
                        yield (base + ("escalation", "levels", level, j, "via", k),
                               f"channel '{via}' is not defined", _suggest(via, channels))


def _channel_extras(channel: ChannelSpec, at: tuple[str | int, ...]) -> Iterator[Problem]:
    """What a slack bot channel and an email channel need besides their main field."""
    if channel.type == "slack" and channel.token and not channel.channel:
        yield at, "a slack channel with a bot token needs `channel`", "add channel: C0123456789 (the channel's id)"
    if channel.type == "slack" and channel.token and channel.webhook:
        yield at, "a slack channel takes a webhook or a bot token, not both", "keep token: for threads, or webhook:"
    if channel.type == "email":
        if not channel.from_:
            yield at + ("from",), "an email channel needs `from`", "add from: launchdeck@example.com"
        if not channel.to:
            yield at + ("to",), "an email channel needs `to`", "add to: [release-team@example.com]"
        if bool(channel.username) != bool(channel.password):
            yield at, "an email channel logs in with both `username` and `password`", \
                "give both (env:SMTP_USER, env:SMTP_PASSWORD), or neither"


_CHANNEL_NEEDS = {
    "file": ("path", "add path: out/messages.jsonl"),
    "slack": ("webhook", "add webhook: env:SLACK_WEBHOOK_URL (the incoming webhook's URL, exported as SLACK_WEBHOOK_URL)"),
    "webhook": ("url", "add url: https://hooks.example.com/launchdeck (and secret: env:NAME to sign each request)"),
    "pagerduty": ("routing_key", "add routingKey: env:PD_ROUTING_KEY (an Events API v2 integration key)"),
    "teams": ("webhook", "add webhook: env:TEAMS_WEBHOOK_URL (the Teams incoming webhook's URL)"),
    "email": ("smtp", "add smtp: smtp.example.com:587 (with from, to, and username/password as env:NAME)"),
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
    embedded = spec.target.on_embedded_fleet()
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


def _supply_chain(spec: ReleaseSpec, base: tuple[str | int, ...]) -> Iterator[Problem]:
    """Checks made against the artefact need one; provenance is read from the signed attestation."""
    chain = spec.preflight.supply_chain
    if chain is None:
        return
    at = base + ("preflight", "supplyChain")
    needing = [name for name, part in (("signature", chain.signature), ("sbom", chain.sbom),
                                       ("vulnerabilities", chain.vulnerabilities)) if part is not None]
    if needing and chain.artifact is None:
        yield (at, f"{', '.join(needing)} {'is' if len(needing) == 1 else 'are'} checked against the artefact, and "
               "there is none", "add artifact: {digest: sha256:<64 hex>} (an image) or artifact: {file: PATH}")
    if chain.provenance is not None and (chain.signature is None or chain.signature.attestation is None):
        yield (at + ("provenance",), "provenance is read from a signed SLSA attestation, and there is none",
               "add signature.attestation: {envelope: PATH, keys: [PUBLIC KEY]}")


_PLACEHOLDER = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")


def _hooks(spec: ReleaseSpec, base: tuple[str | int, ...]) -> Iterator[Problem]:
    """The command router's commands and the rollback's run steps: known placeholders, a parse pattern
    that compiles, step names that are unique and not a built-in step's."""
    router = spec.target.router
    at = base + ("target", "router")
    if router.type == "command" and router.commands is None:
        yield (at, "a command router needs `commands` (at least `set` and `read`)",
               "add commands: {set: \"kubectl … {{weight}}\", read: \"kubectl get …\"}")
    if router.type != "command" and router.commands is not None:
        yield at + ("commands",), f"`commands` belongs to a command router, not {router.type}", "use type: command"
    if router.commands is not None:
        c = router.commands
        for field in ("set", "read", "kill", "drain"):
            yield from _placeholders(at + ("commands", field), getattr(c, field), ROUTER_PLACEHOLDERS)
        if c.parse is not None:
            try:
                groups = re.compile(c.parse).groups
            except re.error as e:
                yield at + ("commands", "parse"), f"the pattern does not compile: {e}", "write a Python regular expression"
            else:
                if groups > 1:
                    yield (at + ("commands", "parse"), f"the pattern has {groups} groups",
                           "capture the weight in one group, e.g. 'canary=(\\d+)'")
    names = {"kill-switch", "traffic-to-stable", "drain-canary", "verify", "announce"}
    for i, step in enumerate(spec.rollback.steps):
        if isinstance(step, str):
            continue
        where = base + ("rollback", "steps", i)
        if step.name in names:
            yield (where + ("name",), f"step name '{step.name}' is used twice (or is a built-in step's)",
                   "give each run step its own name: it is how a finished step is recorded")
        names.add(step.name)
        yield from _placeholders(where + ("run",), step.run, STEP_PLACEHOLDERS)
        yield from _placeholders(where + ("verify",), step.verify, STEP_PLACEHOLDERS)


def _placeholders(at: tuple[str | int, ...], command: str | None, known: tuple[str, ...]) -> Iterator[Problem]:
    for name in _PLACEHOLDER.findall(command or ""):
        if name not in known:
            yield (at, f"unknown placeholder {{{{{name}}}}}",
                   "use " + ", ".join(f"{{{{{k}}}}}" for k in known))


#: What a load test measures, and so what a `source: loadtest` gate may judge.
LOAD_TEST_METRICS = ("error_rate", "availability", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
                     "throughput_rps", "requests")


def _load_test_gate(gate: GateSpec, at: tuple[str | int, ...]) -> Iterator[Problem]:
    assert gate.metric is not None and gate.threshold is not None
    if gate.metric not in LOAD_TEST_METRICS:
        yield (at + ("metric",), f"a load test does not measure '{gate.metric}'",
               _suggest(gate.metric, list(LOAD_TEST_METRICS)))
        return
    try:
        threshold = units.parse_threshold(gate.threshold, gate.metric)
    except ValueError as e:
        yield at + ("threshold",), str(e), "write e.g. 1% for rates, 300ms for latency"
        return
    if threshold.relative or gate.vs is not None:
        yield (at + ("threshold",), "a load-test gate has no baseline to be relative to",
               "write an absolute limit like 300ms, and drop `vs`")
    if gate.test not in (None, "threshold"):
        yield at + ("test",), f"a load-test gate is judged by threshold, not {gate.test}", "drop `test`"


def _load_tests(spec: ReleaseSpec, base: tuple[str | int, ...]) -> Iterator[Problem]:
    """Load-test gates need a stage that runs one; a load test off the local fleet needs a host."""
    tested = [i for i, stage in enumerate(spec.stages) if stage.load_test is not None]
    for i, gate in enumerate(spec.gates):
        if gate.source == "loadtest" and not tested:
            yield (base + ("gates", i, "source"), "no stage runs a load test, so this gate would never be judged",
                   "add loadTest: {locust: locustfile.py} to a stage")
    if not spec.target.on_embedded_fleet():
        for i in tested:
            load = spec.stages[i].load_test
            if load is not None and load.locust is not None and load.host is None:
                yield (base + ("stages", i, "loadTest"), "a Locust load test of a real target needs its `host`",
                       "add host: https://canary.example.com (the URL the load is sent to)")
