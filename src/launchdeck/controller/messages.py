"""From decisions to messages: routes pick channels, templates give words, the outbox delivers.

Messages are rendered when the decision is made and stored with it (the outbox); delivery happens
after the commit (``controller.outbox``) and a refused message is retried, with backoff, until the
channel takes it, so a dead channel delays a message but never drops it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from launchdeck.adapters.notify import Notifier
from launchdeck.adapters.notify.factory import make_channel
from launchdeck.comms import render
from launchdeck.core.engine import Decision
from launchdeck.plan import model
from launchdeck.store.repo import NewMessage


def secret_values(spec: model.ReleaseSpec) -> list[str]:
    """The values behind every ``env:`` reference in the plan and every variable a command hook lists in
    ``secretEnv``, to be redacted wherever text leaves (messages, command output, evidence)."""
    refs = []
    for channel in spec.notifications.channels.values():
        for value in (channel.webhook, channel.secret, channel.routing_key, channel.url, channel.token,
                      channel.username, channel.password):
            if value and value.startswith("env:"):
                refs.append(os.environ.get(value[4:], ""))
    names = list(spec.target.router.commands.secret_env) if spec.target.router.commands else []
    names += [name for step in spec.rollback.steps if not isinstance(step, str) for name in step.secret_env]
    refs += [os.environ.get(name, "") for name in names]
    return [r for r in refs if r]


class Dispatcher:
    def __init__(self, spec: model.ReleaseSpec, *, workdir: Path, release: str = "",
                 console_stream: Any = None, threads: Any = None) -> None:
        self.spec = spec
        self.release = release
        self.renderer = render.renderer_for(spec.notifications.locale)
        self.secrets = secret_values(spec)
        self.channels: dict[str, Notifier] = {
            name: make_channel(name, ch, workdir=workdir, console_stream=console_stream, threads=threads)
            for name, ch in spec.notifications.channels.items()}

    def compose(self, decisions: list[Decision], context: Mapping[str, Any]) -> list[NewMessage]:
        """Render every message the decisions call for, per the plan's routes."""
        out: list[NewMessage] = []
        for d in decisions:
            if not d.event:
                continue
            ctx = render.make_context(**{**context, "event": d.event, "reason": d.reason, **_extra(d)})
            sent: set[str] = set()
            # A decision may name its own channels (an escalation step's `via`); routes add theirs.
            targets = [(None, c, False) for c in d.inputs.get("channels", [])]
            targets += [(self.template(d, r), c, r.broadcast) for r in self.spec.notifications.routes
                        if d.event in r.on for c in r.to]
            for template, channel, broadcast in targets:
                if channel in sent:
                    continue
                sent.add(channel)
                text = render.redact(self.renderer.render(d.event, ctx, template=template), self.secrets)
                out.append(NewMessage(channel, d.event, text.split("\n", 1)[0], text, self.renderer.locale,
                                      broadcast=broadcast))
        return out

    def template(self, d: Decision, route: model.RouteSpec) -> str | None:
        """The template a route renders ``d`` with: its own ``template:``; the status page's public wording;
        for an incident, the notice of its level (``incident-p0``, ``incident-p1``) when there is one."""
        if route.template:
            return route.template
        if route.audience == "status-page":
            return f"status-page.{d.event}"
        level = str(d.inputs.get("level", "")).lower()
        if d.event == "incident.opened" and f"incident-{level}" in self.renderer.templates():
            return f"incident-{level}"
        return None


def _extra(d: Decision) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    # A decision's own stage and weight win over the state after the tick (stage.passed then stage.started).
    for key in ("stage", "weight"):
        if key in d.inputs:
            extra[key] = d.inputs[key]
    if "roles" in d.inputs:
        extra["roles"] = list(d.inputs["roles"])
    if "default" in d.inputs:
        extra["default"] = d.inputs["default"]
    if "who" in d.inputs:
        extra["who"], extra["role"] = d.inputs["who"], d.inputs.get("role")
    # How long the stage holds (stage.started) or held (stage.passed), for templates to say in words.
    if "hold" in d.inputs or "held" in d.inputs:
        extra["hold"] = d.inputs.get("held", d.inputs.get("hold"))
    if d.event == "rollback.started" and d.gate in ("kill-switch", "smoke", "held"):
        extra["cause"] = d.gate
    return extra


def iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(ts if ts is not None else datetime.now(UTC).timestamp(), UTC).isoformat(
        timespec="milliseconds")
