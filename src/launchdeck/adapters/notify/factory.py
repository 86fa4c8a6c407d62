"""One place that turns a plan's channel into a channel object, with its ``env:`` secrets read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from launchdeck.adapters.notify import Notifier
from launchdeck.errors import UsageError
from launchdeck.plan.model import ChannelSpec


def env_value(reference: str, *, channel: str, field: str) -> str:
    """The value behind ``env:NAME`` (a plain value is returned as it is)."""
    if not reference.startswith("env:"):
        return reference
    name = reference[4:]
    value = os.environ.get(name)
    if not value:
        raise UsageError(f"channel '{channel}': {field} is env:{name}, but {name} is not set",
                         hint=f"export {name}=… before running, or route the channel's events elsewhere")
    return value


def http_url(reference: str, *, channel: str, field: str) -> str:
    """``env_value`` for a URL, which must be http(s); the value itself (often a secret) is never shown."""
    value = env_value(reference, channel=channel, field=field)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        where = f"the value of {reference[4:]}" if reference.startswith("env:") else field
        raise UsageError(f"channel '{channel}': {where} is not an http(s) URL",
                         hint="give the full URL, e.g. https://hooks.slack.com/services/…")
    return value


def make_channel(name: str, spec: ChannelSpec, *, workdir: Path, console_stream: Any = None,
                 threads: Any = None) -> Notifier:
    """A plan's channel, ready to send; UsageError (before anything starts) when it cannot be. ``threads``:
    where a threaded Slack channel keeps the release's parent message (``slack_thread.ThreadBook``)."""
    if spec.type == "console":
        from launchdeck.adapters.notify.console import ConsoleChannel

        return ConsoleChannel(name, stream=console_stream)
    if spec.type == "file":
        from launchdeck.adapters.notify.file import FileChannel

        assert spec.path  # plan rules
        return FileChannel(name, workdir / spec.path)
    if spec.type == "slack" and spec.token:
        from launchdeck.adapters.notify.slack_thread import WEB_API, SlackThreadChannel

        assert spec.channel
        return SlackThreadChannel(name, env_value(spec.token, channel=name, field="token"), spec.channel,
                                  threads=threads,
                                  base_url=http_url(spec.url, channel=name, field="url") if spec.url else WEB_API)
    if spec.type == "slack":
        from launchdeck.adapters.notify.slack import SlackChannel

        assert spec.webhook
        return SlackChannel(name, http_url(spec.webhook, channel=name, field="webhook"), channel=spec.channel)
    if spec.type == "webhook":
        from launchdeck.adapters.notify.webhook import WebhookChannel

        assert spec.url
        secret = env_value(spec.secret, channel=name, field="secret") if spec.secret else None
        return WebhookChannel(name, http_url(spec.url, channel=name, field="url"), secret=secret)
    if spec.type == "pagerduty":
        from launchdeck.adapters.notify.pagerduty import EVENTS_V2, PagerDutyChannel

        assert spec.routing_key
        url = http_url(spec.url, channel=name, field="url") if spec.url else EVENTS_V2
        return PagerDutyChannel(name, env_value(spec.routing_key, channel=name, field="routingKey"), url=url)
    if spec.type == "teams":
        from launchdeck.adapters.notify.teams import TeamsChannel

        assert spec.webhook
        return TeamsChannel(name, http_url(spec.webhook, channel=name, field="webhook"))
    if spec.type == "email":
        from launchdeck.adapters.notify.email import SUBMISSION_PORT, EmailChannel

        assert spec.smtp and spec.from_ and spec.to
        host, _, port = spec.smtp.partition(":")
        return EmailChannel(
            name, host=host, port=int(port or SUBMISSION_PORT), sender=spec.from_, to=spec.to,
            username=env_value(spec.username, channel=name, field="username") if spec.username else None,
            password=env_value(spec.password, channel=name, field="password") if spec.password else None,
            starttls=spec.starttls, ca_file=str(workdir / spec.ca_file) if spec.ca_file else None)
    raise UsageError(f"channel '{name}' has type {spec.type}, which this version cannot send to yet",
                     hint="use console, file, slack, webhook, pagerduty, teams or email channels")
