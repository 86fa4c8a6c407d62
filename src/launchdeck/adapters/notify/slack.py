"""A Slack channel: an incoming webhook, posted with slack_sdk's ``AsyncWebhookClient``.

Slack answers ``200 ok``, or an HTTP error whose body names the problem (``invalid_payload``,
``no_text``, ``no_service``, ``channel_not_found``, ``channel_is_archived``, ``action_prohibited``,
…). Each is turned into a :class:`~launchdeck.errors.NotifyError` saying what to do; the message
stays in the outbox and is retried. The webhook's URL is a secret (its path is the token): it is
never put in an error.
"""

from __future__ import annotations

import asyncio

import aiohttp
from slack_sdk.webhook.async_client import AsyncWebhookClient

from launchdeck.adapters.notify import slack_blocks, unreachable
from launchdeck.comms.render import Message
from launchdeck.errors import NotifyError

_HINTS = {
    "invalid_payload": "Slack could not read the message; this is a launchdeck bug, please report it",
    "no_text": "the message was empty; check the route's template",
    "no_service": "the webhook was removed or its URL is wrong; create a new incoming webhook and export it",
    "no_team": "the webhook's workspace is gone; create a new incoming webhook",
    "team_disabled": "the webhook's workspace is disabled",
    "channel_not_found": "the webhook's channel was deleted; create a webhook for an existing channel",
    "channel_is_archived": "the webhook's channel is archived; unarchive it or create a webhook for another channel",
    "action_prohibited": "a workspace admin restricted posting to this channel",
    "invalid_token": "the webhook's token is no longer valid; create a new incoming webhook",
}


class SlackChannel:
    """Posts each message's text (Slack mrkdwn) to an incoming webhook."""

    def __init__(self, name: str, url: str, *, channel: str | None = None, timeout_s: int = 10) -> None:
        self.name = name
        self._client = AsyncWebhookClient(url, timeout=timeout_s)
        self._channel = channel  # only legacy webhooks honour it; current ones post where they were made

    async def send(self, message: Message) -> None:
        body: dict[str, object] = {"text": message.text}
        buttons = slack_blocks.blocks(message.event, message.text, message.release)
        if buttons:  # interactive when the webhook belongs to the launchdeck Slack app
            body["blocks"] = buttons
        if self._channel:
            body["channel"] = self._channel
        try:
            response = await self._client.send_dict(body)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            raise unreachable(f"slack channel {self.name!r}", message.event, "its webhook", e) from None
        if response.status_code == 200:
            return
        error = (response.body or "").strip()[:100]
        raise NotifyError(
            f"slack channel {self.name!r} refused a {message.event} message: HTTP {response.status_code} {error}",
            hint=_HINTS.get(error, "the message stays queued and is retried on the next tick"),
        )
