"""Gateway API ``HTTPRoute`` weights (``gateway.networking.k8s.io``); see ``kubernetes`` for how
they are applied and what was (and was not) tested."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from launchdeck.adapters.routers import Split, check_percent, check_split
from launchdeck.adapters.routers.kubernetes import CustomObjectRouter, name_of, pick, resource_version
from launchdeck.errors import TargetError, WeightNotApplied

GATEWAY_GROUP = "gateway.networking.k8s.io"
#: Maximum weight of one Gateway API backendRef.
GATEWAY_MAX_WEIGHT = 1_000_000


def gateway_weights(canary_percent: float) -> tuple[int, int]:
    """(stable, canary) backendRef weights: total 100 for whole percents, else 10 000 or 1 000 000."""
    stable, canary, _ = gateway_split_weights(check_percent(canary_percent), 0.0)
    return stable, canary


def gateway_split_weights(canary_percent: float, baseline_percent: float) -> tuple[int, int, int]:
    """(stable, canary, baseline) backendRef weights, on the smallest total of 100, 10 000 and 1 000 000
    that represents both shares."""
    p, b = check_split(canary_percent, baseline_percent)
    for total in (100, 10_000, GATEWAY_MAX_WEIGHT):
        parts = [x * total / 100 for x in (p, b)]
        if all(abs(x - round(x)) < 1e-9 for x in parts) or total == GATEWAY_MAX_WEIGHT:
            canary, baseline = (round(x) for x in parts)
            return total - canary - baseline, canary, baseline
    raise AssertionError("unreachable")


# -- Gateway API HTTPRoute --------------------------------------------------------------------


def _is_service_ref(ref: Mapping[str, Any], name: str, namespace: str | None) -> bool:
    return (
        ref.get("name") == name
        and ref.get("group", "") == ""
        and ref.get("kind", "Service") == "Service"
        and (namespace is None or ref.get("namespace") in (None, namespace))
    )


def httproute_patch(
    route: Mapping[str, Any],
    canary_percent: float,
    *,
    stable: str,
    canary: str,
    port: int | None = None,
    rule: int = 0,
    backend_namespace: str | None = None,
    baseline: str | None = None,
    baseline_percent: float = 0.0,
) -> dict[str, Any]:
    """The merge patch giving Service ``canary`` ``canary_percent`` of rule ``rule`` of ``route`` (and
    Service ``baseline``, a same-age baseline, ``baseline_percent``).

    ``route`` is the HTTPRoute as read from the API. The patch holds the whole ``spec.rules``
    list (a merge patch replaces lists) and ``metadata.resourceVersion`` (optimistic
    concurrency). A missing stable or canary backendRef is added as a Service reference on
    ``port`` (or on the other backend's port), a missing baseline one once it gets a share; a rule
    with other backends is refused.
    """
    name = name_of(route)
    rules = copy.deepcopy(list((route.get("spec") or {}).get("rules") or []))
    if not rules and rule == 0:
        rules = [{}]
    target = pick(rules, rule, "rule", name)
    refs: list[dict[str, Any]] = list(target.get("backendRefs") or [])
    services = {"stable": stable, "canary": canary, **({"baseline": baseline} if baseline else {})}
    found = {role: next((r for r in refs if _is_service_ref(r, service, backend_namespace)), None)
             for role, service in services.items()}
    others = [r for r in refs if all(r is not f for f in found.values())]
    if others:
        names = ", ".join(str(r.get("name")) for r in others)
        raise TargetError(
            f"rule #{rule} of {name} also sends traffic to {names}; launchdeck only splits "
            f"between {' and '.join(repr(s) for s in services.values())}",
            hint="give the canary split a rule of its own",
        )
    known_port = port
    for ref in found.values():
        if known_port is None and ref is not None and ref.get("port") is not None:
            known_port = ref["port"]
    if baseline is None:
        stable_w, canary_w = gateway_weights(canary_percent)
        baseline_w = 0
    else:
        stable_w, canary_w, baseline_w = gateway_split_weights(canary_percent, baseline_percent)
    wanted = [(found["stable"], stable, stable_w), (found["canary"], canary, canary_w)]
    if baseline is not None and (found["baseline"] is not None or baseline_w > 0):
        wanted.append((found["baseline"], baseline, baseline_w))
    out: list[dict[str, Any]] = []
    for ref, service, weight in wanted:
        if ref is None:
            if known_port is None:
                raise TargetError(
                    f"rule #{rule} of {name} has no backendRef for {service!r} and no port is "
                    "known for it",
                    hint="set the router's port (a Service backendRef needs one)",
                )
            ref = {"group": "", "kind": "Service", "name": service, "port": known_port}
            if backend_namespace is not None:
                ref["namespace"] = backend_namespace
        out.append({**ref, "weight": weight})
    target["backendRefs"] = out
    return {**resource_version(route), "spec": {"rules": rules}}


def httproute_weight(
    route: Mapping[str, Any],
    *,
    stable: str,
    canary: str,
    rule: int = 0,
    backend_namespace: str | None = None,
) -> float:
    """The canary's percent of rule ``rule`` (weights are relative; a missing weight is 1)."""
    return httproute_split(route, stable=stable, canary=canary, rule=rule, backend_namespace=backend_namespace).canary


def httproute_split(
    route: Mapping[str, Any],
    *,
    stable: str,
    canary: str,
    baseline: str | None = None,
    rule: int = 0,
    backend_namespace: str | None = None,
) -> Split:
    """The canary's and the baseline's percents of rule ``rule``."""
    name = name_of(route)
    rules = list((route.get("spec") or {}).get("rules") or [])
    refs = pick(rules, rule, "rule", name).get("backendRefs") or []
    weights = {"canary": 0, "baseline": 0}
    total = 0
    for ref in refs:
        weight = int(ref.get("weight", 1))
        total += weight
        if _is_service_ref(ref, canary, backend_namespace):
            weights["canary"] += weight
        elif baseline is not None and _is_service_ref(ref, baseline, backend_namespace):
            weights["baseline"] += weight
    if total <= 0:
        return Split(0.0)
    return Split(100.0 * weights["canary"] / total, 100.0 * weights["baseline"] / total)


def httproute_accepted(route: Mapping[str, Any]) -> bool:
    """Every parent in ``status.parents`` reports ``Accepted=True`` for the current generation."""
    generation = (route.get("metadata") or {}).get("generation")
    parents = (route.get("status") or {}).get("parents") or []
    if not parents:
        return False
    for parent in parents:
        accepted = [c for c in parent.get("conditions") or [] if c.get("type") == "Accepted"]
        if not accepted or accepted[0].get("status") != "True":
            return False
        seen = accepted[0].get("observedGeneration")
        if generation is not None and seen is not None and seen < generation:
            return False
    return True


class GatewayAPIRouter(CustomObjectRouter):
    """Splits requests with the backendRef weights of one rule of a Gateway API HTTPRoute."""

    group = GATEWAY_GROUP
    plural = "httproutes"
    weight_step = 100 / GATEWAY_MAX_WEIGHT

    def __init__(
        self,
        route: str,
        namespace: str = "default",
        *,
        stable: str,
        canary: str,
        port: int | None = None,
        rule: int = 0,
        backend_namespace: str | None = None,
        baseline: str | None = None,
        version: str = "v1",
        require_accepted: bool = False,
        api_client: Any | None = None,
        field_manager: str = "launchdeck",
        timeout_s: float = 10.0,
    ) -> None:
        """``stable``/``canary`` (and a same-age ``baseline``): the Service names in the rule's backendRefs."""
        super().__init__(route, namespace, version=version, api_client=api_client,
                         field_manager=field_manager, timeout_s=timeout_s)
        self.stable = stable
        self.canary = canary
        self.port = port
        self.rule = rule
        self.backend_namespace = backend_namespace
        self.require_accepted = require_accepted
        self.baseline = baseline
        self.has_baseline = baseline is not None

    @property
    def type(self) -> str:
        return "gateway-api"

    def render_patch(self, obj: Mapping[str, Any], split: Split) -> dict[str, Any]:
        return httproute_patch(obj, split.canary, stable=self.stable, canary=self.canary,
                               port=self.port, rule=self.rule, backend_namespace=self.backend_namespace,
                               baseline=self.baseline, baseline_percent=split.baseline)

    def split_of(self, obj: Mapping[str, Any]) -> Split:
        return httproute_split(obj, stable=self.stable, canary=self.canary, baseline=self.baseline,
                               rule=self.rule, backend_namespace=self.backend_namespace)

    def _check_current(self, obj: Mapping[str, Any]) -> None:
        if self.require_accepted and not httproute_accepted(obj):
            raise WeightNotApplied(
                f"{self.path}: not every parent Gateway has accepted the current generation",
                hint="look at the HTTPRoute's status.parents conditions",
            )
