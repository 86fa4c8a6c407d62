"""What a worker does once for all the releases it drives, instead of once per release: look at their
sign-offs, and keep their leases.

A worker may drive thousands of releases, each in a task of its own running ``runner.drive``. Two things
every release needs all the time would otherwise cost a database round trip per release, many times a
second across the worker:

* people's input: ``SignoffWatch`` asks, in one query for every release the worker holds, which ones have
  sign-offs added or consumed since (``store.watch``), and rings their bells (a release sleeps until the
  clock can change it, or it is rung); a release reads its sign-offs only then;
* its commits: ``GroupCommit`` writes the ticks its releases commit meanwhile in one transaction, on one
  thread (``Store.save_many``): each still a compare-and-set on its own lease, which fails alone; a routine
  evaluation's commit waits up to ``GATHER_S`` for company, so transactions carry many ticks each;
* its lease: ``Shift`` renews every lease it keeps in one statement every third of a lease
  (``store.leases.renew_many``), with the plan time of each release in its tick loop (where a resumed
  run goes on from). A lease another holder took meanwhile is not renewed: its driver learns it at its
  next commit or fence (``LeaseLost``), as with a lease renewed on its own.

`launchdeck run` drives one release and does both for it alone (``kept`` without a shift; a read per tick).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from launchdeck.controller.doorbell import settle
from launchdeck.errors import LaunchdeckError
from launchdeck.store import leases
from launchdeck.store.repo import Store, Tick
from launchdeck.store.watch import Mark, signoff_marks

if TYPE_CHECKING:
    from launchdeck.controller.session import Run

log = logging.getLogger("launchdeck.worker")


class SignoffWatch:
    """Which of a worker's releases have new (or newly consumed) sign-offs, looked up for all of them at
    once every ``every`` seconds."""

    def __init__(self, store: Store, holder: str, every: float = 0.25) -> None:
        self.store, self.holder, self.every = store, holder, every
        self.marks: dict[int, Mark] | None = None
        """The last look's marks; None before the first look and after a failed one (then every release
        reads its sign-offs each tick, as without a watch)."""

    def look(self) -> set[int]:
        """Look again; the releases whose mark moved since the last look (their drivers must read them)."""
        before = self.marks
        try:
            self.marks = signoff_marks(self.store, holder=self.holder)
        except LaunchdeckError:
            self.marks = None  # the database is away: each release's own read says so
            return set()
        if before is None:
            return set(self.marks)
        return {rid for rid in before.keys() | self.marks.keys() if before.get(rid) != self.marks.get(rid)}

    def mark(self, release_id: int) -> object:
        """The release's mark as of the last look; a value equal to nothing else when not known."""
        if self.marks is None:
            return object()
        return self.marks.get(release_id, (0, 0, 0))


#: How long a routine tick's commit (an evaluation that changed nothing but the figures, announcing nothing)
#: waits for others to share its transaction (seconds). A transaction's fixed cost (its round trips, the
#: session) is about a millisecond of the worker's CPU, several times what each tick in it adds.
GATHER_S = 0.05


class GroupCommit:
    """The commits of a worker's releases, written together: a tick's ``save`` waits for the transaction
    that holds it. While one transaction is under way the ticks committed meanwhile wait, then go in the
    next (at most ``most`` at a time). A routine tick also waits for company, up to ``gather`` seconds
    after the oldest tick waiting; any other tick (a decision that announces something, a stage, a
    rollback, people's input) goes at once, with the routine ones waiting by then."""

    def __init__(self, store: Store, most: int = 500, gather: float = GATHER_S) -> None:
        self.store, self.most, self.gather = store, most, gather
        self.pending: list[tuple[Tick, asyncio.Future[None], bool, float]] = []
        """(tick, its answer, routine, loop time it was saved at) in the order saved."""
        self.writing: asyncio.Task[None] | None = None
        self.gathering: asyncio.Future[None] | None = None
        """Set when the routine ticks must stop waiting for company (an urgent tick, a full batch)."""

    async def save(self, tick: Tick, *, routine: bool = False) -> None:
        """Commit ``tick`` (raises what ``Store.save`` raises: ``LeaseLost``, ``StoreError``)."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self.pending.append((tick, done, routine, loop.time()))
        if (not routine or len(self.pending) >= self.most) and self.gathering is not None:
            settle(self.gathering)
        if self.writing is None or self.writing.done():
            self.writing = asyncio.create_task(self._write())
        await done

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        while self.pending:
            wait = self.pending[0][3] + self.gather - loop.time()
            if wait > 0 and len(self.pending) < self.most and all(routine for _, _, routine, _ in self.pending):
                self.gathering = loop.create_future()
                timer = loop.call_later(wait, settle, self.gathering)
                try:
                    await self.gathering
                finally:
                    timer.cancel()
                    self.gathering = None
            batch, self.pending = self.pending[:self.most], self.pending[self.most:]
            try:
                outcomes: list[BaseException | None] = list(
                    await asyncio.to_thread(self.store.save_many, [tick for tick, _, _, _ in batch]))
            except Exception as e:  # noqa: BLE001 - every tick waiting on the transaction must get its answer
                outcomes = [e] * len(batch)
            for (_, done, _, _), error in zip(batch, outcomes, strict=True):
                if done.done():  # its task was cancelled meanwhile
                    continue
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)


class Shift:
    """A worker's shared duties for the releases it drives (see the module's docstring)."""

    def __init__(self, store: Store, holder: str, lease_seconds: float) -> None:
        self.store = store
        self.watch = SignoffWatch(store, holder)
        self.commits = GroupCommit(store)
        self.every = lease_seconds / 3
        """How often the leases are renewed (seconds)."""
        self.runs: dict[int, Run] = {}
        """The sessions whose lease it keeps, by ``id()`` (a session is not hashable)."""

    def keep(self, run: Run) -> None:
        self.runs[id(run)] = run

    def drop(self, run: Run) -> None:
        self.runs.pop(id(run), None)

    async def renew(self) -> None:
        """Renew every kept lease now, with the plan time of each release in its tick loop (the statement
        runs on a thread: with thousands of leases it must not hold the event loop up)."""
        kept = [r for r in self.runs.values() if r.lease is not None]
        beats = [(r.lease, r.clock.now() if r.looping else None) for r in kept]
        try:
            await asyncio.to_thread(leases.renew_many, self.store, beats)  # type: ignore[arg-type]
        except LaunchdeckError as e:  # the database is away: each release's next commit or fence says so
            log.warning("cannot renew the leases of %d releases: %s", len(kept), e.message)
            return
        now = time.monotonic()
        for r in kept:
            r.renewed_at = r.saved_at = now

    async def run(self, stop: asyncio.Event) -> None:
        """Look at the sign-offs every ``watch.every`` seconds and renew the leases every ``every``, until stopped."""
        renewed = time.monotonic()
        fault: str | None = None
        while not stop.is_set():
            started = time.monotonic()
            try:
                moved = await asyncio.to_thread(self.watch.look)
                if moved:  # wake the releases with new sign-offs (a release naps until its next deadline)
                    for r in self.runs.values():
                        if r.release.id in moved:
                            r.bell.ring()
                if started - renewed >= self.every:
                    await self.renew()
                    renewed = started
            except Exception as e:  # noqa: BLE001 - a fault here must not end the shift: every lease would expire
                if repr(e) != fault:  # said once, not four times a second
                    log.exception("the worker's shift failed a round; trying again every %gs", self.watch.every)
                fault = repr(e)
            else:
                fault = None
            await asyncio.sleep(max(0.0, self.watch.every - (time.monotonic() - started)))


@contextmanager
def kept(run: Run, shift: Shift | None) -> Iterator[None]:
    """While driving: the release's lease kept by the worker's shift, or, without one, by a task of its own."""
    if shift is not None:
        shift.keep(run)
        try:
            yield
        finally:
            shift.drop(run)
        return
    keeper = asyncio.create_task(_keep_alone(run))
    try:
        yield
    finally:
        keeper.cancel()


async def _keep_alone(run: Run) -> None:
    """Renew the lease when no commit or fence did lately (a long smoke test, a slow rollback step)."""
    assert run.lease is not None
    every = run.lease.seconds / 3
    while True:
        await asyncio.sleep(every)
        if time.monotonic() - run.renewed_at >= every:
            try:
                await asyncio.to_thread(leases.renew, run.store, run.lease)
            except LaunchdeckError:
                return  # lost, or the database is away: the next commit or fence says so and stops the run
            run.renewed_at = time.monotonic()
