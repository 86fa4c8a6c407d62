"""Routers for Kubernetes service meshes and gateways: Gateway API ``HTTPRoute`` and Istio
``VirtualService`` weights, applied with the official ``kubernetes`` Python client.

NOT RUN AGAINST A LIVE CLUSTER. No Kubernetes cluster, Gateway API implementation or Istio can
run where this was written. What was checked instead: the rendered objects validate against
minimal JSON schemas written from the published CRD definitions (Gateway API
``gateway.networking.k8s.io/v1`` HTTPRoute, Istio ``networking.istio.io`` VirtualService), and
the request sequence (path, method, content type, body) was exercised against hand-written API
exchanges through the real client's HTTP layer (``tests/adapters/test_router_kubernetes.py``).
Try it against a test cluster before relying on it.

How weights are applied (both routers):

1. ``GET /apis/{group}/{version}/namespaces/{ns}/{plural}/{name}`` reads the object.
2. The pure function (:func:`httproute_patch` / :func:`virtualservice_patch`) renders a JSON
   *merge patch* (RFC 7386, ``Content-Type: application/merge-patch+json``, the default of
   ``CustomObjectsApi.patch_namespaced_custom_object``). A merge patch replaces lists whole, so
   the patch carries the complete ``spec.rules`` / ``spec.http`` list with every other rule and
   field preserved, and only the stable/canary weights of the chosen rule changed. It also
   carries ``metadata.resourceVersion``: the API server refuses it (409 Conflict) if someone
   changed the object since step 1; the router then re-reads and retries (3 attempts).
3. The API server's answer (the stored object) is read back; a weight other than the one set
   raises :class:`~launchdeck.errors.WeightNotApplied`.

``current_weight()`` reads the object back (the *desired* state in the API server). Whether the
gateway or mesh has programmed it is a controller's business: for Gateway API,
``require_accepted=True`` also demands that every parent in ``status.parents`` reports
``Accepted=True`` for the object's current generation. ``kill()`` and ``drain()`` both set the
canary's weight to 0 (new requests go to stable; the proxies let in-flight requests finish).

Weights: Gateway API weights are relative integers (0..1 000 000): whole percentages are written
as weights summing to 100, finer ones on a 10 000 or 1 000 000 scale. Istio weights are whole
percentages summing to 100, so :class:`IstioRouter` refuses a fractional percentage
(``weight_step`` tells a plan validator the finest step each router can set).

Without ``api_client`` the router loads the in-cluster service account configuration, else the
kubeconfig (``KUBECONFIG`` or ``~/.kube/config``), into a private ``Configuration``.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from launchdeck.adapters.routers import check_percent
from launchdeck.errors import TargetError, WeightNotApplied

GATEWAY_GROUP = "gateway.networking.k8s.io"
ISTIO_GROUP = "networking.istio.io"
#: Maximum weight of one Gateway API backendRef.
GATEWAY_MAX_WEIGHT = 1_000_000
_ATTEMPTS = 3




def gateway_weights(canary_percent: float) -> tuple[int, int]:
    """(stable, canary) backendRef weights: total 100 for whole percents, else 10 000 or 1 000 000."""
    p = check_percent(canary_percent)
    for total in (100, 10_000, GATEWAY_MAX_WEIGHT):
        canary = p * total / 100
        if abs(canary - round(canary)) < 1e-9 or total == GATEWAY_MAX_WEIGHT:
            return total - round(canary), round(canary)
    raise AssertionError("unreachable")


def _pick(items: list[Any], index: int, what: str, name: str) -> dict[str, Any]:
    if not 0 <= index < len(items) or not isinstance(items[index], dict):
        raise TargetError(
            f"{name} has no {what} #{index} (it has {len(items)})",
            hint=f"choose an existing {what} index in the router settings",
        )
    return items[index]


def _name_of(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind', 'object')} {meta.get('namespace', '?')}/{meta.get('name', '?')}"


def _resource_version(obj: Mapping[str, Any]) -> dict[str, Any]:
    version = (obj.get("metadata") or {}).get("resourceVersion")
    return {"metadata": {"resourceVersion": version}} if version else {}


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
) -> dict[str, Any]:
    """The merge patch giving Service ``canary`` ``canary_percent`` of rule ``rule`` of ``route``.

    ``route`` is the HTTPRoute as read from the API. The patch holds the whole ``spec.rules``
    list (a merge patch replaces lists) and ``metadata.resourceVersion`` (optimistic
    concurrency). A missing stable or canary backendRef is added as a Service reference on
    ``port`` (or on the other backend's port); a rule with other backends is refused.
    """
    name = _name_of(route)
    rules = copy.deepcopy(list((route.get("spec") or {}).get("rules") or []))
    if not rules and rule == 0:
        rules = [{}]
    target = _pick(rules, rule, "rule", name)
    refs: list[dict[str, Any]] = list(target.get("backendRefs") or [])
    stable_ref = next((r for r in refs if _is_service_ref(r, stable, backend_namespace)), None)
    canary_ref = next((r for r in refs if _is_service_ref(r, canary, backend_namespace)), None)
    others = [r for r in refs if r is not stable_ref and r is not canary_ref]
    if others:
        names = ", ".join(str(r.get("name")) for r in others)
        raise TargetError(
            f"rule #{rule} of {name} also sends traffic to {names}; launchdeck only splits "
            f"between {stable!r} and {canary!r}",
            hint="give the canary split a rule of its own",
        )
    known_port = port
    for ref in (stable_ref, canary_ref):
        if known_port is None and ref is not None and ref.get("port") is not None:
            known_port = ref["port"]
    stable_w, canary_w = gateway_weights(canary_percent)
    out: list[dict[str, Any]] = []
    for ref, service, weight in ((stable_ref, stable, stable_w), (canary_ref, canary, canary_w)):
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
    return {**_resource_version(route), "spec": {"rules": rules}}


def httproute_weight(
    route: Mapping[str, Any],
    *,
    stable: str,
    canary: str,
    rule: int = 0,
    backend_namespace: str | None = None,
) -> float:
    """The canary's percent of rule ``rule`` (weights are relative; a missing weight is 1)."""
    name = _name_of(route)
    rules = list((route.get("spec") or {}).get("rules") or [])
    refs = _pick(rules, rule, "rule", name).get("backendRefs") or []
    weights = {"stable": 0, "canary": 0}
    total = 0
    for ref in refs:
        weight = int(ref.get("weight", 1))
        total += weight
        if _is_service_ref(ref, canary, backend_namespace):
            weights["canary"] += weight
        elif _is_service_ref(ref, stable, backend_namespace):
            weights["stable"] += weight
    return 100.0 * weights["canary"] / total if total > 0 else 0.0


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
    name = _name_of(service)
    http = copy.deepcopy(list((service.get("spec") or {}).get("http") or []))
    target = _pick(http, route, "http route", name)
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
    return {**_resource_version(service), "spec": {"http": http}}


def virtualservice_weight(
    service: Mapping[str, Any],
    *,
    stable: IstioDestination,
    canary: IstioDestination,
    route: int = 0,
) -> float:
    """The canary's percent of HTTP route ``route`` (a lone destination takes 100%)."""
    http = list((service.get("spec") or {}).get("http") or [])
    entries = _pick(http, route, "http route", _name_of(service)).get("route") or []
    if len(entries) == 1:
        return 100.0 if canary.matches(entries[0].get("destination") or {}) else 0.0
    total = sum(int(e.get("weight", 0)) for e in entries)
    ours = sum(int(e.get("weight", 0)) for e in entries
               if canary.matches(e.get("destination") or {}))
    return 100.0 * ours / total if total > 0 else 0.0


# -- applying with the kubernetes client ------------------------------------------------------


def default_api_client() -> Any:
    """An ApiClient from the in-cluster service account, else from the kubeconfig."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except ConfigException:
        try:
            config.load_kube_config(client_configuration=configuration)
        except (ConfigException, OSError) as e:
            raise TargetError(
                f"no Kubernetes configuration: not in a pod, and no usable kubeconfig ({e})",
                hint="set KUBECONFIG, or run launchdeck in a pod with a service account",
            ) from e
    return client.ApiClient(configuration)


def _api_error(e: Exception, what: str) -> TargetError:
    status = getattr(e, "status", None)
    message = str(e)
    body = getattr(e, "body", None)
    if body:
        try:
            message = json.loads(body).get("message") or message
        except (ValueError, AttributeError):
            message = str(body)
    hints = {
        400: "the API server or an admission webhook rejected the change; see its message",
        401: "the Kubernetes credentials were refused; refresh the kubeconfig or token",
        403: "grant launchdeck's account get and patch on this resource (RBAC)",
        404: "check the name, namespace and API version in the router settings",
        422: "the API server or an admission webhook rejected the change; see its message",
    }
    code = f"HTTP {status}" if status else "no answer"
    return TargetError(f"{what}: {code}: {message}", hint=hints.get(status or 0, ""))


class _CustomObjectRouter:
    group: str
    plural: str
    #: The finest weight step (percent) this router can set.
    weight_step: float

    def __init__(
        self,
        name: str,
        namespace: str,
        *,
        version: str,
        api_client: Any | None,
        field_manager: str,
        timeout_s: float,
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.version = version
        self.field_manager = field_manager
        self.timeout_s = timeout_s
        self._api_client = api_client
        self._api: Any | None = None

    @property
    def path(self) -> str:
        return (f"/apis/{self.group}/{self.version}/namespaces/{self.namespace}/"
                f"{self.plural}/{self.name}")

    def _custom(self) -> Any:
        if self._api is None:
            from kubernetes import client

            self._api = client.CustomObjectsApi(self._api_client or default_api_client())
        return self._api

    def _call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            result = fn(self.group, self.version, self.namespace, self.plural, self.name,
                        _request_timeout=self.timeout_s, **kwargs)
        except ApiException as e:
            raise _api_error(e, f"{what} {self.path}") from e
        except (HTTPError, OSError) as e:  # refused, DNS, TLS, timeout
            raise TargetError(f"{what} {self.path}: {e}",
                              hint="check that the API server is reachable") from e
        if not isinstance(result, dict):
            raise TargetError(f"{what} {self.path}: unexpected answer {result!r}")
        return result

    def read(self) -> dict[str, Any]:
        """The object as the API server has it now."""
        return self._call("GET", self._custom().get_namespaced_custom_object)

    def render_patch(self, obj: Mapping[str, Any], canary_percent: float) -> dict[str, Any]:
        raise NotImplementedError

    def weight_of(self, obj: Mapping[str, Any]) -> float:
        raise NotImplementedError

    def _set_weight(self, canary_percent: float) -> None:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        for attempt in range(_ATTEMPTS):
            body = self.render_patch(self.read(), canary_percent)
            try:
                stored = self._custom().patch_namespaced_custom_object(
                    self.group, self.version, self.namespace, self.plural, self.name,
                    body=body, field_manager=self.field_manager, _request_timeout=self.timeout_s,
                    _content_type="application/merge-patch+json",
                )
            except ApiException as e:
                if e.status == 409 and attempt + 1 < _ATTEMPTS:
                    continue  # changed since we read it: read again
                raise _api_error(e, f"PATCH {self.path}") from e
            except (HTTPError, OSError) as e:
                raise TargetError(f"PATCH {self.path}: {e}",
                                  hint="check that the API server is reachable") from e
            if not isinstance(stored, dict):
                raise TargetError(f"PATCH {self.path}: unexpected answer {stored!r}")
            got = self.weight_of(stored)
            if abs(got - canary_percent) > self.weight_step:
                raise WeightNotApplied(
                    f"{self.path}: set the canary to {canary_percent:g}% but the API server "
                    f"stored {got:g}%",
                    hint="a mutating webhook or another controller may rewrite the weights",
                )
            return

    async def set_weight(self, canary_percent: float) -> None:
        """Patch the canary's weight to ``canary_percent``; TargetError if refused."""
        check_percent(canary_percent)
        await asyncio.to_thread(self._set_weight, canary_percent)

    async def current_weight(self) -> float:
        """The canary's weight as the API server stores it now."""
        obj = await asyncio.to_thread(self.read)
        self._check_current(obj)
        return self.weight_of(obj)

    def _check_current(self, obj: Mapping[str, Any]) -> None:
        pass

    async def kill(self) -> None:
        """Kill switch: every new request to stable (canary weight 0)."""
        await self.set_weight(0)

    async def drain(self) -> None:
        """No new requests to the canary (weight 0); proxies finish in-flight requests."""
        await self.set_weight(0)


class GatewayAPIRouter(_CustomObjectRouter):
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
        version: str = "v1",
        require_accepted: bool = False,
        api_client: Any | None = None,
        field_manager: str = "launchdeck",
        timeout_s: float = 10.0,
    ) -> None:
        """``stable``/``canary``: the Service names in the rule's backendRefs."""
        super().__init__(route, namespace, version=version, api_client=api_client,
                         field_manager=field_manager, timeout_s=timeout_s)
        self.stable = stable
        self.canary = canary
        self.port = port
        self.rule = rule
        self.backend_namespace = backend_namespace
        self.require_accepted = require_accepted

    @property
    def type(self) -> str:
        return "gateway-api"

    def render_patch(self, obj: Mapping[str, Any], canary_percent: float) -> dict[str, Any]:
        return httproute_patch(obj, canary_percent, stable=self.stable, canary=self.canary,
                               port=self.port, rule=self.rule,
                               backend_namespace=self.backend_namespace)

    def weight_of(self, obj: Mapping[str, Any]) -> float:
        return httproute_weight(obj, stable=self.stable, canary=self.canary, rule=self.rule,
                                backend_namespace=self.backend_namespace)

    def _check_current(self, obj: Mapping[str, Any]) -> None:
        if self.require_accepted and not httproute_accepted(obj):
            raise WeightNotApplied(
                f"{self.path}: not every parent Gateway has accepted the current generation",
                hint="look at the HTTPRoute's status.parents conditions",
            )


class IstioRouter(_CustomObjectRouter):
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

    async def set_weight(self, canary_percent: float) -> None:
        istio_weights(canary_percent)  # refuse fractional percentages before any request
        await super().set_weight(canary_percent)

    def render_patch(self, obj: Mapping[str, Any], canary_percent: float) -> dict[str, Any]:
        return virtualservice_patch(obj, canary_percent, stable=self.stable,
                                    canary=self.canary, route=self.route)

    def weight_of(self, obj: Mapping[str, Any]) -> float:
        return virtualservice_weight(obj, stable=self.stable, canary=self.canary,
                                     route=self.route)
