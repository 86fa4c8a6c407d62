"""Telling a tenant's people about its guard alerts: each alert raised (once, by its key) goes to the
policy's ``alerts.notify`` channels, and a paging one to ``alerts.page`` too, through the same channel
adapters plans use (Slack, webhook, PagerDuty, Teams, e-mail, file).

Delivery is best effort, once, when the alert is raised: a channel that fails is logged (and the alert
stays listed by `budget status` and `safety check`); there is no outbox for tenant alerts.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from launchdeck.errors import LaunchdeckError
from launchdeck.services.guardrails import TenantRails
from launchdeck.store import guard as stored

log = logging.getLogger("launchdeck.guard")


def deliver(rails: TenantRails | None, alerts: list[stored.Alert]) -> None:
    """Send each alert to its channels (at once, or as a task when an event loop runs here)."""
    if rails is None or not alerts or not (rails.spec.alerts.notify or rails.spec.alerts.page):
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_send(rails, alerts))
        return
    loop.create_task(_send(rails, alerts))


async def _send(rails: TenantRails, alerts: list[stored.Alert]) -> list[str]:
    from launchdeck.adapters.notify.factory import make_channel
    from launchdeck.comms.render import Message

    spec = rails.spec.alerts
    failed = []
    for alert in alerts:
        names = list(dict.fromkeys(spec.notify + (spec.page if alert.page else [])))
        for name in names:
            message = Message(event="escalation" if alert.page else "guard.alert", channel=name, locale="en",
                              text=alert.reason, title=f"[{rails.tenant}] {'PAGE ' if alert.page else ''}{alert.reason}"[:300],
                              release=f"guard/{rails.tenant}", key=f"{rails.tenant}:{alert.key}")
            try:
                await make_channel(name, spec.channels[name], workdir=Path.cwd()).send(message)
            except LaunchdeckError as e:
                failed.append(name)
                log.warning("tenant %s: alert to channel %s failed: %s", rails.tenant, name, e.message)
    return failed
