"""What chat delivery keeps: a release's Slack thread per channel, and every delivery attempt of a message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from launchdeck.errors import StoreError
from launchdeck.store.repo import Store, now_utc
from launchdeck.store.tables import ChatThreadRow, MessageAttemptRow, MessageRow


@dataclass(frozen=True)
class Thread:
    slack_channel: str
    ts: str


class StoredThreads:
    """The threads of one release (``adapters.notify.slack_thread.ThreadBook``), kept in the store so every
    process that delivers the release's messages threads them under the same parent."""

    def __init__(self, store: Store, release_id: int) -> None:
        self.store = store
        self.release_id = release_id

    def get(self, channel: str) -> Thread | None:
        with self.store.session() as s:
            row = s.scalars(select(ChatThreadRow).where(ChatThreadRow.release_id == self.release_id,
                                                        ChatThreadRow.channel == channel)).first()
            return Thread(row.slack_channel, row.ts) if row else None

    def keep(self, channel: str, thread: Thread) -> Thread:
        """Keep the parent; when another process kept one first, theirs wins and is returned."""
        try:
            with self.store.session() as s:
                s.add(ChatThreadRow(release_id=self.release_id, channel=channel, slack_channel=thread.slack_channel,
                                    ts=thread.ts, updated_at=now_utc()))
        except StoreError as e:  # the store wraps the IntegrityError of a second parent
            if not isinstance(e.__cause__, IntegrityError):
                raise
            kept = self.get(channel)
            assert kept is not None
            return kept
        return thread


@dataclass(frozen=True)
class Attempt:
    at: datetime
    error: str | None


def attempts(store: Store, *, release_id: int) -> dict[int, list[Attempt]]:
    """Every delivery attempt of the release's messages, by message id, oldest first."""
    with store.session() as s:
        rows = s.execute(select(MessageAttemptRow).join(MessageRow, MessageRow.id == MessageAttemptRow.message_id)
                         .where(MessageRow.release_id == release_id).order_by(MessageAttemptRow.id)).scalars()
        out: dict[int, list[Attempt]] = {}
        for row in rows:
            out.setdefault(row.message_id, []).append(Attempt(row.at, row.error))
        return out
