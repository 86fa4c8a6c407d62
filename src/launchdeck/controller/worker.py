"""`launchdeck worker`: drive every due release of the store, from any tenant, until stopped.

A worker that loses its database loses its releases with it: their next commit or fence fails, so
nothing more moves, and each lease expires; it claims again (and so drives again) only once the
database answers.

A worker claims releases whose lease is free or expired (``store.leases.claim_due``), drives each in
a task of its own through the same ``runner.drive`` that `launchdeck run` uses, and claims more as
they become due: a release submitted by the API, one whose `run` was killed, one whose worker died.
Stopping (SIGTERM) lets every release finish its current tick, gives each lease up so another worker
takes it at once, and returns.

A release the worker cannot drive (its plan is not here, its router refuses, a fault) is not retried at
every lease expiry forever: each failed attempt is recorded in the decision log with its reason, and the
next waits twice as long as the one before (from one lease period up to ``RETRY_CAP``); after
``MAX_ATTEMPTS`` in a row the workers give it up (``gave_up_at``): `status` says so and why, and
`launchdeck resume REL` hands it back to them once the cause is fixed (`launchdeck run PLAN` drives it
in the foreground). An attempt that finishes forgets the failures before it.

The plan a worker drives is the one the release was submitted with: the plan file when it is here
unchanged, otherwise the submitted text written under ``home/<tenant>/<name>/`` (relative paths in
the plan, such as the evidence folder, then point there).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from launchdeck.controller import doorbell, driver, giveup, guardwatch, submit
from launchdeck.controller.heap import Heap
from launchdeck.controller.runner import drive
from launchdeck.controller.session import Stopped, View
from launchdeck.controller.shift import Shift
from launchdeck.controller.train import drive_train
from launchdeck.errors import LaunchdeckError, LeaseLost, StoreError, UsageError
from launchdeck.plan import LoadedPlan, load_plan
from launchdeck.store import leases
from launchdeck.store.leases import Lease
from launchdeck.store.repo import NewDecision, Store, StoredRelease

log = logging.getLogger("launchdeck.worker")

#: How often a worker looks for due releases (seconds). A takeover happens within one lease period
#: plus this, after the holder's last renewal.
POLL_SECONDS = 1.0
#: At most this many releases claimed per look, so workers starting together share the work.
CLAIM_BATCH = 100
#: Attempts in a row that fail before the workers give a release up (a person must then act).
MAX_ATTEMPTS = 8
#: The longest wait between two attempts (seconds); the first wait is one lease period, then it doubles.
RETRY_CAP = 900.0


def retry_delay(attempts: int, *, first: float, cap: float = RETRY_CAP) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones in a row: ``first``, then doubling."""
    return min(cap, first * 2 ** max(0, attempts - 1))

#: At most this many releases starting at once (claimed, not yet in their tick loop): starting one
#: (its plan, key, preflight, first commit) costs far more than a tick, and a worker claiming a thousand at
#: once would make the releases it already drives late.
STARTING_AT_ONCE = 50
#: A worker whose event loop runs this late (seconds) claims nothing until it catches up: the releases it
#: drives come first, and other workers may take the rest.
BUSY_LATE_S = 0.5


@dataclass
class Worker:
    db_url: str
    holder: str = field(default_factory=driver.holder_id)
    lease_seconds: float = driver.LEASE_SECONDS
    capacity: int = 10_000
    """At most this many releases driven at once."""
    home: Path = Path("launchdeck-data")
    """Where plans submitted from elsewhere are written, one folder per release."""
    poll_seconds: float = POLL_SECONDS
    view: Callable[[StoredRelease], View] | None = None
    """The view each release reports to (default: plain lines on stderr, prefixed with the release)."""
    opener: Any = None
    """The target opener handed to ``drive`` (None: the plan's own target)."""
    max_attempts: int = MAX_ATTEMPTS
    """Failed attempts in a row after which the workers give a release up."""
    retry_first: float | None = None
    """Seconds before the second attempt (None: one lease period); each later wait doubles, up to RETRY_CAP."""
    guard: bool = True
    """Watch the tenants' guard rails (budgets, safety) every second (``controller.guardwatch``)."""
    driving: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    ended: list[tuple[str, str]] = field(default_factory=list)
    """(release, what happened) for each release this worker stopped driving, in order."""

    async def run(self, stop: asyncio.Event) -> None:
        with Store(self.db_url) as store:
            log.info("worker %s drives releases from %s", self.holder, store.url)
            shift = Shift(store, self.holder, self.lease_seconds)
            shifting = asyncio.create_task(shift.run(stop))
            guarding = [asyncio.create_task(guardwatch.watch(store, stop)),
                        asyncio.create_task(guardwatch.follow(store, stop))] if self.guard else []
            heap = Heap()
            try:
                await self._claim_and_drive(store, stop, shift, heap)
            finally:
                heap.thaw()
                shifting.cancel()
                for task in guarding:
                    task.cancel()

    async def _claim_and_drive(self, store: Store, stop: asyncio.Event, shift: Shift, heap: Heap) -> None:
        """Claim due releases and drive each in a task of its own until stopped; then let each end its tick."""
        unreachable: str | None = None
        late = 0.0
        while not stop.is_set():
            try:
                room = 0 if late > BUSY_LATE_S else min(CLAIM_BATCH, self.capacity - len(self.driving),
                                                        STARTING_AT_ONCE - self._starting(shift))
                claimed = await asyncio.to_thread(leases.claim_due, store, self.holder, self.lease_seconds,
                                                  limit=room) if room > 0 else []
            except StoreError as e:  # no database, no lease: nothing is driven until it is back
                claimed = []
                if unreachable is None:
                    log.warning("cannot claim releases: %s; retrying every %gs", e.message, self.poll_seconds)
                unreachable = e.message
            else:
                if unreachable is not None:
                    log.info("the database answers again; claiming releases")
                unreachable = None
            for lease in claimed:
                self.driving[lease.release_id] = asyncio.create_task(self._drive(store, lease, stop, shift))
            waited = time.monotonic()
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_seconds)
            late = time.monotonic() - waited - self.poll_seconds  # how far behind the event loop runs
            for rid in [r for r, t in self.driving.items() if t.done()]:
                self.driving.pop(rid)
            heap.settle(ended=len(self.ended))  # thousands of releases' objects, out of the collector's way
        if self.driving:
            doorbell.ring_all()  # each release ends the tick under way (or its nap) and gives its lease up
            await asyncio.gather(*self.driving.values(), return_exceptions=True)
            self.driving.clear()

    def _starting(self, shift: Shift) -> int:
        """Releases claimed and not yet in their tick loop."""
        return len(self.driving) - sum(1 for r in shift.runs.values() if r.looping)

    async def _drive(self, store: Store, lease: Lease, stop: asyncio.Event, shift: Shift | None = None) -> None:
        name = str(lease.release_id)
        keep = False  # a lost lease is the new holder's; a failed attempt gives it up until the next attempt
        failure: str | None = None
        plan: LoadedPlan | None = None
        workdir = self.home
        try:
            # The store and the plan file on a thread: a worker starts releases while it drives the others.
            found = await asyncio.to_thread(store.find_id, lease.release_id)
            name = found.name
            plan, workdir = await asyncio.to_thread(materialize, found, self.home)
            opts = submit.options_of(found, db_url=self.db_url, workdir=workdir)
            if plan.is_train:  # its services are driven here, as `launchdeck run TRAIN` drives them
                summary = await drive_train(plan, opts, lambda service: _log_view(found, f"{found.name}.{service}"),
                                            store, lease, stop=stop)
            else:
                view = self.view(found) if self.view else _log_view(found)
                summary = await drive(plan, opts, view, store, lease, stop=stop, opener=self.opener, shift=shift,
                                      found=found)
            if found.drive_failures:
                store.drive_again(release_id=found.id)
            self._ended(name, f"finished: {summary.get('outcome')}")
        except Stopped:
            self._ended(name, "stopped: the worker is stopping; its lease is given up")
        except LeaseLost as e:
            keep = True
            self._ended(name, f"lease lost: {e.message}")
        except StoreError as e:  # the database's fault, not the release's: retried at the lease's expiry
            keep = True
            self._ended(name, f"store error: {e.message}")
        except LaunchdeckError as e:
            failure = e.message + (f" ({e.hint})" if e.hint else "")
            self._ended(name, f"failed: {failure}")
        except Exception as e:  # one release's fault must not end the worker's other releases
            log.exception("release %s: unexpected fault", name)
            failure = f"unexpected fault: {e!r}"
            self._ended(name, f"fault: {e!r}")
        finally:
            if failure is not None:
                keep = True
                recorded = self._failed(store, lease, name, failure)
                if recorded is not None and recorded.gave_up_at is not None and plan is not None:
                    await giveup.tell(store, recorded, plan, workdir)
            if not keep:
                with suppress(LaunchdeckError):
                    leases.let_go(store, lease)

    def _failed(self, store: Store, lease: Lease, name: str, error: str) -> StoredRelease | None:
        """Record a failed attempt and give the lease up until the next one (or for good); the release as
        recorded, None when nothing could be (the lease was lost, or the database is away: it expires)."""
        error = error[:1000]
        limit = max(1, self.max_attempts)
        first = self.retry_first if self.retry_first is not None else self.lease_seconds

        def schedule(attempts: int, plan_at: float) -> tuple[datetime | None, NewDecision]:
            inputs: dict[str, Any] = {"attempts": attempts, "limit": limit, "error": error, "worker": self.holder}
            if attempts >= limit:
                return None, NewDecision(
                    plan_at=plan_at, kind="driving.gave_up", gate=None, inputs=inputs,
                    reason=f"{attempts} attempts in a row to drive {name} failed, the last: {error}; the workers "
                           f"gave it up. Fix the cause, then `{giveup.resume_command(name)}` hands it back to them "
                           "(or run its plan with `launchdeck run`)")
            at = datetime.now(UTC) + timedelta(seconds=retry_delay(attempts, first=first))
            inputs["retryAt"] = at.isoformat(timespec="seconds")
            return at, NewDecision(
                plan_at=plan_at, kind="driving.failed", gate=None, inputs=inputs,
                reason=f"attempt {attempts} of {limit} to drive {name} failed: {error}; the next one at "
                       f"{at:%Y-%m-%d %H:%M:%S} UTC")

        try:
            recorded = store.drive_failed(lease=lease, error=error, schedule=schedule)
        except LaunchdeckError as e:  # the database is gone too: the lease expires; the attempt is retried
            log.warning("release %s: cannot record the failed attempt: %s", name, e.message)
            return None
        if recorded is not None and recorded.gave_up_at is not None:
            log.warning("release %s: gave up after %d failed attempts in a row: %s", name, recorded.drive_failures,
                        error)
        elif recorded is not None:
            log.info("release %s: attempt %d failed; retrying at %s", name, recorded.drive_failures,
                     recorded.lease_until)
        return recorded

    def _ended(self, name: str, what: str) -> None:
        self.ended.append((name, what))
        log.info("release %s %s", name, what)


def materialize(found: StoredRelease, home: Path) -> tuple[LoadedPlan, Path]:
    """The plan the release was submitted with, and the folder its relative paths belong to."""
    path = Path(found.plan_path)
    workdir = Path(found.state.get("workdir") or path.parent)
    if path.is_file() and _digest(path) == found.plan_digest:
        return load_plan(path), workdir
    if found.plan_text is None:
        raise UsageError(f"release {found.name}: its plan {path} is not on this machine and was not submitted "
                         "with its text", hint="run it with `launchdeck run` where the plan is")
    folder = home / found.tenant / found.name.replace("/", "_")
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / (path.name or "plan.yaml")
    copy.write_text(found.plan_text, encoding="utf-8")
    plan = load_plan(copy)
    if plan.digest != found.plan_digest:
        raise UsageError(f"release {found.name}: the submitted plan text does not match its digest")
    return plan, folder


def _digest(path: Path) -> str:
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _log_view(found: StoredRelease, name: str | None = None) -> View:
    import sys

    from launchdeck.controller.view import PlainView

    return PlainView(sys.stderr, every=30.0, prefix=f"[{name or found.name}]")
