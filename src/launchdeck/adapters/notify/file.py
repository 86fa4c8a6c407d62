"""A channel that appends each message as one JSON object per line (JSONL)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from launchdeck.comms.render import Message
from launchdeck.errors import NotifyError


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FileChannel:
    """Appends ``{"at", "channel", "event", "locale", "title", "text"}`` lines to ``path``.

    Parent folders are created; every line is flushed and fsynced before ``send`` returns, so a
    crash never leaves half a message. ``clock`` returns the ISO time written as ``at``.
    """

    def __init__(self, name: str, path: Path | str, *, clock: Callable[[], str] | None = None) -> None:
        self.name = name
        self.path = Path(path)
        self._clock = clock or _now
        self._lock = asyncio.Lock()

    async def send(self, message: Message) -> None:
        record = {
            "at": self._clock(),
            "channel": self.name,
            "event": message.event,
            "locale": message.locale,
            "title": message.title,
            "text": message.text,
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line, message.event)

    def _append(self, line: str, event: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line)
                out.flush()
                os.fsync(out.fileno())
        except OSError as e:
            raise NotifyError(
                f"file channel {self.name!r} could not write a {event} message to {self.path}: "
                f"{e.strerror or e}",
                hint=f"make sure {self.path.parent} is a writable folder (or change the channel's path)",
            ) from e
