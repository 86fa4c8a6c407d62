"""`launchdeck worker`: drive every due release of the store, from any tenant, until stopped.

A worker that loses its database loses its releases with it: their next commit or fence fails, so
nothing more moves, and each lease expires; it claims again (and so drives again) only once the
database answers.

A worker claims releases whose lease is free or expired (``store.leases.claim_due``), drives each in
a task of its own through the same ``runner.drive`` that `launchdeck run` uses, and claims more as
they become due: a release submitted by the API, one whose `run` was killed, one whose worker died.
Stopping (SIGTERM) lets every release finish its current tick, gives each lease up so another worker
takes it at once, and returns.

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
from pathlib import Path
from typing import Any

from launchdeck.controller import driver, submit
from launchdeck.controller.runner import drive
from launchdeck.controller.session import Stopped, View
from launchdeck.controller.shift import Shift
from launchdeck.errors import LaunchdeckError, LeaseLost, StoreError, UsageError
from launchdeck.plan import LoadedPlan, load_plan
from launchdeck.store import leases
from launchdeck.store.leases import Lease
from launchdeck.store.repo import Store, StoredRelease

log = logging.getLogger("launchdeck.worker")

#: How often a worker looks for due releases (seconds). A takeover happens within one lease period
#: plus this, after the holder's last renewal.
POLL_SECONDS = 1.0
#: At most this many releases claimed per look, so workers starting together share the work.
CLAIM_BATCH = 100
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
    driving: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    ended: list[tuple[str, str]] = field(default_factory=list)
    """(release, what happened) for each release this worker stopped driving, in order."""

    async def run(self, stop: asyncio.Event) -> None:
        with Store(self.db_url) as store:
            log.info("worker %s drives releases from %s", self.holder, store.url)
            shift = Shift(store, self.holder, self.lease_seconds)
            shifting = asyncio.create_task(shift.run(stop))
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
            if self.driving:
                await asyncio.gather(*self.driving.values(), return_exceptions=True)
                self.driving.clear()
            shifting.cancel()

    def _starting(self, shift: Shift) -> int:
        """Releases claimed and not yet in their tick loop."""
        return len(self.driving) - sum(1 for r in shift.runs.values() if r.looping)

    async def _drive(self, store: Store, lease: Lease, stop: asyncio.Event, shift: Shift | None = None) -> None:
        name = str(lease.release_id)
        keep = False  # an error keeps the lease until it expires: the release is retried, not hammered
        try:
            # The store and the plan file on a thread: a worker starts releases while it drives the others.
            found = await asyncio.to_thread(store.find_id, lease.release_id)
            name = found.name
            plan, workdir = await asyncio.to_thread(materialize, found, self.home)
            opts = submit.options_of(found, db_url=self.db_url, workdir=workdir)
            view = self.view(found) if self.view else _log_view(found)
            summary = await drive(plan, opts, view, store, lease, stop=stop, opener=self.opener, shift=shift)
            self._ended(name, f"finished: {summary.get('outcome')}")
        except Stopped:
            self._ended(name, "stopped: the worker is stopping; its lease is given up")
        except LeaseLost as e:
            keep = True
            self._ended(name, f"lease lost: {e.message}")
        except LaunchdeckError as e:
            keep = True
            self._ended(name, f"failed: {e.message}" + (f" ({e.hint})" if e.hint else ""))
        except Exception as e:  # one release's fault must not end the worker's other releases
            keep = True
            log.exception("release %s: unexpected fault", name)
            self._ended(name, f"fault: {e!r}")
        finally:
            if not keep:
                with suppress(LaunchdeckError):
                    leases.let_go(store, lease)

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


def _log_view(found: StoredRelease) -> View:
    import sys

    from launchdeck.controller.view import PlainView

    return PlainView(sys.stderr, every=30.0, prefix=f"[{found.name}]")
