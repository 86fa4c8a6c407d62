"""An email channel: each message as a plain-text mail through SMTP (aiosmtplib), with STARTTLS and login.

The subject is the message's title, the body its text; ``Message-ID`` is made from the message's
idempotency key, so a retried message carries the same id and a mail system can drop the repeat.
The server's certificate is checked (against ``caFile`` when the plan gives one); the password comes
from ``env:`` and never appears in an error: an SMTP refusal is reported by its code and the server's
words, which do not echo credentials.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from launchdeck.adapters.notify import unreachable
from launchdeck.comms.render import Message
from launchdeck.errors import NotifyError

SUBMISSION_PORT = 587


async def _closed(client: aiosmtplib.SMTP, wait_s: float = 1.0) -> None:
    """Close the connection, also after a failed TLS handshake or login, and wait (a moment at most) until it
    is gone: closing TLS takes a few turns of the event loop, and a loop ending before them leaks the socket."""
    protocol = client.protocol
    client.close()
    deadline = asyncio.get_running_loop().time() + wait_s
    while protocol is not None and protocol.transport is not None and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)


class EmailChannel:
    def __init__(self, name: str, *, host: str, port: int = SUBMISSION_PORT, sender: str, to: list[str],
                 username: str | None = None, password: str | None = None, starttls: bool = True,
                 ca_file: str | None = None, timeout_s: float = 20.0) -> None:
        self.name = name
        self._host, self._port = host, port
        self._sender, self._to = sender, list(to)
        self._username, self._password = username, password
        self._starttls = starttls
        self._tls = ssl.create_default_context(cafile=ca_file) if starttls else None
        self._timeout_s = timeout_s

    def mail(self, message: Message) -> EmailMessage:
        """The mail for ``message``."""
        mail = EmailMessage()
        mail["From"] = self._sender
        mail["To"] = ", ".join(self._to)
        mail["Subject"] = message.title or message.event
        mail["Date"] = formatdate(usegmt=True)
        key = hashlib.sha256((message.key or message.text).encode()).hexdigest()[:32]
        mail["Message-ID"] = f"<{key}@launchdeck>"
        mail["X-Launchdeck-Event"] = message.event
        if message.release:
            mail["X-Launchdeck-Release"] = message.release
        mail.set_content(message.text)
        return mail

    async def send(self, message: Message) -> None:
        client = aiosmtplib.SMTP(hostname=self._host, port=self._port, start_tls=self._starttls,
                                 tls_context=self._tls, timeout=self._timeout_s)
        try:
            try:
                await client.connect()
                if self._username and self._password:
                    await client.login(self._username, self._password)
                await client.send_message(self.mail(message))
            finally:
                await _closed(client)
        except aiosmtplib.SMTPAuthenticationError as e:
            raise NotifyError(f"email channel {self.name!r}: the SMTP server refused the login ({e.code})",
                              hint="check the username and password the channel's env: variables hold") from None
        except aiosmtplib.SMTPResponseException as e:
            raise NotifyError(f"email channel {self.name!r}: the SMTP server refused a {message.event} message: "
                              f"{e.code} {e.message[:200]}",
                              hint="the message stays queued and is retried; check the from/to addresses if "
                                   "this persists") from None
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as e:
            raise unreachable(f"email channel {self.name!r}", message.event, f"SMTP server {self._host}:{self._port}",
                              e) from None
