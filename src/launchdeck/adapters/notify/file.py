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

    A message with an idempotency key (the outbox's ``release:epoch:id``) is written with it, once: a run
    that crashed after writing a line and before the outbox recorded it sends it again, and the key
    already in the file makes that a no-op, as a webhook's receiver does with ``Idempotency-Key``.
    """

    def __init__(self, name: str, path: Path | str, *, clock: Callable[[], str] | None = None) -> None:
        self.name = name
        self.path = Path(path)
        self._clock = clock or _now
        self._lock = asyncio.Lock()
        self._keys: set[str] | None = None  # the keys already in the file, read at the first keyed send

    async def send(self, message: Message) -> None:
        record = {
            "at": self._clock(),
            "channel": self.name,
            "event": message.event,
            "locale": message.locale,
            "title": message.title,
            "text": message.text,
        }
        if message.key:
            record["key"] = message.key
        line = json.dumps(record, ensure_ascii=False) + "\n"
        async with self._lock:
            if message.key:
                if self._keys is None:
                    self._keys = await asyncio.to_thread(self._written_keys)
                if message.key in self._keys:
                    return
            await asyncio.to_thread(self._append, line, message.event)
            if message.key and self._keys is not None:
                self._keys.add(message.key)

    def _written_keys(self) -> set[str]:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return set()
        keys = set()
        for line in text.splitlines():
            try:
                key = json.loads(line).get("key")
            except (ValueError, AttributeError):
                continue
            if isinstance(key, str):
                keys.add(key)
        return keys

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
