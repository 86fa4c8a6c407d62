"""A worker's watch over the tenants' guard rails: every second it checks each tenant that has a
TenantPolicy (its budget and error budgets: new alerts, the policy's enforcement), and every
``SAFETY_EVERY`` seconds its safety figures (a breach drops a tier). The releases' ticks then see the
result within ``services.autonomy.RUNTIME_TTL``.

Spend fed through `launchdeck budget record` or the API is checked in that call already; this watch is
what reads spend files and Prometheus, and what notices a month's threshold crossed by the clock alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress

from launchdeck.errors import LaunchdeckError
from launchdeck.services import autonomy, budget
from launchdeck.store.repo import Store

log = logging.getLogger("launchdeck.guard")
GUARD_EVERY = 1.0
SAFETY_EVERY = 30.0
#: How often a worker looks whether any tenant's guard state changed (one small query), to wake its releases.
MARK_EVERY = 0.1
_wake: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}


def _event() -> asyncio.Event:
    loop = asyncio.get_running_loop()
    event = _wake.get(loop)
    if event is None:
        event = _wake[loop] = asyncio.Event()
    return event


async def nap(seconds: float) -> None:
    """Sleep until the next tick, or until a tenant's guard state changes (then tick at once)."""
    if seconds <= 0:
        await asyncio.sleep(0)
        return
    with suppress(TimeoutError):
        await asyncio.wait_for(_event().wait(), seconds)


def changed() -> None:
    """Wake every release of this process sleeping in ``nap`` (their next tick reads the new state)."""
    autonomy.forget()
    event = _wake.pop(asyncio.get_running_loop(), None)
    if event is not None:
        event.set()


async def follow(store: Store, stop: asyncio.Event, *, every: float = MARK_EVERY) -> None:
    """Wake the releases when any tenant's guard state changes (an enforcement, an override, a tier)."""
    from launchdeck.store import guard as stored

    seen = None
    while not stop.is_set():
        try:
            mark = await asyncio.to_thread(stored.mark, store)
        except LaunchdeckError:
            mark = seen
        if seen is not None and mark != seen:
            changed()
        seen = mark
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


def check_all(store: Store, *, safety: bool) -> int:
    """One round over every tenant with a policy; returns how many were checked."""
    tenants = [d.tenant for d in budget._policies(store)]
    for tenant in tenants:
        try:
            budget.check(store, tenant=tenant)
            if safety:
                autonomy.check_safety(store, tenant=tenant)
        except LaunchdeckError as e:  # one tenant's broken source must not stop the others' guard
            log.warning("guard check of tenant %s: %s", tenant, e.message)
    return len(tenants)


async def watch(store: Store, stop: asyncio.Event, *, every: float = GUARD_EVERY) -> None:
    last_safety = 0.0
    while not stop.is_set():
        now = time.monotonic()
        safety = now - last_safety >= SAFETY_EVERY
        try:
            await asyncio.to_thread(check_all, store, safety=safety)
        except LaunchdeckError as e:
            log.warning("guard check: %s", e.message)
        if safety:
            last_safety = now
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
