"""Istio ``VirtualService`` weights (``networking.istio.io``); see ``kubernetes`` for how they are
applied and what was (and was not) tested."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from launchdeck.adapters.routers import Split, check_percent, check_split
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
    baseline: IstioDestination | None = None,
    baseline_percent: float = 0.0,
) -> dict[str, Any]:
    """The merge patch giving ``canary`` ``canary_percent`` of HTTP route ``route`` (and a same-age
    ``baseline`` ``baseline_percent``).

    Holds the whole ``spec.http`` list and ``metadata.resourceVersion``; a missing destination
    is added (the baseline's once it gets a share); a route with other destinations is refused.
    """
    name = name_of(service)
    http = copy.deepcopy(list((service.get("spec") or {}).get("http") or []))
    target = pick(http, route, "http route", name)
    entries: list[dict[str, Any]] = list(target.get("route") or [])
    dests = {"stable": stable, "canary": canary, **({"baseline": baseline} if baseline else {})}
    found = {role: next((e for e in entries if d.matches(e.get("destination") or {})), None)
             for role, d in dests.items()}
    others = [e for e in entries if all(e is not f for f in found.values())]
    if others:
        names = ", ".join(json.dumps(e.get("destination")) for e in others)
        raise TargetError(
            f"http route #{route} of {name} also sends traffic to {names}; launchdeck only "
            f"splits between the {', '.join(dests)} destinations",
            hint="give the canary split an http route of its own",
        )
    stable_w, canary_w = istio_weights(canary_percent)
    baseline_w = istio_weights(baseline_percent)[1] if baseline is not None else 0
    check_split(canary_percent, baseline_percent)
    wanted = [(found["stable"], stable, stable_w - baseline_w), (found["canary"], canary, canary_w)]
    if baseline is not None and (found["baseline"] is not None or baseline_w > 0):
        wanted.append((found["baseline"], baseline, baseline_w))
    out = []
    for entry, dest, weight in wanted:
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
    return virtualservice_split(service, stable=stable, canary=canary, route=route).canary


def virtualservice_split(
    service: Mapping[str, Any],
    *,
    stable: IstioDestination,
    canary: IstioDestination,
    baseline: IstioDestination | None = None,
    route: int = 0,
) -> Split:
    """The canary's and the baseline's percents of HTTP route ``route``."""
    http = list((service.get("spec") or {}).get("http") or [])
    entries = pick(http, route, "http route", name_of(service)).get("route") or []

    def share(dest: IstioDestination | None) -> float:
        if dest is None:
            return 0.0
        if len(entries) == 1:
            return 100.0 if dest.matches(entries[0].get("destination") or {}) else 0.0
        total = sum(int(e.get("weight", 0)) for e in entries)
        ours = sum(int(e.get("weight", 0)) for e in entries if dest.matches(e.get("destination") or {}))
        return 100.0 * ours / total if total > 0 else 0.0

    return Split(share(canary), share(baseline))


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
        baseline: IstioDestination | None = None,
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
        self.baseline = baseline
        self.has_baseline = baseline is not None

    @property
    def type(self) -> str:
        return "istio"

    async def set_weight(self, canary_percent: float, baseline_percent: float = 0.0) -> None:
        istio_weights(canary_percent)  # refuse fractional percentages before any request
        istio_weights(baseline_percent)
        await super().set_weight(canary_percent, baseline_percent)

    def render_patch(self, obj: Mapping[str, Any], split: Split) -> dict[str, Any]:
        return virtualservice_patch(obj, split.canary, stable=self.stable, canary=self.canary, route=self.route,
                                    baseline=self.baseline, baseline_percent=split.baseline)

    def split_of(self, obj: Mapping[str, Any]) -> Split:
        return virtualservice_split(obj, stable=self.stable, canary=self.canary, baseline=self.baseline,
                                    route=self.route)
