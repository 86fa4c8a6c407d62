"""Stand-ins for the services that cannot run here (Slack, PagerDuty, a team's webhook receiver):
real HTTP servers on loopback, in a thread, that check each request the way the real API does and
answer as it answers. Each records what it accepted, so tests read what a person would have seen.

* Slack incoming webhooks: ``POST /services/T…/B…/<token>``, a JSON body with non-empty ``text``
  (or ``blocks``); ``200 ok``, else the real error bodies: ``invalid_payload`` (400, not JSON),
  ``no_text`` (400), ``no_service`` (404, unknown token), ``channel_is_archived`` (410).
* PagerDuty Events API v2: ``POST /v2/enqueue``; a 32-character ``routing_key`` known to the
  service, ``event_action`` trigger/acknowledge/resolve, ``dedup_key`` at most 255 characters,
  ``payload.summary`` (1..1024), ``payload.source`` and ``payload.severity``
  (critical/error/warning/info) for triggers; ``202 {"status": "success", …}``, else
  ``400 {"status": "invalid event", "errors": [...]}``.
* A webhook receiver that verifies ``X-Launchdeck-Signature`` (HMAC-SHA256 over "<t>." + body) and
  refuses a bad one with 401; it can be told to fail its first N requests with 503 (a dead
  receiver coming back).

Any of them can be taken down: while ``service.down`` is True every request is answered 503 (the
test flips it back, so "down for the first part of a run" never depends on timing).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, str, bytes]


@dataclass
class FakeService:
    respond: Callable[[Request], Reply]
    accepted: list[Request] = field(default_factory=list)
    refused: list[tuple[int, Request]] = field(default_factory=list)
    slow_first_s: float = 0.0
    """Answer the first request only after this long (a service having a bad moment)."""
    answered_at: list[float] = field(default_factory=list)
    """Wall time (time.time()) of each answer, in order."""
    down: bool = False
    """While True, every request is refused with 503 (and recorded in ``refused``)."""

    def __enter__(self) -> FakeService:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                status, ctype, body = _text(503, "service down") if service.down else service.respond(req)
                if service.slow_first_s and not service.answered_at:
                    threading.Event().wait(service.slow_first_s)
                (service.accepted.append(req) if status < 300 else service.refused.append((status, req)))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                service.answered_at.append(time.time())

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"


def _text(status: int, body: str) -> Reply:
    return status, "text/html", body.encode()


def _json(status: int, body: object) -> Reply:
    return status, "application/json", json.dumps(body).encode()


def slack(tokens: set[str], *, archived: frozenset[str] = frozenset(), slow_first_s: float = 0.0) -> FakeService:
    """Tokens are the webhook path after /services/, e.g. "T000/B000/secret-token"."""

    def respond(req: Request) -> Reply:
        token = req.path.removeprefix("/services/")
        if not req.path.startswith("/services/") or token not in tokens | archived:
            return _text(404, "no_service")
        if token in archived:
            return _text(410, "channel_is_archived")
        if not req.headers.get("content-type", "").startswith("application/json"):
            return _text(400, "invalid_payload")
        try:
            body = req.json()
        except ValueError:
            return _text(400, "invalid_payload")
        if not isinstance(body, dict) or not (str(body.get("text") or "").strip() or body.get("blocks")):
            return _text(400, "no_text")
        return _text(200, "ok")

    return FakeService(respond, slow_first_s=slow_first_s)


SEVERITIES = ("critical", "error", "warning", "info")


def pagerduty(routing_keys: set[str]) -> FakeService:
    def respond(req: Request) -> Reply:
        if req.path != "/v2/enqueue":
            return _json(404, {"status": "not found"})
        try:
            event = req.json()
        except ValueError:
            return _json(400, {"status": "invalid event", "message": "Event object is invalid",
                               "errors": ["Malformed JSON"]})
        errors = []
        key = event.get("routing_key")
        if not isinstance(key, str) or len(key) != 32:
            errors.append("'routing_key' must be 32 characters")
        elif key not in routing_keys:
            errors.append("'routing_key' is not an integration key of this account")
        if event.get("event_action") not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is missing or invalid")
        if len(str(event.get("dedup_key") or "")) > 255:
            errors.append("'dedup_key' is longer than 255 characters")
        if event.get("event_action") == "trigger":
            payload = event.get("payload") or {}
            summary = payload.get("summary")
            if not isinstance(summary, str) or not 0 < len(summary) <= 1024:
                errors.append("'payload.summary' is missing or longer than 1024 characters")
            if not payload.get("source"):
                errors.append("'payload.source' is missing")
            if payload.get("severity") not in SEVERITIES:
                errors.append("'payload.severity' must be one of critical, error, warning, info")
        if errors:
            return _json(400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors})
        return _json(202, {"status": "success", "message": "Event processed", "dedup_key": event.get("dedup_key")})

    return FakeService(respond)


def webhook_receiver(secret: str | None, *, fail_first: int = 0) -> FakeService:
    failures = [fail_first]

    def respond(req: Request) -> Reply:
        if failures[0] > 0:
            failures[0] -= 1
            return _text(503, "receiver restarting")
        if secret is not None:
            header = req.headers.get("x-launchdeck-signature", "")
            parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
            expected = hmac.new(secret.encode(), f"{parts.get('t', '')}.".encode() + req.body, hashlib.sha256)
            if not hmac.compare_digest(parts.get("v1", ""), expected.hexdigest()):
                return _text(401, "bad signature")
        return _text(204, "")

    return FakeService(respond)
