"""Gateway API and Istio routers, WITHOUT a live cluster: rendered objects are checked against
minimal schemas written from the published CRDs, and the real ``kubernetes`` client is driven
through a fake HTTP transport replaying hand-written API exchanges (see fixtures/kubernetes/)."""

from __future__ import annotations

import asyncio
import copy
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
import urllib3
from kubernetes import client

from launchdeck.adapters.routers.gateway_api import (
    GatewayAPIRouter,
    gateway_weights,
    httproute_accepted,
    httproute_patch,
    httproute_weight,
)
from launchdeck.adapters.routers import Split
from launchdeck.adapters.routers.istio import (IstioDestination, IstioRouter, virtualservice_patch, virtualservice_split,
                                               virtualservice_weight)
from launchdeck.errors import TargetError, WeightNotApplied

FIXTURES = Path(__file__).parent / "fixtures" / "kubernetes"
HOST = "https://k8s.test:6443"
TOKEN = "test-token"
V1 = IstioDestination("reviews", "v1", 9080)
V2 = IstioDestination("reviews", "v2", 9080)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


HTTPROUTE_SCHEMA = load("httproute-v1.schema.json")
VIRTUALSERVICE_SCHEMA = load("virtualservice.schema.json")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, as the API server applies application/merge-patch+json."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def validate(obj: dict[str, Any], schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(obj)


# ---------------------------------------------------------------------------------------------
# The fake transport: stands in for urllib3's PoolManager inside the real ApiClient.
# ---------------------------------------------------------------------------------------------


class Recorded:
    """One request as it left the client."""

    def __init__(self, method: str, url: str, headers: dict[str, str], body: str | None) -> None:
        parts = urlsplit(url)
        self.method = method
        self.scheme_host = f"{parts.scheme}://{parts.netloc}"
        self.path = parts.path
        self.query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.headers = headers
        self.body = json.loads(body) if body else None


class FakePoolManager:
    """Replays exchanges in order, failing the test on any request it does not expect."""

    def __init__(self, exchanges: list[dict[str, Any]]) -> None:
        self.exchanges = list(exchanges)
        self.requests: list[Recorded] = []

    def request(self, method: str, url: str, body: str | None = None,
                headers: dict[str, str] | None = None, **_: Any) -> urllib3.HTTPResponse:
        seen = Recorded(method, url, dict(headers or {}), body)
        self.requests.append(seen)
        assert self.exchanges, f"unexpected request {method} {url}"
        exchange = self.exchanges.pop(0)
        want = exchange["request"]
        assert (seen.method, seen.path) == (want["method"], want["path"])
        assert seen.scheme_host == HOST
        assert seen.headers.get("authorization") == f"Bearer {TOKEN}"
        assert seen.headers.get("Accept") == "application/json"
        for key, value in want.get("query", {}).items():
            assert seen.query.get(key) == value, (key, seen.query)
        if "contentType" in want:
            assert seen.headers.get("Content-Type") == want["contentType"]
        if method == "GET":
            assert seen.body is None
        answer = exchange["response"]
        data = json.dumps(answer["body"]).encode()
        return urllib3.HTTPResponse(
            body=io.BytesIO(data), status=answer["status"], reason="",
            headers={"Content-Type": "application/json"}, preload_content=False,
        )

    def clear(self) -> None:
        pass


class FakeApiServer(FakePoolManager):
    """Keeps one object and applies merge patches to it like the API server (no script)."""

    def __init__(self, path: str, obj: dict[str, Any]) -> None:
        super().__init__([])
        self.path = path
        self.obj = copy.deepcopy(obj)

    def request(self, method: str, url: str, body: str | None = None,
                headers: dict[str, str] | None = None, **_: Any) -> urllib3.HTTPResponse:
        want: dict[str, Any] = {"method": method, "path": self.path}
        if method == "PATCH":
            patch = json.loads(body or "null")
            sent_version = (patch.get("metadata") or {}).get("resourceVersion")
            if sent_version not in (None, self.obj["metadata"]["resourceVersion"]):
                response = {"status": 409, "body": {"kind": "Status", "code": 409,
                                                    "reason": "Conflict", "message": "modified"}}
            else:
                merged = merge_patch(self.obj, patch)
                meta = merged["metadata"]
                meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
                if merged["spec"] != self.obj["spec"]:
                    meta["generation"] = meta.get("generation", 1) + 1
                self.obj = merged
                response = {"status": 200, "body": self.obj}
            want.update(contentType="application/merge-patch+json",
                        query={"fieldManager": "launchdeck"})
        else:
            response = {"status": 200, "body": self.obj}
        self.exchanges = [{"request": want, "response": response}]
        return super().request(method, url, body, headers)


def api_client(pool: FakePoolManager) -> client.ApiClient:
    configuration = client.Configuration(host=HOST)
    configuration.api_key = {"BearerToken": TOKEN}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    api = client.ApiClient(configuration)
    api.rest_client.pool_manager = pool  # type: ignore[assignment]
    return api


def gateway(pool: FakePoolManager, **kwargs: Any) -> GatewayAPIRouter:
    return GatewayAPIRouter("checkout", "shop", stable="checkout-v1", canary="checkout-v2",
                            api_client=api_client(pool), **kwargs)


def istio(pool: FakePoolManager, **kwargs: Any) -> IstioRouter:
    return IstioRouter("reviews", "bookinfo", stable=V1, canary=V2, route=1,
                       api_client=api_client(pool), **kwargs)


def script(name: str) -> FakePoolManager:
    return FakePoolManager(load(name)["exchanges"])


# ---------------------------------------------------------------------------------------------
# Rendering (pure functions) against the schemas.
# ---------------------------------------------------------------------------------------------


def test_fixture_objects_are_valid_against_the_schemas() -> None:
    validate(load("httproute-checkout.json"), HTTPROUTE_SCHEMA)
    validate(load("virtualservice-reviews.json"), VIRTUALSERVICE_SCHEMA)
    broken = load("httproute-checkout.json")
    del broken["spec"]["rules"][0]["backendRefs"][0]["port"]  # CEL: a Service ref needs a port
    with pytest.raises(jsonschema.ValidationError):
        validate(broken, HTTPROUTE_SCHEMA)
    broken = load("httproute-checkout.json")
    broken["spec"]["rules"][0]["backendRefs"][0]["weigth"] = 5
    with pytest.raises(jsonschema.ValidationError):
        validate(broken, HTTPROUTE_SCHEMA)


@pytest.mark.parametrize("percent", [0, 1, 5, 25, 50, 99, 100, 2.5, 0.01, 33.3333])
def test_httproute_patch_renders_valid_weights(percent: float) -> None:
    route = load("httproute-checkout.json")
    patch = httproute_patch(route, percent, stable="checkout-v1", canary="checkout-v2")
    assert set(patch) == {"metadata", "spec"}
    assert patch["metadata"] == {"resourceVersion": "1001"}
    assert set(patch["spec"]) == {"rules"}
    merged = merge_patch(route, patch)
    validate(merged, HTTPROUTE_SCHEMA)
    assert httproute_weight(merged, stable="checkout-v1", canary="checkout-v2") == (
        pytest.approx(percent, abs=1e-4)
    )
    # Everything but the two weights is untouched.
    rule = route["spec"]["rules"][0]
    new = merged["spec"]["rules"][0]
    assert new["matches"] == rule["matches"] and new["filters"] == rule["filters"]
    assert merged["spec"]["rules"][1] == route["spec"]["rules"][1]
    assert merged["spec"]["parentRefs"] == route["spec"]["parentRefs"]
    for old, ref in zip(rule["backendRefs"], new["backendRefs"], strict=True):
        assert {k: v for k, v in ref.items() if k != "weight"} == {
            k: v for k, v in old.items() if k != "weight"
        }


def test_gateway_weights_scale() -> None:
    assert gateway_weights(25) == (75, 25)
    assert gateway_weights(2.5) == (9750, 250)
    assert gateway_weights(0.0001) == (999_999, 1)


def test_httproute_patch_adds_a_missing_canary_on_the_stable_port() -> None:
    route = load("httproute-checkout.json")
    route["spec"]["rules"][0]["backendRefs"].pop()  # only checkout-v1
    patch = httproute_patch(route, 10, stable="checkout-v1", canary="checkout-v2")
    merged = merge_patch(route, patch)
    validate(merged, HTTPROUTE_SCHEMA)
    assert merged["spec"]["rules"][0]["backendRefs"][1] == {
        "group": "", "kind": "Service", "name": "checkout-v2", "port": 8080, "weight": 10
    }


def test_httproute_patch_refuses_foreign_backends_and_missing_rules() -> None:
    route = load("httproute-checkout.json")
    with pytest.raises(TargetError, match="storefront"):
        httproute_patch(route, 10, stable="checkout-v1", canary="checkout-v2", rule=1)
    with pytest.raises(TargetError, match="no rule #5"):
        httproute_patch(route, 10, stable="checkout-v1", canary="checkout-v2", rule=5)
    with pytest.raises(TargetError):
        httproute_patch(route, 101, stable="checkout-v1", canary="checkout-v2")
    bare = {"metadata": {"name": "r"}, "spec": {"rules": [{"backendRefs": []}]}}
    with pytest.raises(TargetError, match="no port"):
        httproute_patch(bare, 10, stable="a", canary="b")


def test_httproute_weight_reads_relative_and_default_weights() -> None:
    route = {"spec": {"rules": [{"backendRefs": [{"name": "a", "port": 1},
                                                 {"name": "b", "port": 1}]}]}}
    assert httproute_weight(route, stable="a", canary="b") == 50.0  # missing weight = 1
    route["spec"]["rules"][0]["backendRefs"][0]["weight"] = 3
    assert httproute_weight(route, stable="a", canary="b") == 25.0


@pytest.mark.parametrize("percent", [0, 1, 10, 50, 100])
def test_virtualservice_patch_renders_valid_weights(percent: int) -> None:
    service = load("virtualservice-reviews.json")
    patch = virtualservice_patch(service, percent, stable=V1, canary=V2, route=1)
    assert patch["metadata"] == {"resourceVersion": "52341"} and set(patch["spec"]) == {"http"}
    merged = merge_patch(service, patch)
    validate(merged, VIRTUALSERVICE_SCHEMA)
    entries = merged["spec"]["http"][1]["route"]
    assert sum(e["weight"] for e in entries) == 100
    assert virtualservice_weight(merged, stable=V1, canary=V2, route=1) == percent
    assert merged["spec"]["http"][0] == service["spec"]["http"][0]
    assert merged["spec"]["http"][1]["timeout"] == "10s"
    assert [e["destination"] for e in entries] == [
        e["destination"] for e in service["spec"]["http"][1]["route"]
    ]


def test_virtualservice_patch_adds_a_missing_destination_and_refuses_fractions() -> None:
    service = load("virtualservice-reviews.json")
    service["spec"]["http"][1]["route"].pop()
    merged = merge_patch(service, virtualservice_patch(service, 20, stable=V1, canary=V2,
                                                       route=1))
    validate(merged, VIRTUALSERVICE_SCHEMA)
    assert merged["spec"]["http"][1]["route"][1] == {
        "destination": {"host": "reviews", "subset": "v2", "port": {"number": 9080}},
        "weight": 20,
    }
    with pytest.raises(TargetError, match="whole percentages"):
        virtualservice_patch(service, 2.5, stable=V1, canary=V2, route=1)
    with pytest.raises(TargetError, match="v3"):
        virtualservice_patch(service, 5, stable=V1, canary=V2, route=0)
    lone = {"spec": {"http": [{"route": [{"destination": {"host": "reviews", "subset": "v2"}}]}]}}
    assert virtualservice_weight(lone, stable=V1, canary=IstioDestination("reviews", "v2")) == 100


def test_httproute_accepted_needs_every_parent_at_the_current_generation() -> None:
    route = load("httproute-checkout.json")
    assert httproute_accepted(route)
    route["metadata"]["generation"] = 4
    assert not httproute_accepted(route)
    assert not httproute_accepted({"metadata": {}, "status": {}})


# ---------------------------------------------------------------------------------------------
# Applying: the real kubernetes client over the fake transport.
# ---------------------------------------------------------------------------------------------


def test_gateway_set_weight_reads_then_merge_patches() -> None:
    pool = script("exchanges-httproute-set-25.json")
    router = gateway(pool)
    asyncio.run(router.set_weight(25))
    assert not pool.exchanges, "not every expected request was made"
    get, patch = pool.requests
    assert get.path == patch.path == (
        "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/checkout"
    )
    assert patch.method == "PATCH"
    assert patch.headers["Content-Type"] == "application/merge-patch+json"
    assert patch.query == {"fieldManager": "launchdeck"}
    assert patch.body["metadata"] == {"resourceVersion": "1001"}
    backend_refs = patch.body["spec"]["rules"][0]["backendRefs"]
    assert [(r["name"], r["weight"]) for r in backend_refs] == [
        ("checkout-v1", 75), ("checkout-v2", 25)
    ]
    # What the API server would store from this patch is what the recorded answer holds.
    stored = load("exchanges-httproute-set-25.json")["exchanges"][1]["response"]["body"]
    merged = merge_patch(load("httproute-checkout.json"), patch.body)
    assert merged["spec"] == stored["spec"]
    validate(merged, HTTPROUTE_SCHEMA)
    assert router.type == "gateway-api"


def test_gateway_retries_after_a_conflict_with_the_fresh_object() -> None:
    pool = script("exchanges-httproute-conflict.json")
    asyncio.run(gateway(pool).set_weight(5))
    assert not pool.exchanges
    methods = [r.method for r in pool.requests]
    assert methods == ["GET", "PATCH", "GET", "PATCH"]
    assert pool.requests[1].body["metadata"]["resourceVersion"] == "1001"
    assert pool.requests[3].body["metadata"]["resourceVersion"] == "1003"


def test_gateway_errors_are_target_errors_with_the_servers_words() -> None:
    with pytest.raises(TargetError) as caught:
        asyncio.run(gateway(script("exchanges-httproute-not-found.json")).current_weight())
    assert 'httproutes.gateway.networking.k8s.io "checkout" not found' in caught.value.message
    assert "HTTP 404" in caught.value.message and "namespace" in caught.value.hint

    with pytest.raises(TargetError) as caught:
        asyncio.run(gateway(script("exchanges-httproute-forbidden.json")).set_weight(10))
    assert "cannot patch resource" in caught.value.message and "RBAC" in caught.value.hint

    with pytest.raises(WeightNotApplied, match="stored 0%"):
        asyncio.run(gateway(script("exchanges-httproute-rewritten.json")).set_weight(10))


def test_gateway_flow_against_an_emulated_api_server() -> None:
    server = FakeApiServer(
        "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/checkout",
        load("httproute-checkout.json"),
    )
    router = gateway(server, require_accepted=False)

    async def main() -> None:
        assert await router.current_weight() == 0.0
        for weight in (5, 25, 50, 100):
            await router.set_weight(weight)
            assert await router.current_weight() == weight
        await router.kill()
        assert await router.current_weight() == 0.0
        await router.set_weight(12.5)
        assert await router.current_weight() == pytest.approx(12.5)
        await router.drain()
        assert await router.current_weight() == 0.0

    asyncio.run(main())
    validate(server.obj, HTTPROUTE_SCHEMA)
    assert server.obj["spec"]["rules"][1] == load("httproute-checkout.json")["spec"]["rules"][1]
    # The controller has not caught up with the new generation: require_accepted says so.
    strict = gateway(server, require_accepted=True)
    with pytest.raises(WeightNotApplied, match="accepted"):
        asyncio.run(strict.current_weight())


def test_istio_set_weight_reads_then_merge_patches() -> None:
    pool = script("exchanges-virtualservice-set-10.json")
    router = istio(pool)
    asyncio.run(router.set_weight(10))
    assert not pool.exchanges
    patch = pool.requests[1]
    assert patch.path == "/apis/networking.istio.io/v1/namespaces/bookinfo/virtualservices/reviews"
    assert patch.headers["Content-Type"] == "application/merge-patch+json"
    assert [e["weight"] for e in patch.body["spec"]["http"][1]["route"]] == [90, 10]
    stored = load("exchanges-virtualservice-set-10.json")["exchanges"][1]["response"]["body"]
    merged = merge_patch(load("virtualservice-reviews.json"), patch.body)
    assert merged["spec"] == stored["spec"]
    validate(merged, VIRTUALSERVICE_SCHEMA)
    assert router.type == "istio"


def test_istio_webhook_denial_and_fractions() -> None:
    with pytest.raises(TargetError) as caught:
        asyncio.run(istio(script("exchanges-virtualservice-webhook-denied.json")).set_weight(10))
    assert 'admission webhook "validation.istio.io" denied the request' in caught.value.message
    pool = FakePoolManager([])
    with pytest.raises(TargetError, match="whole percentages"):
        asyncio.run(istio(pool).set_weight(2.5))
    assert pool.requests == []  # refused before any request


def test_istio_flow_and_v1beta1() -> None:
    server = FakeApiServer(
        "/apis/networking.istio.io/v1beta1/namespaces/bookinfo/virtualservices/reviews",
        load("virtualservice-reviews.json"),
    )
    router = istio(server, version="v1beta1")

    async def main() -> None:
        for weight in (1, 10, 50, 100):
            await router.set_weight(weight)
            assert await router.current_weight() == weight
        await router.kill()
        assert await router.current_weight() == 0

    asyncio.run(main())
    validate(server.obj, VIRTUALSERVICE_SCHEMA)


def test_unreachable_api_server_is_a_target_error() -> None:
    class Down(FakePoolManager):
        def request(self, method: str, url: str, body: str | None = None,
                    headers: dict[str, str] | None = None, **_: Any) -> urllib3.HTTPResponse:
            raise urllib3.exceptions.MaxRetryError(None, url, "connection refused")  # type: ignore[arg-type]

    with pytest.raises(TargetError, match="connection refused"):
        asyncio.run(gateway(Down([])).current_weight())


def test_a_same_age_baseline_is_a_third_backend_added_when_it_gets_a_share() -> None:
    route = load("httproute-checkout.json")
    server = FakeApiServer("/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/checkout", route)
    router = gateway(server, baseline="checkout-v1-baseline")

    async def main() -> list[Split]:
        seen = [await router.current_split()]
        await router.set_weight(5, 5)
        seen.append(await router.current_split())
        await router.kill()
        seen.append(await router.current_split())
        return seen

    before, during, killed = asyncio.run(main())
    validate(server.obj, HTTPROUTE_SCHEMA)
    refs = server.obj["spec"]["rules"][0]["backendRefs"]
    assert [(r["name"], r["weight"]) for r in refs] == [("checkout-v1", 100), ("checkout-v2", 0),
                                                        ("checkout-v1-baseline", 0)]
    assert refs[2]["port"] == refs[0]["port"]
    assert (before, during, killed) == (Split(0), Split(5, 5), Split(0))
    with pytest.raises(TargetError, match="no baseline"):
        asyncio.run(gateway(server).set_weight(5, 5))


def test_an_istio_baseline_destination_takes_its_share_from_stable() -> None:
    v1b = IstioDestination("reviews", "v1-baseline", 9080)
    service = load("virtualservice-reviews.json")
    merged = merge_patch(service, virtualservice_patch(service, 10, stable=V1, canary=V2, route=1, baseline=v1b,
                                                       baseline_percent=10))
    validate(merged, VIRTUALSERVICE_SCHEMA)
    assert [e["weight"] for e in merged["spec"]["http"][1]["route"]] == [80, 10, 10]
    assert virtualservice_split(merged, stable=V1, canary=V2, baseline=v1b, route=1) == Split(10, 10)
    with pytest.raises(TargetError, match="more than all the traffic"):
        virtualservice_patch(service, 60, stable=V1, canary=V2, route=1, baseline=v1b, baseline_percent=60)
