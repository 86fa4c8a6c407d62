"""Notification channels: where rendered messages go."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from launchdeck.comms.render import Message

__all__ = ["Notifier"]


@runtime_checkable
class Notifier(Protocol):
    """A channel a rendered message can be sent to.

    ``send`` raises :class:`launchdeck.errors.NotifyError` (with a hint) when the channel cannot
    take the message; callers redact secrets before calling it.
    """

    name: str

    async def send(self, message: Message) -> None: ...
