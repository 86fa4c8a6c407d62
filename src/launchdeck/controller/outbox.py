"""Delivering a release's outbox: the one function the run and `launchdeck messages flush` share.

Messages wait in the outbox table from the tick that decided them until a channel takes them. A
delivery pass sends each channel's queued messages oldest first and stops at that channel's first
refusal, so a channel never receives them out of order; other channels keep flowing. A channel
that refused is left alone until its next-attempt time (``core.backoff``: 1 s doubling to 60 s,
jittered), and the person watching reads one line when it starts failing and one when it
recovers, not one per attempt.

Once each: a pass runs only while holding the release's outbox claim (``store.claims``), so a run
and a flush, or two flushes, never send the same message; each message is marked sent right after
its channel took it, in its own transaction. A process killed between those two steps sends that
message again next time (at least once, never lost): the webhook body's ``id`` and PagerDuty's
dedup key stay the same across attempts, so receivers can drop the repeat.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launchdeck.adapters.notify import Notifier
from launchdeck.adapters.notify.factory import make_channel
from launchdeck.comms import render
from launchdeck.comms.render import Message
from launchdeck.controller.messages import secret_values
from launchdeck.core.backoff import ChannelHealth, Failed, Random, Recovered
from launchdeck.errors import LaunchdeckError, StoreError, UsageError
from launchdeck.plan import LoadedPlan, model
from launchdeck.store.repo import Store, StoredRelease
from launchdeck.store.tables import MessageRow


@dataclass(frozen=True)
class DeliveryPass:
    """What one pass did: the messages sent, each channel that refused (with its redacted error),
    the lines to show, and whether another process held the outbox (then nothing was tried)."""

    sent: tuple[MessageRow, ...] = ()
    refused: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    busy: bool = False
    left: int | None = None
    """Messages still queued after the pass (None: not known, another process held the outbox)."""


async def deliver(*, store: Store, release_id: int, release_name: str, channels: Mapping[str, Notifier],
                  secrets: Sequence[str], health: ChannelHealth, rng: Random,
                  clock: Callable[[], float] = time.monotonic, retry_all: bool = False) -> DeliveryPass:
    """Send what the release's outbox holds, each channel in order, skipping channels still in
    backoff (all are tried with ``retry_all``). Refused messages stay queued with their last error."""
    # Off the event loop: a worker starting a thousand releases looks at a thousand outboxes meanwhile.
    pending = await asyncio.to_thread(store.pending_messages, release_id=release_id)
    if not any(retry_all or health.due(row.channel, clock()) for row in pending):
        return DeliveryPass(left=len(pending))  # nothing due: no need to claim the outbox on every tick
    with store.outbox_claim(release_id=release_id) as held:
        if not held:
            return DeliveryPass(busy=True)
        return await _send_pending(store=store, release_id=release_id, release_name=release_name,
                                   channels=channels, secrets=secrets, health=health, rng=rng, clock=clock,
                                   retry_all=retry_all)


async def _send_pending(*, store: Store, release_id: int, release_name: str, channels: Mapping[str, Notifier],
                        secrets: Sequence[str], health: ChannelHealth, rng: Random, clock: Callable[[], float],
                        retry_all: bool) -> DeliveryPass:
    sent: list[MessageRow] = []
    refused: dict[str, str] = {}
    notes: list[str] = []
    waiting: set[str] = set()
    took: Counter[str] = Counter()
    pending = store.pending_messages(release_id=release_id)
    for row in pending:
        if row.channel in refused or row.channel in waiting:
            continue  # behind a message of its channel that did not go: order is kept
        channel = channels.get(row.channel)
        if channel is None:
            refused[row.channel] = f"the plan has no channel {row.channel!r} (any more)"
            continue
        if not retry_all and not health.due(row.channel, clock()):
            waiting.add(row.channel)
            continue
        try:
            await channel.send(Message(row.event, row.channel, row.locale, row.text, row.title,
                                       release=release_name, key=idempotency_key(release_name, row.epoch, row.id),
                                       broadcast=bool(row.broadcast)))
        except LaunchdeckError as e:
            error = render.redact(e.message, list(secrets))
            store.mark_failed(message_id=row.id, error=error)
            refused[row.channel] = error
            failed = health.failed(row.channel, error, clock(), rng, delivered=took[row.channel])
            if failed.started:
                notes.append(failing_line(row.channel, failed, health))
            continue
        store.mark_sent(message_id=row.id)
        sent.append(row)
        took[row.channel] += 1
    for name, count in took.items():
        if name not in refused:
            back = health.delivered(name, count, clock())
            if back is not None:
                notes.append(recovered_line(back))
    return DeliveryPass(tuple(sent), refused, tuple(notes), left=len(pending) - len(sent))


def failing_line(channel: str, failed: Failed, health: ChannelHealth) -> str:
    return (f"channel {channel} is failing: {failed.trouble.error}; its messages stay queued in order (other "
            f"channels are not held up) and are retried in {failed.delay:.1f}s, then at doubling intervals "
            f"up to {health.policy.cap_s:g}s")


def recovered_line(back: Recovered) -> str:
    return (f"channel {back.channel} recovered after {back.failures} failed attempt(s) over {back.down_for:.0f}s: "
            f"{back.delivered} held-back message(s) went through")


def idempotency_key(release: str, epoch: int | None, message_id: int) -> str:
    """The message's idempotency key: release, the lease epoch it was decided under, and its outbox id.
    The same at every retry of the message, by any process; receivers drop a key they have seen."""
    return f"{release}:{epoch or 0}:{message_id}"


def undelivered(store: Store, release_id: int) -> dict[str, Any]:
    """The summary's ``undelivered``: how many messages are still queued, and on which channels."""
    left = store.pending_messages(release_id=release_id)
    return {"count": len(left), "channels": sorted({row.channel for row in left})}


#: How long `messages flush` waits for another process (a run, another flush) to finish its pass.
CLAIM_WAIT_S = 30.0


async def flush_release(*, store: Store, release: StoredRelease, plan: LoadedPlan, workdir: Path,
                        console_stream: Any = None) -> DeliveryPass:
    """Deliver what is left of a release's outbox (finished or not) with its plan's channels: every
    channel is tried once, its messages in order until one is refused. Waits its turn when another
    process holds the outbox; StoreError when that lasts longer than ``CLAIM_WAIT_S``."""
    name = release.name.removesuffix(f"#{release.id}")  # an archived release keeps its messages' ids
    spec = release_spec(plan, name)
    # Only the channels that have something to send are opened, so only their env: secrets are needed.
    wanted = {row.channel for row in store.pending_messages(release_id=release.id)}
    from launchdeck.store.chat import StoredThreads

    channels = {n: make_channel(n, ch, workdir=workdir, console_stream=console_stream,
                                threads=StoredThreads(store, release.id))
                for n, ch in spec.notifications.channels.items() if n in wanted}
    deadline = time.monotonic() + CLAIM_WAIT_S
    while True:
        done = await deliver(store=store, release_id=release.id, release_name=name, channels=channels,
                             secrets=secret_values(spec), health=ChannelHealth(), rng=random.Random(), retry_all=True)
        if not done.busy:
            return done
        if time.monotonic() > deadline:
            raise StoreError(f"another process has been delivering {release.name}'s messages for "
                             f"{CLAIM_WAIT_S:g}s", hint="let it finish (a run delivers as it goes), then try again")
        await asyncio.sleep(0.25)


def release_spec(plan: LoadedPlan, release: str) -> model.ReleaseSpec:
    """The spec a release ran with: the plan's own, or, in a train, its service's (``train.service``)."""
    if isinstance(plan.doc, model.ReleaseDoc):
        if plan.name != release:
            raise UsageError(f"{plan.path} is the plan of {plan.name}, not of {release}",
                             hint="pass the plan the release ran with: --plan PATH")
        return plan.doc.spec
    for entry, spec in plan.services:
        if f"{plan.name}.{entry.name}" == release:
            return spec
    raise UsageError(f"the train {plan.path} has no service whose release is {release}",
                     hint="pass the plan the release ran with: --plan PATH")
