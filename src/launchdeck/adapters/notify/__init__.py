"""Notification channels: where rendered messages go."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from launchdeck.errors import NotifyError

if TYPE_CHECKING:
    from launchdeck.comms.render import Message

__all__ = ["Notifier", "unreachable"]


@runtime_checkable
class Notifier(Protocol):
    """A channel a rendered message can be sent to.

    ``send`` raises :class:`launchdeck.errors.NotifyError` (with a hint) when the channel cannot
    take the message; callers redact secrets before calling it.
    """

    name: str

    async def send(self, message: Message) -> None: ...


def unreachable(channel: str, event: str, where: str, error: BaseException) -> NotifyError:
    """The error for a service that could not be reached. Only the exception's type is kept: its
    text may hold the URL, which is a secret for webhooks."""
    return NotifyError(f"{channel} could not reach {where} for a {event} message: {type(error).__name__}",
                       hint=f"check the network path to {where}; the message stays queued and is retried")
