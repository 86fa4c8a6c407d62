"""A Microsoft Teams channel: an incoming webhook, posted an Adaptive Card.

Teams' incoming webhooks (and Workflows' "post to a channel when a webhook request is received")
take ``{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
"content": <AdaptiveCard 1.4>}]}``. The card has the message's title as a bold heading and its other
lines as text blocks. Any 2xx is delivery; anything else a :class:`~launchdeck.errors.NotifyError`
(retried). The webhook's URL carries its secret and is never put in an error.
"""

from __future__ import annotations

import httpx

from launchdeck.adapters.notify import unreachable
from launchdeck.comms.render import Message
from launchdeck.errors import NotifyError

CARD = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"


def adaptive_card(message: Message) -> dict[str, object]:
    """The webhook body for ``message``: one Adaptive Card."""
    lines = message.text.split("\n")
    body: list[dict[str, object]] = [{"type": "TextBlock", "text": message.title or message.event, "weight": "Bolder",
                                      "size": "Medium", "wrap": True}]
    rest = "\n\n".join(line for line in lines[1:] if line.strip())
    if rest:
        body.append({"type": "TextBlock", "text": rest, "wrap": True})
    facts = [{"title": "Event", "value": message.event}]
    if message.release:
        facts.append({"title": "Release", "value": message.release})
    body.append({"type": "FactSet", "facts": facts})
    return {"type": "message", "attachments": [{"contentType": CARD, "contentUrl": None, "content": {
        "$schema": SCHEMA, "type": "AdaptiveCard", "version": "1.4", "body": body}}]}


class TeamsChannel:
    def __init__(self, name: str, url: str, *, timeout_s: float = 10.0) -> None:
        self.name = name
        self._url = url
        self._timeout_s = timeout_s

    async def send(self, message: Message) -> None:
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s) as client:
                response = await client.post(self._url, json=adaptive_card(message))
        except httpx.HTTPError as e:
            raise unreachable(f"teams channel {self.name!r}", message.event, "its webhook", e) from None
        if not response.is_success:
            raise NotifyError(
                f"teams channel {self.name!r} refused a {message.event} message: HTTP {response.status_code} "
                f"{response.text.strip()[:200]}",
                hint=("the webhook was removed or its URL is wrong; create a new one and export it"
                      if response.status_code in (400, 404) else "the message stays queued and is retried"))
