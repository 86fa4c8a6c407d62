"""The one place a plan's ``target.router`` becomes a Router (a single switch, as Argo Rollouts does)."""

from __future__ import annotations

from pathlib import Path

from launchdeck.adapters.routers import Router
from launchdeck.errors import TargetError
from launchdeck.plan import model

#: The router fields that name files; relative ones are read from the plan file's folder.
FILE_FIELDS = ("path", "socket", "config", "include", "pid_file")


def build(spec: model.RouterSpec, *, base: Path = Path("."), metadata: model.Metadata | None = None,
          secrets: list[str] | None = None, env: dict[str, str] | None = None, same_age: bool = False) -> Router:
    """A router for a real target. The embedded ``local`` router is built with its fleet instead.

    ``base`` is the plan file's folder: a relative flag file, socket or nginx file is found there,
    wherever launchdeck is started from, and a command router's commands run there. ``metadata`` fills
    a command router's ``{{version}}`` placeholders; ``secrets`` are redacted from its commands' output;
    ``env`` is added to its commands' environment. ``servers.baseline`` gives a router its same-age
    baseline's server; ``same_age`` (``analysis.baseline: same-age``) gives the flag router its third variant."""
    if spec.type == "command":
        from launchdeck.adapters.routers.command import CommandRouter

        assert spec.commands is not None
        values = {"version": metadata.version if metadata else "", "release": metadata.name if metadata else "",
                  "previousVersion": (metadata.previous_version or "") if metadata else ""}
        return CommandRouter(spec.commands, cwd=base, values=values, secrets=secrets, env=env)
    spec = anchored(spec, base)
    servers = dict(spec.servers or {})
    if spec.type == "haproxy":
        from launchdeck.adapters.routers.haproxy import HAProxyRouter

        assert spec.socket and spec.backend
        return HAProxyRouter(spec.socket, spec.backend, servers)
    if spec.type == "nginx":
        from launchdeck.adapters.routers.nginx import NginxRouter

        assert spec.include and spec.upstream and spec.config
        return NginxRouter(spec.include, spec.upstream, servers, conf=spec.config, pid_file=spec.pid_file)
    if spec.type == "flag":
        from launchdeck.adapters.routers.flag import FlagRouter

        assert spec.path and spec.flag
        # A boolean flag has two values: with a baseline the flag names the deployment each user gets.
        return FlagRouter(spec.path, spec.flag, variants=("stable", "canary", "baseline")) if same_age \
            else FlagRouter(spec.path, spec.flag)
    if spec.type == "gateway-api":
        from launchdeck.adapters.routers.gateway_api import GatewayAPIRouter

        assert spec.route
        return GatewayAPIRouter(spec.route, spec.namespace or "default", stable=servers["stable"],
                                canary=servers["canary"], baseline=servers.get("baseline"))
    if spec.type == "istio":
        from launchdeck.adapters.routers.istio import IstioDestination, IstioRouter

        assert spec.route
        baseline = IstioDestination(servers["baseline"]) if "baseline" in servers else None
        return IstioRouter(spec.route, spec.namespace or "default", stable=IstioDestination(servers["stable"]),
                           canary=IstioDestination(servers["canary"]), baseline=baseline)
    raise TargetError(f"router type {spec.type!r} is built with the embedded fleet, not here")


def anchored(spec: model.RouterSpec, base: Path) -> model.RouterSpec:
    """``spec`` with each relative file path joined to ``base``."""
    update = {f: str(base / getattr(spec, f)) for f in FILE_FIELDS if getattr(spec, f)}
    return spec.model_copy(update=update)
