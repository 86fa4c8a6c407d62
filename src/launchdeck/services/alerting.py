"""Telling a tenant's people about its guard alerts: each alert raised (once, by its key) goes to the
policy's ``alerts.notify`` channels, and a paging one to ``alerts.page`` too, through the same channel
adapters plans use (Slack, webhook, PagerDuty, Teams, e-mail, file).

No alert is lost to a failing channel: its deliveries (one per channel) are stored with the alert
(``store.guard_delivery``) and tried when it is raised, then again by whatever checks the tenant's guard
next (a worker's guard watch, every second; `budget status`, `budget record`, `safety check`) once their
time has come: ``BACKOFF`` (2 s doubling to 5 min, jittered, ``core.backoff``), up to ``MAX_ATTEMPTS``
attempts, after which the delivery is given up and shown so. Each attempt is claimed first, so two workers
never send an alert twice; every attempt carries the idempotency key ``alert:<id>:<channel>``
(the webhook's ``Idempotency-Key``, PagerDuty's event id). The last error is kept redacted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from launchdeck.core.backoff import ChannelBackoff, Random
from launchdeck.errors import LaunchdeckError
from launchdeck.services.guardrails import TenantRails
from launchdeck.store import guard as stored
from launchdeck.store import guard_delivery
from launchdeck.store.repo import Store, now_utc
from launchdeck.tenants.policy import AlertsSpec

log = logging.getLogger("launchdeck.guard")
#: Waits between attempts at one alert's delivery to one channel.
BACKOFF = ChannelBackoff(base_s=2.0, cap_s=300.0)
#: Attempts before a delivery is given up (about 15 minutes of a dead channel with ``BACKOFF``).
MAX_ATTEMPTS = 10
#: How long a worker holds a delivery it is sending; a worker killed meanwhile leaves it to be sent after.
CLAIM_S = 60.0


@dataclass(frozen=True)
class DeliveryRound:
    """What one round did: the deliveries sent, those refused (with the redacted error), those given up."""

    sent: tuple[str, ...] = ()
    refused: dict[str, str] = field(default_factory=dict)
    gave_up: tuple[str, ...] = ()


def channels_of(rails: TenantRails | None, alert: stored.Alert) -> list[str]:
    """The channels an alert goes to: every notify channel, and the page channels for a paging one."""
    if rails is None:
        return []
    spec = rails.spec.alerts
    return list(dict.fromkeys(spec.notify + (spec.page if alert.page else [])))


def deliver(store: Store, rails: TenantRails | None) -> None:
    """Send the tenant's deliveries that are due (at once, or as a task when an event loop runs here)."""
    if rails is None or not guard_delivery.due(store, tenant=rails.tenant, now=now_utc()):
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(deliver_due(store, rails))
        return
    loop.create_task(deliver_due(store, rails))


async def deliver_due(store: Store, rails: TenantRails, *, now: datetime | None = None,
                      rng: Random | None = None) -> DeliveryRound:
    """One attempt at each of the tenant's due deliveries this worker can claim."""
    from launchdeck.adapters.notify.factory import make_channel
    from launchdeck.comms import render
    from launchdeck.comms.render import Message

    now = now or now_utc()
    rng = rng or random.Random()
    spec = rails.spec.alerts
    secrets = secret_values(spec)
    sent, refused, gave_up = [], {}, []
    for alert, d in guard_delivery.due(store, tenant=rails.tenant, now=now):
        if not guard_delivery.claim(store, d, until=now + timedelta(seconds=CLAIM_S)):
            continue  # another worker is sending it
        page = alert.page
        message = Message(event="escalation" if page else "guard.alert", channel=d.channel, locale="en",
                          text=alert.reason, title=f"[{rails.tenant}] {'PAGE ' if page else ''}{alert.reason}"[:300],
                          release=f"guard/{rails.tenant}", key=d.key)
        try:
            if d.channel not in spec.channels:
                raise LaunchdeckError(f"the tenant's policy has no channel {d.channel!r} (any more)")
            await make_channel(d.channel, spec.channels[d.channel], workdir=Path.cwd()).send(message)
        except LaunchdeckError as e:
            error = render.redact(e.message, secrets)
            retry = retry_at(d.attempts + 1, now, rng)
            guard_delivery.failed(store, d, error=error, at=now, retry_at=retry)
            refused[d.key] = error
            if retry is None:
                gave_up.append(d.key)
                log.error("tenant %s: alert to channel %s given up after %d attempts: %s", rails.tenant,
                          d.channel, d.attempts + 1, error)
            else:
                log.warning("tenant %s: alert to channel %s failed (attempt %d of %d, next in %.0fs): %s",
                            rails.tenant, d.channel, d.attempts + 1, MAX_ATTEMPTS, (retry - now).total_seconds(),
                            error)
            continue
        guard_delivery.delivered(store, d, at=now_utc())
        sent.append(d.key)
    return DeliveryRound(tuple(sent), refused, tuple(gave_up))


def retry_at(attempts: int, now: datetime, rng: Random) -> datetime | None:
    """When to try again after ``attempts`` failed attempts; None: give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + timedelta(seconds=BACKOFF.next_delay(attempts, rng))


def secret_values(spec: AlertsSpec) -> list[str]:
    """The values behind the channels' ``env:`` references, redacted from every error kept or shown."""
    refs = []
    for channel in spec.channels.values():
        for value in (channel.webhook, channel.secret, channel.routing_key, channel.url, channel.token,
                      channel.username, channel.password):
            if value and value.startswith("env:"):
                refs.append(os.environ.get(value[4:], ""))
    return [r for r in refs if r]


def alert_json(a: stored.Alert, deliveries: dict[int, tuple[guard_delivery.Delivery, ...]]) -> dict[str, object]:
    """An alert as the operator commands show it, with its delivery to each channel."""
    sent = deliveries.get(a.id, ()) if a.id is not None else ()
    return {"kind": a.kind, "key": a.key, "page": a.page, "reason": a.reason, "at": a.at.isoformat(),
            "delivery": summary(sent), "deliveries": delivery_json(sent)}


def delivery_json(deliveries: tuple[guard_delivery.Delivery, ...]) -> list[dict[str, object]]:
    """An alert's deliveries as `budget status` and `safety check` show them."""
    return [{"channel": d.channel, "status": d.status, "attempts": d.attempts, "lastError": d.last_error,
             "nextAt": d.next_at.isoformat() if d.status == "pending" else None} for d in deliveries]


def summary(deliveries: tuple[guard_delivery.Delivery, ...]) -> str:
    """One word for a table: delivered, pending or given up (the worst of its channels), or '-' for none."""
    states = {d.status for d in deliveries}
    for word in ("given up", "pending", "delivered"):
        if word in states:
            return word
    return "-"
