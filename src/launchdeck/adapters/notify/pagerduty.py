"""A PagerDuty channel: alerts through the Events API v2 (``POST /v2/enqueue``), promotions as Change Events
(``POST /v2/change/enqueue``).

Every alert of a release is a ``trigger`` with the same ``dedup_key`` (``launchdeck/<release>``),
so one release makes at most one open alert, and the later messages (rollback started, escalations)
are added to it rather than paging again; a retried message cannot page twice. When the rollback
completes or the incident is resolved, a ``resolve`` for that dedup key closes the alert. The release
starting, each stage starting or passed and the release's end are Change Events: they show on the
service's timeline beside the alert, and page nobody. The severity of a trigger follows the event: a
fired gate, a rollback starting or an escalation is ``critical``. PagerDuty answers ``202``
(``{"status": "success", "dedup_key": …}``), ``400`` with the list of what is invalid, or ``429``
when rate limited; anything but 202 is a :class:`~launchdeck.errors.NotifyError` and the message is
retried. The routing key is a secret and never put in an error.
"""

from __future__ import annotations

import httpx

from launchdeck.adapters.notify import unreachable
from launchdeck.comms.render import Message
from launchdeck.errors import NotifyError

EVENTS_V2 = "https://events.pagerduty.com/v2/enqueue"
#: Events that close the release's alert.
RESOLVING = frozenset({"rollback.completed", "incident.resolved"})
#: Events that are changes, not alerts: sent to the Change Events API.
CHANGES = frozenset({"release.started", "stage.started", "stage.passed", "approval.granted", "release.completed"})
SEVERITY = {
    "gate.fired": "critical", "rollback.started": "critical", "escalation": "critical",
    "preflight.failed": "error", "checkpoint.failed": "error",
    "incident.opened": "critical", "hold.started": "warning", "decision.requested": "warning",
}


class PagerDutyChannel:
    def __init__(self, name: str, routing_key: str, *, url: str = EVENTS_V2, timeout_s: float = 10.0) -> None:
        self.name = name
        self._routing_key = routing_key
        self._url = url
        self._timeout_s = timeout_s

    @property
    def change_url(self) -> str:
        """The Change Events endpoint beside the Events endpoint (``…/v2/enqueue`` → ``…/v2/change/enqueue``)."""
        return self._url.removesuffix("/v2/enqueue") + "/v2/change/enqueue"

    def event(self, message: Message) -> dict[str, object]:
        """The Events API v2 body for ``message``: a trigger, or the resolve of the release's alert."""
        dedup = f"launchdeck/{message.release}"[:255]
        if message.event in RESOLVING:
            return {"routing_key": self._routing_key, "event_action": "resolve", "dedup_key": dedup}
        payload: dict[str, object] = {
            "summary": message.title[:1024] or message.event,
            "source": "launchdeck",
            "severity": SEVERITY.get(message.event, "info"),
            "class": message.event,
            "custom_details": {"text": message.text, "event": message.event, "id": message.key},
        }
        if message.release:
            payload["component"] = message.release
        return {"routing_key": self._routing_key, "event_action": "trigger",
                "dedup_key": dedup, "client": "launchdeck", "payload": payload}

    def change(self, message: Message) -> dict[str, object]:
        """The Change Events body for ``message``."""
        from datetime import UTC, datetime

        return {"routing_key": self._routing_key, "payload": {
            "summary": (message.title or message.event)[:1024], "source": "launchdeck",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "custom_details": {"text": message.text, "event": message.event, "release": message.release,
                               "id": message.key}}}

    async def send(self, message: Message) -> None:
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s) as client:
                if message.event in CHANGES:
                    response = await client.post(self.change_url, json=self.change(message))
                else:
                    response = await client.post(self._url, json=self.event(message))
        except httpx.HTTPError as e:
            raise unreachable(f"pagerduty channel {self.name!r}", message.event, "the Events API", e) from None
        if response.status_code == 202:
            return
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            detail = "; ".join(map(str, body.get("errors") or [])) or str(body.get("message", ""))
        else:
            detail = response.text.strip()[:200]
        hint = {400: "check that routingKey is an Events API v2 integration key (32 characters)",
                429: "PagerDuty is rate limiting this integration; the page will be retried"}
        raise NotifyError(
            f"pagerduty channel {self.name!r} refused a {message.event} page: HTTP {response.status_code} {detail}",
            hint=hint.get(response.status_code, "the page stays queued and is retried on the next tick"),
        )
