"""Delivering the outbox: a failing channel backs off and is reported once when it starts failing
and once when it recovers; other channels keep flowing; each message goes once, in order, even
with two deliverers at once."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from launchdeck.comms.render import Message
from launchdeck.controller import outbox
from launchdeck.core.backoff import ChannelHealth
from launchdeck.errors import NotifyError, UsageError
from launchdeck.plan import load_plan
from launchdeck.store.repo import NewMessage, Store, StoredRelease

EXAMPLES = Path(__file__).parents[2] / "examples"
SECRET = "https://hooks.example/T0/B0/s3cr3t-token"


class Channel:
    """A channel that refuses (as a receiver that is down) until told it is back."""

    def __init__(self, name: str, *, down: bool = False) -> None:
        self.name = name
        self.down = down
        self.attempts: list[float] = []
        self.received: list[Message] = []
        self.clock: FakeClock | None = None

    async def send(self, message: Message) -> None:
        self.attempts.append(self.clock.now if self.clock else 0.0)
        if self.down:
            raise NotifyError(f"webhook channel {self.name!r}: could not reach {SECRET}: HTTP 503")
        self.received.append(message)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store(db_url) as store:
        yield store


def _release(store: Store) -> StoredRelease:
    return store.create(tenant="shop", name="shop-v2", plan_path="plan.yaml", plan_digest="sha256:00", state={})


def _queue(store: Store, release: StoredRelease, *titles_by_channel: tuple[str, str]) -> None:
    store.save(release_id=release.id, state={}, plan_clock=0.0, outcome=None, decisions=[],
               messages=[NewMessage(channel, "stage.started", title, title, "en") for channel, title in titles_by_channel])


def _deliver(store: Store, release: StoredRelease, channels: dict[str, Channel], health: ChannelHealth,
             clock: FakeClock, retry_all: bool = False) -> outbox.DeliveryPass:
    return asyncio.run(outbox.deliver(store=store, release_id=release.id, release_name="shop-v2",
                                      channels=channels, secrets=[SECRET], health=health, rng=random.Random(3),
                                      clock=clock, retry_all=retry_all))


def test_a_failing_channel_is_reported_once_when_it_fails_and_once_when_it_recovers(store: Store) -> None:
    release, clock, health = _release(store), FakeClock(), ChannelHealth()
    hook, status = Channel("war-room", down=True), Channel("status")
    channels = {"war-room": hook, "status": status}
    for c in channels.values():
        c.clock = clock
    notes: list[str] = []
    for tick in range(320):  # 80 s of ticks every 0.25 s; a message for each channel every 5 s for 30 s
        if tick % 20 == 0 and tick < 120:
            _queue(store, release, ("war-room", f"hook {tick // 20}"), ("status", f"status {tick // 20}"))
        if tick == 100:
            hook.down = False  # the receiver is back after 25 s
        notes += _deliver(store, release, channels, health, clock).notes
        clock.now += 0.25

    failing = [n for n in notes if "is failing" in n]
    recovered = [n for n in notes if "recovered" in n]
    assert len(notes) == 2 and len(failing) == 1 and len(recovered) == 1, notes
    assert "HTTP 503" in failing[0] and "retried in" in failing[0] and SECRET not in failing[0]
    assert "6 held-back message(s) went through" in recovered[0]
    # Backed off: a handful of failed attempts in 25 s and more, not one per tick (100 and more).
    failed_attempts = len(hook.attempts) - 6
    assert 3 <= failed_attempts <= 8, hook.attempts
    # Every message arrived once, in the order it was decided; the healthy channel was never held up.
    assert [m.title for m in hook.received] == [f"hook {i}" for i in range(6)]
    assert [m.title for m in status.received] == [f"status {i}" for i in range(6)]
    assert status.attempts == [1000.0 + 5 * i for i in range(6)]
    assert store.pending_messages(release_id=release.id) == []


def test_a_refused_message_keeps_its_redacted_error_and_the_ones_behind_it_wait(store: Store) -> None:
    release, clock, health = _release(store), FakeClock(), ChannelHealth()
    hook = Channel("war-room", down=True)
    _queue(store, release, ("war-room", "first"), ("war-room", "second"))
    done = _deliver(store, release, {"war-room": hook}, health, clock)
    assert len(hook.attempts) == 1  # the second waits behind the first
    first, second = store.pending_messages(release_id=release.id)
    assert first.attempts == 1 and "HTTP 503" in (first.last_error or "") and SECRET not in (first.last_error or "")
    assert second.attempts == 0 and done.refused["war-room"] == first.last_error
    assert outbox.undelivered(store, release.id) == {"count": 2, "channels": ["war-room"]}

    assert _deliver(store, release, {"war-room": hook}, health, clock).notes == ()  # in backoff: not tried
    assert len(hook.attempts) == 1
    _deliver(store, release, {"war-room": hook}, health, clock, retry_all=True)  # the run's last attempt
    assert len(hook.attempts) == 2


def test_a_message_for_a_channel_the_plan_no_longer_has_stays_queued_and_is_said(store: Store) -> None:
    release = _release(store)
    _queue(store, release, ("pager", "page"))
    done = _deliver(store, release, {}, ChannelHealth(), FakeClock(), retry_all=True)
    assert "no channel 'pager'" in done.refused["pager"]
    assert outbox.undelivered(store, release.id)["count"] == 1


class SlowChannel(Channel):
    """Takes each message only when let go, so a second deliverer can try meanwhile."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.started = asyncio.Event()
        self.go = asyncio.Event()

    async def send(self, message: Message) -> None:
        self.started.set()
        await self.go.wait()
        await super().send(message)


def test_two_deliverers_at_once_send_each_message_once(db_url: str, tmp_path: Path) -> None:
    # Two stores stand for two processes (the run and `messages flush`), each with its own connections.
    with Store(db_url) as first, Store(db_url) as second:
        release = _release(first)
        _queue(first, release, ("war-room", "one"), ("war-room", "two"))
        hook = SlowChannel("war-room")

        async def both() -> tuple[outbox.DeliveryPass, outbox.DeliveryPass]:
            a = asyncio.create_task(outbox.deliver(store=first, release_id=release.id, release_name="shop-v2",
                                                   channels={"war-room": hook}, secrets=[], health=ChannelHealth(),
                                                   rng=random.Random(1)))
            await hook.started.wait()  # the first holds the outbox, in the middle of sending "one"
            b = await outbox.deliver(store=second, release_id=release.id, release_name="shop-v2",
                                     channels={"war-room": hook}, secrets=[], health=ChannelHealth(),
                                     rng=random.Random(2), retry_all=True)
            hook.go.set()
            return await a, b

        a, b = asyncio.run(both())
    assert b.busy and b.sent == ()
    assert [m.title for m in hook.received] == ["one", "two"]
    assert [m.key for m in hook.received] == [f"shop-v2:0:{r.id}" for r in a.sent]  # release:epoch:id (no lease here)


def test_flush_finds_the_channels_a_train_service_ran_with() -> None:
    train = load_plan(EXAMPLES / "media-gateway-train.yaml")
    entry, spec = train.services[0]
    assert outbox.release_spec(train, f"{train.name}.{entry.name}") is spec
    with pytest.raises(UsageError, match="no service whose release is"):
        outbox.release_spec(train, f"{train.name}.no-such-service")
    single = load_plan(EXAMPLES / "intelgraph-canary.yaml")
    with pytest.raises(UsageError, match="is the plan of intelgraph"):
        outbox.release_spec(single, "shop-v2")
