"""What the Kubernetes routers share: a custom object's weights applied with the official
``kubernetes`` Python client. The products are ``gateway_api`` (Gateway API ``HTTPRoute``) and
``istio`` (Istio ``VirtualService``).

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
   field preserved, and only the stable/canary (and same-age baseline) weights of the chosen rule
   changed. It also
   carries ``metadata.resourceVersion``: the API server refuses it (409 Conflict) if someone
   changed the object since step 1; the router then re-reads and retries (3 attempts).
3. The API server's answer (the stored object) is read back; a weight other than the one set
   raises :class:`~launchdeck.errors.WeightNotApplied`.

With a same-age baseline (``servers.baseline``) the rule gets a third backend, added when it
first gets a share and kept (at weight 0) afterwards; ``current_split()`` reads all three.

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
import json
from collections.abc import Callable, Mapping
from typing import Any

from launchdeck.adapters.routers import Split, check_split, no_baseline
from launchdeck.errors import TargetError, WeightNotApplied

_ATTEMPTS = 3


def pick(items: list[Any], index: int, what: str, name: str) -> dict[str, Any]:
    if not 0 <= index < len(items) or not isinstance(items[index], dict):
        raise TargetError(
            f"{name} has no {what} #{index} (it has {len(items)})",
            hint=f"choose an existing {what} index in the router settings",
        )
    return items[index]


def name_of(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind', 'object')} {meta.get('namespace', '?')}/{meta.get('name', '?')}"


def resource_version(obj: Mapping[str, Any]) -> dict[str, Any]:
    version = (obj.get("metadata") or {}).get("resourceVersion")
    return {"metadata": {"resourceVersion": version}} if version else {}



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


class CustomObjectRouter:
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

    #: Whether the router has a same-age baseline's backend to send traffic to.
    has_baseline: bool = False

    def render_patch(self, obj: Mapping[str, Any], split: Split) -> dict[str, Any]:
        raise NotImplementedError

    def split_of(self, obj: Mapping[str, Any]) -> Split:
        raise NotImplementedError

    def weight_of(self, obj: Mapping[str, Any]) -> float:
        return self.split_of(obj).canary

    def _set_weight(self, split: Split) -> None:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        for attempt in range(_ATTEMPTS):
            body = self.render_patch(self.read(), split)
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
            got = self.split_of(stored)
            if abs(got.canary - split.canary) > self.weight_step or abs(got.baseline - split.baseline) > self.weight_step:
                what = f"canary to {split.canary:g}%" if not split.baseline else f"{split}"
                raise WeightNotApplied(
                    f"{self.path}: set the {what} but the API server stored "
                    f"{got.canary:g}%" + (f" (baseline {got.baseline:g}%)" if split.baseline or got.baseline else ""),
                    hint="a mutating webhook or another controller may rewrite the weights",
                )
            return

    async def set_weight(self, canary_percent: float, baseline_percent: float = 0.0) -> None:
        """Patch the canary's weight to ``canary_percent`` (and the baseline's); TargetError if refused."""
        p, b = check_split(canary_percent, baseline_percent)
        if not self.has_baseline:
            no_baseline(self.type, b)
        await asyncio.to_thread(self._set_weight, Split(p, b))

    async def current_split(self) -> Split:
        """The canary's and the baseline's weights as the API server stores them now."""
        obj = await asyncio.to_thread(self.read)
        self._check_current(obj)
        return self.split_of(obj)

    async def current_weight(self) -> float:
        """The canary's weight as the API server stores it now."""
        return (await self.current_split()).canary

    @property
    def type(self) -> str:
        raise NotImplementedError

    def _check_current(self, obj: Mapping[str, Any]) -> None:
        pass

    async def kill(self) -> None:
        """Kill switch: every new request to stable (canary and baseline weight 0)."""
        await self.set_weight(0)

    async def drain(self) -> None:
        """No new requests to the canary (nor the baseline: weight 0); proxies finish in-flight requests."""
        await self.set_weight(0)
