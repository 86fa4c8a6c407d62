"""When to try a failing message channel again: exponential backoff with jitter, per channel.

A channel that refused a message is left alone until its next-attempt time, which doubles with
each consecutive failure up to a cap; jitter spreads the retries of several runs (or several
channels behind one proxy) so they do not hit a recovering receiver in step. Other channels are
unaffected. Times are seconds on whatever clock the caller passes (the runner uses wall time), and
randomness comes in as an argument, so this module does no I/O and is tested with fixed numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol


class Random(Protocol):
    """What the backoff needs from a random source (``random.Random`` satisfies it)."""

    def random(self) -> float: ...


@dataclass(frozen=True)
class ChannelBackoff:
    """Equal jitter: the n-th consecutive failure waits between half and all of
    ``min(cap_s, base_s * 2**(n-1))``. Half the ceiling is kept, so a channel is never retried at
    once (full jitter can draw ~0 and hammer a receiver that is down), and the other half is random."""

    base_s: float = 1.0
    """The ceiling after the first failure."""
    cap_s: float = 60.0
    """No wait is longer than this, however long the channel has been failing."""

    def ceiling(self, failures: int) -> float:
        """The longest wait after ``failures`` consecutive failures (at least 1)."""
        return min(self.cap_s, self.base_s * 2.0 ** (max(1, failures) - 1))

    def next_delay(self, failures: int, rng: Random) -> float:
        top = self.ceiling(failures)
        return top / 2 + rng.random() * top / 2


@dataclass(frozen=True)
class ChannelTrouble:
    """A channel that is failing: since when, how often, what it said, and when to try again."""

    since: float
    failures: int
    error: str
    next_attempt_at: float
    delivered: int = 0
    """Messages that went through while it was still failing (it refused a later one)."""


@dataclass(frozen=True)
class Failed:
    """What a failure means for the channel; ``started`` is True for the first one of a streak."""

    trouble: ChannelTrouble
    started: bool
    delay: float


@dataclass(frozen=True)
class Recovered:
    """A failing channel that took every message it was given: how long it was down and how
    many held-back messages went through."""

    channel: str
    failures: int
    down_for: float
    delivered: int


@dataclass
class ChannelHealth:
    """Which channels are failing and when each may be tried again (one per run, in memory).

    Nothing is stored: after a restart every channel is tried at once, which is what an operator
    who restarted expects."""

    policy: ChannelBackoff = ChannelBackoff()
    troubles: dict[str, ChannelTrouble] = field(default_factory=dict)

    def due(self, channel: str, now: float) -> bool:
        trouble = self.troubles.get(channel)
        return trouble is None or now >= trouble.next_attempt_at

    def failed(self, channel: str, error: str, now: float, rng: Random, *, delivered: int = 0) -> Failed:
        """The channel refused a message, after taking ``delivered`` others in the same attempt."""
        before = self.troubles.get(channel)
        failures = (before.failures if before else 0) + 1
        delay = self.policy.next_delay(failures, rng)
        if before is None:
            trouble = ChannelTrouble(since=now, failures=1, error=error, next_attempt_at=now + delay)
        else:
            trouble = replace(before, failures=failures, error=error, next_attempt_at=now + delay,
                              delivered=before.delivered + delivered)
        self.troubles[channel] = trouble
        return Failed(trouble, started=before is None, delay=delay)

    def delivered(self, channel: str, count: int, now: float) -> Recovered | None:
        """``count`` messages of a channel went through and none of it failed after them: a failing
        channel has recovered (returned once, so it is said once); a healthy one stays quiet."""
        trouble = self.troubles.pop(channel, None)
        if trouble is None:
            return None
        return Recovered(channel, trouble.failures, now - trouble.since, trouble.delivered + count)

    def earliest_retry(self, channels: set[str]) -> float | None:
        """The soonest next-attempt time among these channels that are failing, if any."""
        times = [t.next_attempt_at for c, t in self.troubles.items() if c in channels]
        return min(times) if times else None
