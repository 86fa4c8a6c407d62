"""Keeping a worker's long-lived objects out of the garbage collector's full passes.

A worker holds thousands of releases, each with its plan, session and state: over a million objects at
5,000 releases. CPython's cyclic collector walks every one of them in each full pass, and a full pass comes
every few seconds, because each evaluation replaces a release's state with new objects that outlive the
young generations. The pass holds the event loop: at 5,000 releases it took up to 1.3 s, so every
release due meanwhile ticked that late.

``Heap.settle``, called from the worker's loop, freezes what is alive every ``freeze_every`` seconds
(``gc.freeze``: the collector no longer walks those objects; reference counting still frees them as usual),
so a full pass walks only what was made since. What was frozen while alive and later becomes unreachable
only through a cycle (a finished release's session, its tasks) is not collected while frozen: after a
release ended, every ``thaw_every`` seconds the heap is thawed, collected in one full pass, and frozen again.
That one pass is the pause that remains, at most every ``thaw_every`` and only when releases ended.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

#: How often a worker freezes what is alive (seconds).
FREEZE_EVERY = 30.0
#: How often, at most, a worker whose releases ended collects what it froze (seconds).
THAW_EVERY = 900.0


class Heap:
    def __init__(self, *, freeze_every: float = FREEZE_EVERY, thaw_every: float = THAW_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.freeze_every, self.thaw_every, self.clock = freeze_every, thaw_every, clock
        self.frozen_at: float | None = None
        self.thawed_at = clock()
        self.ended_at_thaw = 0

    def settle(self, *, ended: int) -> None:
        """Freeze, or thaw and collect, when due; ``ended``: how many releases this worker has stopped
        driving so far."""
        now = self.clock()
        if ended > self.ended_at_thaw and now - self.thawed_at >= self.thaw_every:
            gc.unfreeze()
            gc.collect()
            self.thawed_at, self.ended_at_thaw = now, ended
        elif self.frozen_at is not None and now - self.frozen_at < self.freeze_every:
            return
        gc.freeze()
        self.frozen_at = now

    def thaw(self) -> None:
        """Give everything frozen back to the collector (the worker stops; the process may go on)."""
        gc.unfreeze()
        self.frozen_at = None
