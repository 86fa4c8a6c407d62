"""A failing channel is retried at growing, jittered intervals up to a cap; others are not held up."""

from __future__ import annotations

import random

import pytest

from launchdeck.core.backoff import ChannelBackoff, ChannelHealth


class Fixed:
    """A random source that always draws the same number."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def test_ceiling_doubles_from_one_second_to_the_cap() -> None:
    policy = ChannelBackoff(base_s=1.0, cap_s=60.0)
    assert [policy.ceiling(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


@pytest.mark.parametrize("draw, expected", [(0.0, [0.5, 1, 2, 4, 8, 16, 30, 30]),
                                            (0.999999, [1, 2, 4, 8, 16, 32, 60, 60])])
def test_jitter_keeps_each_wait_between_half_and_all_of_its_ceiling(draw: float, expected: list[float]) -> None:
    policy = ChannelBackoff()
    assert [policy.next_delay(n, Fixed(draw)) for n in range(1, 9)] == pytest.approx(expected, abs=1e-4)


def test_a_failing_channel_is_attempted_at_growing_intervals_within_the_jitter_bounds() -> None:
    health, rng, policy = ChannelHealth(), random.Random(7), ChannelBackoff()
    now, attempts = 100.0, []
    while now < 100.0 + 600:  # ten minutes of a dead channel, the tracker asked every 0.25 s
        if health.due("war-room", now):
            attempts.append(now)
            health.failed("war-room", "HTTP 503", now, rng)
        now += 0.25
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    for n, gap in enumerate(gaps, start=1):
        top = policy.ceiling(n)
        assert top / 2 <= gap <= top + 0.25, f"wait {n} was {gap:g}s, outside [{top / 2:g}, {top:g}]"
    # The shortest possible waits are 0.5, 1, 2, 4, 8, 16 s, then 30 s: at most 25 attempts in ten
    # minutes, where retrying on every tick made 2400.
    assert len(attempts) <= 1 + 6 + (600 - 31.5) // 30 + 1


def test_other_channels_stay_due_while_one_backs_off() -> None:
    health = ChannelHealth()
    health.failed("war-room", "HTTP 503", 10.0, Fixed(0.0))
    assert not health.due("war-room", 10.2)
    assert health.due("status", 10.2)
    assert health.due("war-room", 10.5)


def test_only_the_first_failure_of_a_streak_starts_it_and_recovery_is_reported_once() -> None:
    health = ChannelHealth()
    first = health.failed("war-room", "HTTP 503", 10.0, Fixed(0.5))
    second = health.failed("war-room", "timed out", 11.0, Fixed(0.5), delivered=2)
    assert first.started and not second.started
    assert second.trouble.failures == 2 and second.trouble.error == "timed out" and second.trouble.since == 10.0

    back = health.delivered("war-room", 3, now=15.0)
    assert back is not None and (back.failures, back.down_for, back.delivered) == (2, 5.0, 5)
    assert health.delivered("war-room", 1, now=16.0) is None  # healthy again: nothing more to say
    assert health.delivered("status", 4, now=16.0) is None  # never failed: nothing to say


def test_earliest_retry_among_channels_with_messages_left() -> None:
    health = ChannelHealth()
    health.failed("a", "x", 0.0, Fixed(0.0))  # next at 0.5
    health.failed("b", "x", 0.0, Fixed(0.0))
    health.failed("b", "x", 0.5, Fixed(0.0))  # next at 1.5
    assert health.earliest_retry({"a", "b"}) == 0.5
    assert health.earliest_retry({"b"}) == 1.5
    assert health.earliest_retry({"c"}) is None
