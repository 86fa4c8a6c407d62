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
from typing import Any

from launchdeck.controller import doorbell
from launchdeck.errors import LaunchdeckError
from launchdeck.services import autonomy, budget
from launchdeck.store.repo import Store

log = logging.getLogger("launchdeck.guard")
GUARD_EVERY = 1.0
SAFETY_EVERY = 30.0
#: How often a worker looks at the policies' spend files (a stat each): a rewritten file is checked at once.
FILE_EVERY = 0.1
#: How often a worker looks whether any tenant's guard state changed (one small query), to wake its releases.
MARK_EVERY = 0.1


def changed() -> None:
    """Wake every release of this process (their next tick reads the tenants' new guard state)."""
    autonomy.forget()
    doorbell.ring_all()


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


def with_error_budget(store: Store, tenant: str, service: str | None, obs: Any) -> Any:
    """The observations with ``error_budget_remaining`` (the tenant's, for the service) in every window's
    values, for gates on it; None (unknown) leaves such a gate inconclusive."""
    from dataclasses import replace

    left = budget.error_budget_remaining(store, tenant=tenant, service=service)
    def put(stats: Any) -> Any:
        return None if stats is None else replace(stats, values={**stats.values, "error_budget_remaining": left})
    return replace(obs, canary=put(obs.canary), stable=put(obs.stable), canary_slice=put(obs.canary_slice),
                   stable_slice=put(obs.stable_slice))


def check_all(store: Store, *, safety: bool, only: set[str] | None = None) -> dict[str, str]:
    """One round over every tenant with a policy (or ``only`` these); returns each one's spend file ('' none)."""
    from launchdeck.services.guardrails import rails_of

    files = {}
    for tenant in [d.tenant for d in budget.policy_documents(store)]:
        if only is not None and tenant not in only:
            continue
        try:
            rails = rails_of(store, tenant)
            source = rails.spec.budget.spend if rails is not None and rails.spec.budget else None
            files[tenant] = source.file if source is not None and source.file else ""
            budget.check(store, tenant=tenant)
            if safety:
                autonomy.check_safety(store, tenant=tenant)
        except LaunchdeckError as e:  # one tenant's broken source must not stop the others' guard
            log.warning("guard check of tenant %s: %s", tenant, e.message)
    return files


def _mtimes(files: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Each tenant's spend file as (modification time, size): a rewrite changes one or the other."""
    import os

    found = {}
    for tenant, path in files.items():
        if path:
            with suppress(OSError):
                st = os.stat(path)
                found[tenant] = (st.st_mtime_ns, st.st_size)
    return found


async def watch(store: Store, stop: asyncio.Event, *, every: float = GUARD_EVERY) -> None:
    """Check every tenant each ``every`` seconds, and a tenant whose spend file changed within ``FILE_EVERY``."""
    # Never checked: the first round runs at once (a monotonic clock starts near 0 on a freshly booted machine).
    last_safety = last_round = float("-inf")
    files: dict[str, str] = {}
    seen: dict[str, tuple[int, int]] = {}
    while not stop.is_set():
        now = time.monotonic()
        try:
            if now - last_round >= every:
                safety = now - last_safety >= SAFETY_EVERY
                # The files as they were before the round read them: one rewritten while the round ran is
                # looked at again, and a file new to this round is read once more at the next look.
                before = await asyncio.to_thread(_mtimes, files)
                files = await asyncio.to_thread(check_all, store, safety=safety)
                seen = {t: m for t, m in before.items() if t in files}
                last_round, last_safety = now, now if safety else last_safety
            else:
                mtimes = await asyncio.to_thread(_mtimes, files)
                moved = {t for t, m in mtimes.items() if seen.get(t) != m}
                if moved:
                    await asyncio.to_thread(check_all, store, safety=False, only=moved)
                seen = mtimes
        except LaunchdeckError as e:
            log.warning("guard check: %s", e.message)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), FILE_EVERY)
