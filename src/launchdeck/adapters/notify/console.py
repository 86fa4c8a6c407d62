"""A channel that prints messages to a terminal stream (stderr unless told otherwise)."""

from __future__ import annotations

import sys
from typing import TextIO

from launchdeck.comms.render import Message
from launchdeck.errors import NotifyError


class ConsoleChannel:
    """Prints ``[channel] text`` to ``stream``; the default is the *current* ``sys.stderr``."""

    def __init__(self, name: str, *, stream: TextIO | None = None) -> None:
        self.name = name
        self._stream = stream

    async def send(self, message: Message) -> None:
        stream = self._stream if self._stream is not None else sys.stderr
        try:
            stream.write(f"[{self.name}] {message.text}\n")
            stream.flush()
        except (OSError, ValueError) as e:  # ValueError: the stream is closed
            raise NotifyError(
                f"console channel {self.name!r} could not print a {message.event} message: {e}",
                hint="check that the terminal or the stream the channel writes to is still open",
            ) from e
