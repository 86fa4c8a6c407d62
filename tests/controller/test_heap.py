"""A worker's heap: what is alive is frozen out of the collector's full passes, and what a finished release
left in cycles is still collected, at the next thaw."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from launchdeck.controller.heap import Heap


class Session:
    """Stands for a release's session: it refers to itself through a cycle, as a run and its tasks do."""

    def __init__(self) -> None:
        self.me = self


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()  # whatever a test froze goes back to the collector


def test_what_is_alive_is_frozen_and_refrozen_only_after_a_while() -> None:
    clock = Clock()
    heap = Heap(freeze_every=30, thaw_every=900, clock=clock)
    heap.settle(ended=0)
    frozen = gc.get_freeze_count()
    assert frozen > 0
    kept = [Session() for _ in range(100)]
    clock.now = 10
    heap.settle(ended=0)
    # Not yet: the new sessions are still the collector's. (Frozen objects freed meanwhile, by another
    # test's leftovers, only lower the count.)
    assert gc.get_freeze_count() <= frozen
    before = gc.get_freeze_count()
    clock.now = 31
    heap.settle(ended=0)
    assert gc.get_freeze_count() >= before + 100
    assert kept


def test_a_finished_releases_cycle_is_collected_at_the_next_thaw_not_before() -> None:
    clock = Clock()
    heap = Heap(freeze_every=30, thaw_every=900, clock=clock)
    session = Session()
    gone = weakref.ref(session)
    heap.settle(ended=0)  # frozen while its release runs
    del session  # the release ended: its session is garbage, but only through its cycle
    gc.collect()
    assert gone() is not None  # frozen: a full pass does not see it
    clock.now = 100
    heap.settle(ended=1)
    assert gone() is not None  # a thaw comes at most every 900 s
    clock.now = 900
    heap.settle(ended=1)
    assert gone() is None and gc.get_freeze_count() > 0  # collected, and what is alive frozen again


def test_no_thaw_when_no_release_ended() -> None:
    clock = Clock()
    heap = Heap(freeze_every=30, thaw_every=900, clock=clock)
    session = Session()
    gone = weakref.ref(session)
    heap.settle(ended=0)
    del session
    clock.now = 5000
    heap.settle(ended=0)
    gc.collect()
    assert gone() is not None


def test_a_stopping_worker_gives_everything_back_to_the_collector() -> None:
    heap = Heap(clock=Clock())
    session = Session()
    gone = weakref.ref(session)
    heap.settle(ended=0)
    del session
    heap.thaw()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gone() is None
