"""A Slack channel through a bot token: one thread per release.

The release's first message posts a parent (``chat.postMessage``) that reads as the release's status
line; every message then goes in that parent's thread (``thread_ts``), and the parent is updated
(``chat.update``) to the newest status line, which says the stage, the weight and what happened (a
gate firing, a hold, a rollback). A message whose route has ``broadcast`` is also shown in the channel
(``reply_broadcast``). Messages that wait for a person carry buttons (``slack_blocks``).

The parent's channel and ``ts`` are kept through a :class:`ThreadBook` (the store's, in a run), so a
worker that takes the release over threads under the same parent. Slack answers ``{"ok": false,
"error": …}`` for what it refuses; each error becomes a :class:`~launchdeck.errors.NotifyError` with
what to do, and the message is retried. The token never appears in an error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from launchdeck.adapters.notify import slack_blocks, unreachable
from launchdeck.comms.render import Message
from launchdeck.errors import NotifyError
from launchdeck.store.chat import Thread

WEB_API = "https://slack.com/api/"
_HINTS = {
    "not_authed": "the bot token is missing; export it (the channel's token: env:NAME)",
    "invalid_auth": "the bot token is not valid; install the Slack app again and export its bot token",
    "token_revoked": "the bot token was revoked; install the Slack app again",
    "channel_not_found": "the channel id is wrong, or the bot is not in it: /invite the app to the channel",
    "not_in_channel": "invite the app to the channel (/invite @launchdeck)",
    "is_archived": "the channel is archived; unarchive it or route to another channel",
    "missing_scope": "the app lacks the chat:write scope; add it and reinstall the app",
    "ratelimited": "Slack is rate limiting the app; the message is retried",
    "thread_not_found": "the release's parent message was deleted; its messages are retried",
    "message_not_found": "the release's parent message was deleted; its messages are retried",
}


class ThreadBook(Protocol):
    """Where a release's parent message on each channel is kept."""

    def get(self, channel: str) -> Thread | None: ...

    def keep(self, channel: str, thread: Thread) -> Thread: ...


class MemoryThreads:
    """A thread book for one process (tests, `launchdeck messages flush` with no store)."""

    def __init__(self) -> None:
        self.threads: dict[str, Thread] = {}

    def get(self, channel: str) -> Thread | None:
        return self.threads.get(channel)

    def keep(self, channel: str, thread: Thread) -> Thread:
        return self.threads.setdefault(channel, thread)


def status_line(message: Message, at: datetime | None = None) -> str:
    """The parent's text: the newest message's title and when it happened."""
    when = (at or datetime.now(UTC)).strftime("%H:%M:%S UTC")
    return f"{message.title}\n_last update {when} · the release's messages are in this thread_"


class SlackThreadChannel:
    def __init__(self, name: str, token: str, channel_id: str, *, threads: ThreadBook | None = None,
                 base_url: str = WEB_API, timeout_s: int = 10) -> None:
        self.name = name
        self.channel_id = channel_id
        self.threads: ThreadBook = threads if threads is not None else MemoryThreads()
        self._client = AsyncWebClient(token=token, base_url=base_url if base_url.endswith("/") else base_url + "/",
                                      timeout=timeout_s)

    async def send(self, message: Message) -> None:
        try:
            thread = self.threads.get(self.name)
            if thread is None:
                answer = await self._client.chat_postMessage(channel=self.channel_id, text=status_line(message))
                thread = self.threads.keep(self.name, Thread(str(answer["channel"]), str(answer["ts"])))
            else:
                await self._client.chat_update(channel=thread.slack_channel, ts=thread.ts, text=status_line(message))
            blocks = slack_blocks.blocks(message.event, message.text, message.release)
            await self._client.chat_postMessage(channel=thread.slack_channel, thread_ts=thread.ts, text=message.text,
                                                blocks=blocks, reply_broadcast=message.broadcast or None)
        except SlackApiError as e:
            error = str(e.response.get("error", "")) if e.response is not None else ""
            raise NotifyError(f"slack channel {self.name!r} refused a {message.event} message: {error}",
                              hint=_HINTS.get(error, "the message stays queued and is retried")) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise unreachable(f"slack channel {self.name!r}", message.event, "the Slack Web API", e) from None
