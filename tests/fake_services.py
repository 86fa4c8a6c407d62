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
* PagerDuty Change Events: ``POST /v2/change/enqueue``; the routing key, ``payload.summary``, an ISO 8601
  ``payload.timestamp``; no ``event_action`` or ``dedup_key``.
* Microsoft Teams incoming webhooks: one Adaptive Card in ``attachments`` (``teams``).
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


def _change_event(event: dict[str, Any]) -> list[str]:
    """What the Change Events API (``POST /v2/change/enqueue``) refuses: summary, source, timestamp (ISO 8601)."""
    payload = event.get("payload") or {}
    errors = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or not 0 < len(summary) <= 1024:
        errors.append("'payload.summary' is missing or longer than 1024 characters")
    try:
        from datetime import datetime

        datetime.fromisoformat(str(payload.get("timestamp")))
    except ValueError:
        errors.append("'payload.timestamp' must be an ISO 8601 time")
    if "event_action" in event or "dedup_key" in event:
        errors.append("a change event takes neither 'event_action' nor 'dedup_key'")
    return errors


def pagerduty(routing_keys: set[str]) -> FakeService:
    """Events API v2 at ``/v2/enqueue`` and Change Events at ``/v2/change/enqueue``."""

    def respond(req: Request) -> Reply:
        if req.path not in ("/v2/enqueue", "/v2/change/enqueue"):
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
        if req.path == "/v2/change/enqueue":
            errors += _change_event(event)
            if errors:
                return _json(400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors})
            return _json(202, {"status": "success", "message": "Change event processed"})
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


def teams(paths: set[str]) -> FakeService:
    """A Teams incoming webhook: ``POST <path>`` with ``{"type": "message", "attachments": [one Adaptive Card]}``;
    Teams answers 200 "1", or 400 with its words when the card is malformed; 404 for an unknown webhook."""

    def respond(req: Request) -> Reply:
        if req.path not in paths:
            return _text(404, "Webhook not found")
        try:
            body = req.json()
        except ValueError:
            return _text(400, "Bad payload received by generic incoming webhook.")
        attachments = body.get("attachments") if isinstance(body, dict) else None
        if body.get("type") != "message" or not isinstance(attachments, list) or not attachments:
            return _text(400, "Summary or Text is required.")
        for a in attachments:
            card = a.get("content") or {}
            if a.get("contentType") != "application/vnd.microsoft.card.adaptive" or card.get("type") != "AdaptiveCard":
                return _text(400, "Unsupported attachment content type.")
            if not str(card.get("version", "")).startswith("1.") or not isinstance(card.get("body"), list):
                return _text(400, "Adaptive Card version and body are required.")
            if any(not isinstance(b, dict) or "type" not in b for b in card["body"]):
                return _text(400, "Every card element needs a type.")
        return _text(200, "1")

    return FakeService(respond)


@dataclass
class Mailbox:
    """A real SMTP server (aiosmtpd) on loopback that requires STARTTLS and login, and keeps what it received."""

    port: int
    ca_file: str
    received: list[Any] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


def _self_signed(folder: Any) -> tuple[str, str]:
    """A certificate for 127.0.0.1 / localhost and its key, as PEM files in ``folder``."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                         x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


class smtp_server:  # a lower-case name, used like the other stand-ins: `with fake_services.smtp_server(...)`
    """``with smtp_server(tmp_path, user, password) as box``: mails arrive in ``box.received`` (email.message)."""

    def __init__(self, folder: Any, user: str, password: str) -> None:
        self.folder, self.user, self.password = folder, user, password

    def __enter__(self) -> Mailbox:
        import email
        import email.policy
        import socket
        import ssl

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        cert, key = _self_signed(self.folder)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(cert, key)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        box = Mailbox(port, cert)
        user, password = self.user.encode(), self.password.encode()

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and data.login == user and data.password == password
            if ok:
                box.logins.append(data.login.decode())
            return AuthResult(success=ok, handled=False)

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd names it
                mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
                box.received.append((envelope.mail_from, list(envelope.rcpt_tos), mail))
                return "250 Message accepted for delivery"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=tls,
                                      require_starttls=True, auth_required=True, authenticator=authenticator,
                                      server_hostname="localhost")
        self._controller.start()
        return box

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


@dataclass
class SlackPost:
    channel: str
    ts: str
    text: str
    thread_ts: str | None = None
    blocks: list[Any] | None = None
    reply_broadcast: bool = False
    updates: list[str] = field(default_factory=list)
    """Texts it was given by chat.update, in order (the newest is ``text``)."""


class SlackWeb(FakeService):
    """The Slack Web API (``chat.postMessage``, ``chat.update``) and response URLs, as Slack checks them:
    a bot token in ``Authorization: Bearer`` (``not_authed`` without, ``invalid_auth`` for an unknown one),
    a JSON body, a channel the bot is in (``channel_not_found``), a ``thread_ts`` that is a message of that
    channel (``thread_not_found``), ``chat.update`` of an existing message (``message_not_found``), and
    text or blocks (``no_text``). Slack answers HTTP 200 with ``{"ok": false, "error": …}``.

    ``POST /response/<id>`` is a slash command's or a click's ``response_url``: the JSON answers land in
    ``responses`` (with ``replace_original``, the message it belongs to is replaced)."""

    def __init__(self, tokens: set[str], channels: set[str]) -> None:
        super().__init__(self._respond)
        self.tokens, self.channels = tokens, channels
        self.posts: list[SlackPost] = []
        self.responses: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def parents(self, channel: str) -> list[SlackPost]:
        return [p for p in self.posts if p.channel == channel and p.thread_ts is None]

    def replies(self, ts: str) -> list[SlackPost]:
        return [p for p in self.posts if p.thread_ts == ts]

    def _respond(self, req: Request) -> Reply:
        if req.path.startswith("/response/"):
            try:
                self.responses.append({"path": req.path, **req.json()})
            except ValueError:
                return _text(400, "invalid_payload")
            return _text(200, "ok")
        method = req.path.removeprefix("/api/")
        if method not in ("chat.postMessage", "chat.update"):
            return _json(404, {"ok": False, "error": "unknown_method"})
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return _json(200, {"ok": False, "error": "not_authed"})
        if auth.removeprefix("Bearer ") not in self.tokens:
            return _json(200, {"ok": False, "error": "invalid_auth"})
        if not req.headers.get("content-type", "").startswith("application/json"):
            return _json(200, {"ok": False, "error": "invalid_arguments"})
        try:
            body = req.json()
        except ValueError:
            return _json(200, {"ok": False, "error": "invalid_json"})
        channel = body.get("channel")
        if channel not in self.channels:
            return _json(200, {"ok": False, "error": "channel_not_found"})
        if not (str(body.get("text") or "").strip() or body.get("blocks")):
            return _json(200, {"ok": False, "error": "no_text"})
        with self._lock:
            known = {p.ts: p for p in self.posts if p.channel == channel}
            if method == "chat.update":
                post = known.get(body.get("ts"))
                if post is None:
                    return _json(200, {"ok": False, "error": "message_not_found"})
                post.updates.append(body.get("text", ""))
                post.text = body.get("text", post.text)
                post.blocks = body.get("blocks", post.blocks)
                return _json(200, {"ok": True, "channel": channel, "ts": post.ts, "text": post.text})
            thread = body.get("thread_ts")
            if thread is not None and (thread not in known or known[thread].thread_ts is not None):
                return _json(200, {"ok": False, "error": "thread_not_found"})
            ts = f"{1764550000 + len(self.posts)}.{len(self.posts):06d}"
            self.posts.append(SlackPost(channel, ts, body.get("text", ""), thread, body.get("blocks"),
                                        bool(body.get("reply_broadcast"))))
        return _json(200, {"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text", "")}})


def slack_web(tokens: set[str], channels: set[str]) -> SlackWeb:
    return SlackWeb(tokens, channels)
