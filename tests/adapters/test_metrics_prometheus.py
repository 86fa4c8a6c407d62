"""The Prometheus metrics source: against a real Prometheus scraping real sample apps, and against
scripted HTTP answers for the failure shapes a live server rarely produces on demand."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from launchdeck.adapters.metrics.prometheus import (
    DEFAULT_QUERIES,
    PrometheusMetrics,
    event_query,
    haproxy_queries,
    render,
    window_duration,
)
from launchdeck.errors import TargetError
from launchdeck.local.fleet import Fleet
from launchdeck.local.sample_app import Behaviour, Fault
from launchdeck.stacks.prometheus import PrometheusServer, config_yaml

LABELS = {"stable": "stable", "canary": "canary"}
N_REQUESTS = 200

# ---------------------------------------------------------------------------------------------
# Scripted answers (httpx.MockTransport): the parsing and failure rules.
# ---------------------------------------------------------------------------------------------


def vector(value: str | None, *, series: int = 1) -> dict[str, object]:
    result = [] if value is None else [{"metric": {}, "value": [1700000000.0, value]}] * series
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def scripted(
    answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request] | None = None
) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return answer(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def observe(source: PrometheusMetrics, version: str = "canary", start: float = 1000.0,
            end: float = 1037.2) -> object:
    return asyncio.run(source.observe(version, start, end))


def test_window_is_whole_seconds_and_at_least_one() -> None:
    assert window_duration(1000.0, 1036.2) == "37s"  # rounded up: the range covers the start
    assert window_duration(1000.0, 1037.0) == "37s"
    assert window_duration(1000.0, 1000.2) == "1s"
    assert window_duration(5.0, 5.0) == "1s"
    assert render(DEFAULT_QUERIES["requests"], "v2", "30s") == (
        'sum(increase(http_requests_total{version="v2"}[30s]))'
    )


def test_queries_are_sent_rendered_at_the_window_end() -> None:
    seen: list[httpx.Request] = []

    async def main() -> None:
        async with scripted(lambda r: httpx.Response(200, json=vector("4")), seen) as client:
            source = PrometheusMetrics(
                "http://prom.invalid:9090/", {"requests": DEFAULT_QUERIES["requests"]},
                version_labels={"stable": "v1", "canary": "v2"}, client=client,
            )
            stats = await source.observe("canary", 1000.0, 1037.2)
            assert stats.requests == 4 and stats.share == pytest.approx(0.5)

    asyncio.run(main())
    assert {r.url.path for r in seen} == {"/api/v1/query"}
    assert {r.method for r in seen} == {"GET"}
    queries = sorted(r.url.params["query"] for r in seen)
    assert queries == [
        'sum(increase(http_requests_total{version="v1"}[38s]))',
        'sum(increase(http_requests_total{version="v2"}[38s]))',
    ]
    assert {r.url.params["time"] for r in seen} == {"1037.200"}


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, json=vector(None)),                      # empty vector
        httpx.Response(200, json=vector("NaN")),
        httpx.Response(200, json=vector("+Inf")),
        httpx.Response(200, json=vector("-Inf")),
        httpx.Response(500, text="internal"),                        # HTTP error
        httpx.Response(503, json={"status": "error", "errorType": "timeout", "error": "t/o"}),
        httpx.Response(200, json={"status": "error", "errorType": "internal", "error": "x"}),
        httpx.Response(200, text="<html>not json</html>"),
        httpx.Response(422, json={"status": "error", "errorType": "execution", "error": "x"}),
    ],
    ids=["empty", "nan", "+inf", "-inf", "http500", "timeout", "status-error", "html", "422"],
)
def test_no_data_shapes_are_none_never_zero(response: httpx.Response) -> None:
    async def main() -> None:
        async with scripted(lambda r: response) as client:
            source = PrometheusMetrics("http://prom.invalid", version_labels=LABELS, client=client)
            stats = await source.observe("canary", 1000.0, 1060.0)
            assert stats.values == {name: None for name in DEFAULT_QUERIES}
            assert stats.requests == 0 and stats.errors == 0 and stats.share == 0.0
            for metric in ("error_rate", "availability", "latency_p95_ms", "throughput_rps"):
                assert stats.metric(metric) is None

    asyncio.run(main())


def test_a_request_timeout_is_no_data() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async def main() -> None:
        async with scripted(slow) as client:
            source = PrometheusMetrics("http://prom.invalid", version_labels=LABELS, client=client)
            stats = await source.observe("stable", 0.0, 30.0)
            assert set(stats.values.values()) == {None} and stats.requests == 0

    asyncio.run(main())


def test_malformed_query_is_a_target_error_with_prometheus_text() -> None:
    body = {"status": "error", "errorType": "bad_data",
            "error": 'invalid parameter "query": 1:5: parse error: unexpected end of input'}

    async def main() -> None:
        async with scripted(lambda r: httpx.Response(400, json=body)) as client:
            source = PrometheusMetrics("http://prom.invalid", {"x": "sum(rate(x[{{window}}]"},
                                       version_labels=LABELS, client=client)
            with pytest.raises(TargetError) as caught:
                await source.observe("canary", 0.0, 30.0)
            assert "parse error: unexpected end of input" in str(caught.value)
            assert caught.value.hint

    asyncio.run(main())


def test_several_series_or_a_range_vector_is_a_target_error() -> None:
    matrix = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    for answer in (vector("1", series=2), matrix):
        async def main(answer: dict[str, object] = answer) -> None:
            async with scripted(lambda r: httpx.Response(200, json=answer)) as client:
                source = PrometheusMetrics("http://prom.invalid", {"x": "up"},
                                           version_labels=LABELS, client=client)
                with pytest.raises(TargetError):
                    await source.observe("canary", 0.0, 30.0)

        asyncio.run(main())


@pytest.mark.parametrize("url", ["ftp://prom:9090", "127.0.0.1:9090", "prometheus", "http://"])
def test_a_bad_url_is_a_target_error(url: str) -> None:
    with pytest.raises(TargetError) as caught:
        PrometheusMetrics(url, version_labels=LABELS)
    assert "http://" in caught.value.hint


def test_an_unknown_role_is_a_target_error() -> None:
    source = PrometheusMetrics("http://prom.invalid", version_labels={"stable": "v1"})
    with pytest.raises(TargetError, match="no label for version 'canary'"):
        observe(source)


def test_counts_share_and_per_share_throughput() -> None:
    answers = {"v1": "300", "v2": "100"}

    def answer(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        label = "v2" if '"v2"' in query else "v1"
        if query.startswith("sum(rate("):  # throughput
            return httpx.Response(200, json=vector("2.5"))
        if query.startswith("(sum(increase(") and " and " in query:  # errors
            return httpx.Response(200, json=vector("9.6"))
        return httpx.Response(200, json=vector(answers[label]))

    queries = {k: DEFAULT_QUERIES[k] for k in ("requests", "errors", "throughput_rps")}

    async def main() -> None:
        async with scripted(answer) as client:
            source = PrometheusMetrics("http://prom.invalid", queries,
                                       version_labels={"stable": "v1", "canary": "v2"},
                                       client=client)
            stats = await source.observe("canary", 0.0, 60.0)
            assert (stats.requests, stats.errors) == (100, 10)
            assert stats.share == pytest.approx(0.25)
            assert stats.seconds == 60.0
            assert stats.metric("throughput_rps") == pytest.approx(2.5 / 0.25)
            assert stats.metric("error_rate") == pytest.approx(0.1)  # from the counts

    asyncio.run(main())


def test_haproxy_set_uses_server_labels_and_the_apps_histogram() -> None:
    queries = haproxy_queries("api")
    requests = render(queries["requests"], "v2", "60s")
    assert requests == (
        'sum(increase(haproxy_server_http_responses_total{proxy="api",server="v2"}[60s]))'
    )
    assert 'code="5xx"' in queries["errors"] and 'code="5xx"' in queries["error_rate"]
    assert "http_request_duration_seconds_bucket" in queries["latency_p95_ms"]
    assert "latency_p95_ms" not in haproxy_queries("api", app_latency=False)


def test_prometheus_config_scrapes_every_target() -> None:
    text = config_yaml(["127.0.0.1:1", "127.0.0.1:2"], 0.5)
    assert "scrape_interval: 500ms" in text and "scrape_timeout: 500ms" in text
    assert '"127.0.0.1:1", "127.0.0.1:2"' in text


def test_missing_prometheus_binary_says_how_to_install_it() -> None:
    server = PrometheusServer(["127.0.0.1:1"], binary="no-such-prometheus-binary")
    with pytest.raises(TargetError) as caught:
        asyncio.run(server.start())
    assert caught.value.hint == "apt-get install prometheus"


# ---------------------------------------------------------------------------------------------
# A real Prometheus scraping two real sample apps.
# ---------------------------------------------------------------------------------------------

needs_prometheus = pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="prometheus is not installed (apt-get install prometheus)"
)


@dataclass
class Scene:
    fleet: Fleet
    prometheus: PrometheusServer
    start: float
    end: float

    def source(self, queries: dict[str, str] | None = None) -> PrometheusMetrics:
        return PrometheusMetrics(self.prometheus.url, queries, version_labels=LABELS)


async def drive(fleet: Fleet, n: int) -> None:
    gate = asyncio.Semaphore(20)
    async with httpx.AsyncClient(timeout=10.0) as client:

        async def one(version: str) -> None:
            async with gate:
                response = await client.get(fleet.url(version) + "/work")
                assert response.status_code in (200, 500)

        await asyncio.gather(*(one(v) for v in ("stable", "canary") for _ in range(n)))


async def wait_until_scraped(prometheus: PrometheusServer, n: int, timeout_s: float) -> None:
    """Poll until Prometheus's latest sample of each version's counter shows all ``n`` requests."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    source = PrometheusMetrics(prometheus.url, version_labels=LABELS)
    while True:
        seen = [await source.query(f'sum(http_requests_total{{version="{v}"}})', time.time())
                for v in ("stable", "canary")]
        if seen == [float(n), float(n)]:
            return
        assert loop.time() < deadline, f"Prometheus saw {seen} of {n} requests per version"
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
def scene() -> Iterator[Scene]:
    versions = {
        "stable": (Behaviour(0.0, 5.0, 20.0), ()),
        "canary": (Behaviour(0.5, 5.0, 20.0), (Fault(0.0, events=(("cross_tenant_denied", 50.0),)),)),
    }
    fleet = Fleet(versions, time_scale=1.0, seed=7)
    prometheus: PrometheusServer | None = None

    async def up() -> Scene:
        nonlocal prometheus
        await fleet.start()
        # The window opens before Prometheus's first scrape, so it holds the counters' baseline
        # (0: the sample app exports its series before any request) as well as every request.
        start = time.time()
        prometheus = PrometheusServer([f"127.0.0.1:{p}" for p in fleet.ports.values()])
        await prometheus.start()
        await prometheus.wait_for_targets(timeout_s=30.0)  # baseline scraped before the load
        await drive(fleet, N_REQUESTS)
        await wait_until_scraped(prometheus, N_REQUESTS, timeout_s=30.0)
        return Scene(fleet, prometheus, start, time.time())

    async def down() -> None:
        if prometheus is not None:
            await prometheus.close()
        await fleet.stop()

    try:
        yield asyncio.run(up())
    finally:
        asyncio.run(down())


@pytest.mark.integration
@needs_prometheus
def test_real_prometheus_error_rates_latency_and_counts(scene: Scene) -> None:
    async def main() -> None:
        source = scene.source()
        stable = await source.observe("stable", scene.start, scene.end)
        canary = await source.observe("canary", scene.start, scene.end)
        for stats in (stable, canary):
            assert set(stats.values) == set(DEFAULT_QUERIES)
            # increase() extrapolates towards the window's end, so counts are near, not equal
            # to, N (never below the baseline: a counter is not extrapolated under zero)
            assert N_REQUESTS * 0.8 <= stats.requests <= N_REQUESTS * 2.0
            p50, p95, p99 = (stats.metric(f"latency_p{q}_ms") for q in (50, 95, 99))
            assert p50 is not None and p95 is not None and p99 is not None
            assert 1.0 <= p50 <= p95 <= p99 <= 500.0
            assert 5.0 <= p95 <= 250.0
            assert (stats.metric("throughput_rps") or 0) > 0
            assert 0.2 <= stats.share <= 0.8
        assert stable.share + canary.share == pytest.approx(1.0)
        assert stable.metric("error_rate") == pytest.approx(0.0, abs=0.01)
        assert stable.errors == 0
        assert canary.metric("error_rate") == pytest.approx(0.5, abs=0.15)
        assert canary.metric("availability") == pytest.approx(0.5, abs=0.15)
        assert canary.errors == pytest.approx(canary.requests * 0.5, rel=0.35)

    asyncio.run(main())


@pytest.mark.integration
@needs_prometheus
def test_real_prometheus_counts_the_events_only_the_canary_reports(scene: Scene) -> None:
    async def main() -> None:
        source = PrometheusMetrics(scene.prometheus.url, version_labels=LABELS,
                                   events={"cross_tenant_denied": event_query("cross_tenant_denied")})
        canary = await source.observe("canary", scene.start, time.time())
        stable = await source.observe("stable", scene.start, time.time())
        assert (canary.events["cross_tenant_denied"] or 0) > 0
        assert stable.events == {"cross_tenant_denied": 0.0}  # no such series: nothing reported, not no data

    asyncio.run(main())


@pytest.mark.integration
@needs_prometheus
def test_real_prometheus_unknown_metric_is_none(scene: Scene) -> None:
    queries = {
        "nothing": 'sum(increase(no_such_metric_total{version="{{version}}"}[{{window}}]))',
        "requests": DEFAULT_QUERIES["requests"],
        "error_rate": DEFAULT_QUERIES["error_rate"],
    }
    stats = asyncio.run(scene.source(queries).observe("canary", scene.start, scene.end))
    assert stats.values["nothing"] is None and stats.metric("nothing") is None
    assert stats.requests > 0
    # A version Prometheus never saw: no data at all, not a zero error rate.
    source = PrometheusMetrics(scene.prometheus.url, queries,
                               version_labels={"stable": "stable", "canary": "v-never-deployed"})
    ghost = asyncio.run(source.observe("canary", scene.start, scene.end))
    assert ghost.values == {"nothing": None, "requests": None, "error_rate": None}
    assert ghost.requests == 0 and ghost.metric("error_rate") is None


@pytest.mark.integration
@needs_prometheus
def test_real_prometheus_rejects_a_malformed_query(scene: Scene) -> None:
    source = scene.source({"broken": 'sum(rate(http_requests_total{version="{{version}}"}[{{window}}]'})
    with pytest.raises(TargetError) as caught:
        asyncio.run(source.observe("canary", scene.start, scene.end))
    assert "rejected the query" in caught.value.message
    assert "parse error" in caught.value.message  # Prometheus's own words
    assert caught.value.hint


@pytest.mark.integration
@needs_prometheus
def test_prometheus_stopped_mid_stage_is_inconclusive_then_recovers(scene: Scene) -> None:
    queries = {"alive": "vector(1)", **DEFAULT_QUERIES}

    async def main() -> None:
        targets = [f"127.0.0.1:{p}" for p in scene.fleet.ports.values()]
        async with PrometheusServer(targets) as prometheus:
            source = PrometheusMetrics(prometheus.url, queries, version_labels=LABELS,
                                       timeout_s=2.0)
            now = time.time()
            assert (await source.observe("canary", now - 30, now)).values["alive"] == 1.0
            url = prometheus.url
            await prometheus.stop()
            assert not prometheus.running
            now = time.time()
            stats = await source.observe("canary", now - 30, now)
            assert stats.values == {name: None for name in queries}
            assert stats.requests == 0 and stats.metric("error_rate") is None
            await prometheus.start()
            assert prometheus.url == url
            now = time.time()
            assert (await source.observe("canary", now - 30, now)).values["alive"] == 1.0

    asyncio.run(main())

