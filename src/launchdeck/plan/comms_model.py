"""The plan's sections about telling people: message channels and routes, the war room's cadence and the
escalation ladder (pydantic, at the edge, like ``model``; its notes on start-up cost hold here too)."""

from typing import Literal

from pydantic import Field

from launchdeck.plan.fields import Duration, Event, Model, Severity


class ChannelSpec(Model):
    """Where messages go. Fields by type: file (path), slack (webhook: an incoming webhook; or token: a bot
    token with channel: the channel id, which threads a release's messages; url: the Web API's base),
    webhook (url, secret), pagerduty (routingKey, url), teams (webhook: a Teams incoming webhook),
    email (smtp: host:port, from, to, username, password: env:, starttls, caFile)."""

    type: Literal["console", "file", "slack", "webhook", "pagerduty", "email", "teams"]
    path: str | None = None
    webhook: str | None = None
    url: str | None = None
    secret: str | None = None
    routing_key: str | None = None
    to: list[str] | None = None
    channel: str | None = None
    token: str | None = Field(default=None, description=(
        "slack: a bot token (``env:LAUNCHDECK_SLACK_BOT_TOKEN``): one parent message per release, events in its "
        "thread."))
    smtp: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.-]+(:\d{1,5})?$", description=(
        "email: the SMTP server as ``host`` or ``host:port`` (port 587 when left out)."))
    from_: str | None = Field(default=None, alias="from")
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    ca_file: str | None = Field(default=None, description=(
        "email: a PEM bundle of the CAs the SMTP server's certificate is checked against (default: the system's)."))


class RouteSpec(Model):
    on: list[Event] = Field(min_length=1)
    to: list[str] = Field(min_length=1)
    template: str | None = None
    audience: Literal["team", "status-page"] = Field(default="team", description=(
        "``status-page``: the short public wording (``status-page.<event>`` templates) with no internal names."))
    broadcast: bool = Field(default=False, description=(
        "On a threaded Slack channel, also show these events in the channel (not only in the release's thread)."))


class NotificationsSpec(Model):
    locale: Literal["en", "fr"] = "en"
    channels: dict[str, ChannelSpec] = {}
    routes: list[RouteSpec] = []


class CadenceSpec(Model):
    launching: Duration | None = None
    incident: Duration | None = None
    stable: Duration | None = None


class WarRoomSpec(Model):
    channel: str | None = None
    cadence: CadenceSpec = CadenceSpec.model_construct()


class EscalationStep(Model):
    notify: str
    via: list[str] = Field(min_length=1)
    within: Duration = 0.0


class EscalationRaise(Model):
    from_: str = Field(alias="from")
    to: str
    unresolved_for: Duration


class EscalationSpec(Model):
    open: dict[Severity, str] = {}
    levels: dict[str, list[EscalationStep]] = {}
    raise_: list[EscalationRaise] = Field(default=[], alias="raise")
