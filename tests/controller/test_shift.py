"""A worker's group commit: routine evaluations share a transaction, anything else is written at once and
takes the routine ticks waiting by then along; each tick gets its own answer."""

from __future__ import annotations

import asyncio
from typing import Any

from launchdeck.controller.shift import GroupCommit
from launchdeck.errors import LaunchdeckError, LeaseLost
from launchdeck.store.repo import Tick


class Store:
    """Records each transaction's ticks; a release id in ``lost`` has lost its lease."""

    def __init__(self, lost: frozenset[int] = frozenset()) -> None:
        self.batches: list[list[int]] = []
        self.lost = lost

    def save_many(self, ticks: list[Tick]) -> list[LaunchdeckError | None]:
        self.batches.append([t.release_id for t in ticks])
        return [LeaseLost(f"release {t.release_id}: lease lost") if t.release_id in self.lost else None for t in ticks]


def tick(release_id: int) -> Tick:
    return Tick(release_id, {}, 0.0, None, [], [])


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))  # a bound for a hung test, not a measurement


def test_routine_commits_saved_together_share_one_transaction() -> None:
    store = Store()

    async def save_three() -> None:
        commits = GroupCommit(store, gather=0.5)  # type: ignore[arg-type]
        await asyncio.gather(*(commits.save(tick(i), routine=True) for i in (1, 2, 3)))

    run(save_three())
    assert store.batches == [[1, 2, 3]]


def test_an_urgent_commit_does_not_wait_and_takes_the_routine_ones_along() -> None:
    store = Store()

    async def routine_then_urgent() -> None:
        commits = GroupCommit(store, gather=3600.0)  # type: ignore[arg-type]  # alone, it would wait an hour
        routine = asyncio.create_task(commits.save(tick(1), routine=True))
        await asyncio.sleep(0)
        await commits.save(tick(2))
        await routine

    run(routine_then_urgent())
    assert store.batches == [[1, 2]]


def test_a_full_batch_of_routine_commits_does_not_wait() -> None:
    store = Store()

    async def save_four() -> None:
        commits = GroupCommit(store, most=2, gather=3600.0)  # type: ignore[arg-type]
        await asyncio.gather(*(commits.save(tick(i), routine=True) for i in (1, 2, 3, 4)))

    run(save_four())
    assert store.batches == [[1, 2], [3, 4]]


def test_a_tick_that_lost_its_lease_fails_alone_in_its_transaction() -> None:
    store = Store(lost=frozenset({2}))

    async def save_three() -> list[BaseException | None]:
        commits = GroupCommit(store, gather=0.5)  # type: ignore[arg-type]
        return await asyncio.gather(*(commits.save(tick(i), routine=True) for i in (1, 2, 3)), return_exceptions=True)

    outcomes = run(save_three())
    assert store.batches == [[1, 2, 3]]
    assert outcomes[0] is None and isinstance(outcomes[1], LeaseLost) and outcomes[2] is None


def test_the_shift_keeps_its_rounds_going_after_one_fails(caplog: Any) -> None:
    """A fault in one round (a database driver's surprise) must not end the shift: every lease would expire."""
    from launchdeck.controller.shift import Shift

    stop = asyncio.Event()

    class Watch:
        every = 0.001
        looks = 0

        def look(self) -> set[int]:
            self.looks += 1
            if self.looks <= 2:
                raise RuntimeError("the driver's surprise")
            stop.set()
            return set()

    shift = Shift(Store(), "me", 15.0)  # type: ignore[arg-type]
    shift.watch = Watch()  # type: ignore[assignment]
    run(shift.run(stop))
    assert shift.watch.looks == 3
    assert caplog.text.count("the worker's shift failed a round") == 1  # said once, not every round
