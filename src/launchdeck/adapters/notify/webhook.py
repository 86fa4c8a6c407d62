"""A generic webhook channel: each message POSTed as JSON, signed with HMAC-SHA256 when the plan
gives a ``secret``.

The body is ``{"id", "release", "channel", "event", "locale", "title", "text"}``; ``id`` stays the
same when a message is retried, so a receiver can drop duplicates (also sent as
``X-Launchdeck-Delivery``). With a secret, ``X-Launchdeck-Signature: t=<unix time>,v1=<hex>`` where
the hex is HMAC-SHA256(secret, "<t>." + body): a receiver recomputes it over the raw body and
refuses old timestamps to stop replays. Any 2xx answer is delivery; anything else is a
:class:`~launchdeck.errors.NotifyError` and the message is retried.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

import httpx

from launchdeck.adapters.notify import unreachable
from launchdeck.comms.render import Message
from launchdeck.errors import NotifyError


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Launchdeck-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class WebhookChannel:
    def __init__(self, name: str, url: str, *, secret: str | None = None, timeout_s: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.name = name
        self._url = url
        self._secret = secret
        self._timeout_s = timeout_s
        self._clock = clock

    async def send(self, message: Message) -> None:
        body = json.dumps({"id": message.key, "release": message.release, "channel": self.name,
                           "event": message.event, "locale": message.locale, "title": message.title,
                           "text": message.text}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "X-Launchdeck-Event": message.event,
                   "X-Launchdeck-Delivery": message.key, "Idempotency-Key": message.key}
        if self._secret:
            headers["X-Launchdeck-Signature"] = signature(self._secret, int(self._clock()), body)
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s) as client:
                response = await client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as e:
            raise unreachable(f"webhook channel {self.name!r}", message.event, "its receiver", e) from None
        if not response.is_success:
            raise NotifyError(
                f"webhook channel {self.name!r}: the receiver answered HTTP {response.status_code} to a "
                f"{message.event} message: {response.text.strip()[:200]}",
                hint=("the signature was refused: check that the receiver and the plan's secret agree"
                      if response.status_code in (401, 403) else "the message stays queued and is retried"),
            )
