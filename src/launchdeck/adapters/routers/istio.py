"""Istio ``VirtualService`` weights (``networking.istio.io``); see ``kubernetes`` for how they are
applied and what was (and was not) tested."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from launchdeck.adapters.routers import check_percent, no_baseline
from launchdeck.adapters.routers.kubernetes import CustomObjectRouter, name_of, pick, resource_version
from launchdeck.errors import TargetError

ISTIO_GROUP = "networking.istio.io"


# -- Istio VirtualService ---------------------------------------------------------------------


@dataclass(frozen=True)
class IstioDestination:
    """A VirtualService destination: a host (service), optionally a subset and a port."""

    host: str
    subset: str | None = None
    port: int | None = None

    def matches(self, destination: Mapping[str, Any]) -> bool:
        return destination.get("host") == self.host and destination.get("subset") == self.subset

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {"host": self.host}
        if self.subset is not None:
            out["subset"] = self.subset
        if self.port is not None:
            out["port"] = {"number": self.port}
        return out


def istio_weights(canary_percent: float) -> tuple[int, int]:
    """(stable, canary) Istio weights: whole percentages adding up to 100."""
    p = check_percent(canary_percent)
    if p != round(p):
        raise TargetError(
            f"Istio weights are whole percentages; cannot set {p:g}%",
            hint="use whole-percent stage weights with router type istio",
        )
    return 100 - round(p), round(p)


def virtualservice_patch(
    service: Mapping[str, Any],
    canary_percent: float,
    *,
    stable: IstioDestination,
    canary: IstioDestination,
    route: int = 0,
) -> dict[str, Any]:
    """The merge patch giving ``canary`` ``canary_percent`` of HTTP route ``route``.

    Holds the whole ``spec.http`` list and ``metadata.resourceVersion``; a missing destination
    is added; a route with other destinations is refused.
    """
    name = name_of(service)
    http = copy.deepcopy(list((service.get("spec") or {}).get("http") or []))
    target = pick(http, route, "http route", name)
    entries: list[dict[str, Any]] = list(target.get("route") or [])
    stable_e = next((e for e in entries if stable.matches(e.get("destination") or {})), None)
    canary_e = next((e for e in entries if canary.matches(e.get("destination") or {})), None)
    others = [e for e in entries if e is not stable_e and e is not canary_e]
    if others:
        names = ", ".join(json.dumps(e.get("destination")) for e in others)
        raise TargetError(
            f"http route #{route} of {name} also sends traffic to {names}; launchdeck only "
            "splits between the stable and canary destinations",
            hint="give the canary split an http route of its own",
        )
    stable_w, canary_w = istio_weights(canary_percent)
    out = []
    for entry, dest, weight in ((stable_e, stable, stable_w), (canary_e, canary, canary_w)):
        entry = {"destination": dest.render()} if entry is None else entry
        out.append({**entry, "weight": weight})
    target["route"] = out
    return {**resource_version(service), "spec": {"http": http}}


def virtualservice_weight(
    service: Mapping[str, Any],
    *,
    stable: IstioDestination,
    canary: IstioDestination,
    route: int = 0,
) -> float:
    """The canary's percent of HTTP route ``route`` (a lone destination takes 100%)."""
    http = list((service.get("spec") or {}).get("http") or [])
    entries = pick(http, route, "http route", name_of(service)).get("route") or []
    if len(entries) == 1:
        return 100.0 if canary.matches(entries[0].get("destination") or {}) else 0.0
    total = sum(int(e.get("weight", 0)) for e in entries)
    ours = sum(int(e.get("weight", 0)) for e in entries
               if canary.matches(e.get("destination") or {}))
    return 100.0 * ours / total if total > 0 else 0.0


class IstioRouter(CustomObjectRouter):
    """Splits requests with the destination weights of one HTTP route of an Istio VirtualService."""

    group = ISTIO_GROUP
    plural = "virtualservices"
    weight_step = 1.0

    def __init__(
        self,
        virtual_service: str,
        namespace: str = "default",
        *,
        stable: IstioDestination,
        canary: IstioDestination,
        route: int = 0,
        version: str = "v1",
        api_client: Any | None = None,
        field_manager: str = "launchdeck",
        timeout_s: float = 10.0,
    ) -> None:
        """``version``: ``v1`` (Istio 1.22+) or ``v1beta1`` for older control planes."""
        super().__init__(virtual_service, namespace, version=version, api_client=api_client,
                         field_manager=field_manager, timeout_s=timeout_s)
        self.stable = stable
        self.canary = canary
        self.route = route

    @property
    def type(self) -> str:
        return "istio"

    async def set_weight(self, canary_percent: float, baseline_percent: float = 0.0) -> None:
        no_baseline("istio", baseline_percent)
        istio_weights(canary_percent)  # refuse fractional percentages before any request
        await super().set_weight(canary_percent)

    def render_patch(self, obj: Mapping[str, Any], canary_percent: float) -> dict[str, Any]:
        return virtualservice_patch(obj, canary_percent, stable=self.stable,
                                    canary=self.canary, route=self.route)

    def weight_of(self, obj: Mapping[str, Any]) -> float:
        return virtualservice_weight(obj, stable=self.stable, canary=self.canary,
                                     route=self.route)
