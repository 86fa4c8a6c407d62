"""Metrics source backed by a Prometheus server's HTTP API (``GET /api/v1/query``).

For a window ``[start, end]`` (Unix seconds) every query template is rendered for one version
and evaluated as an instant query at ``time=end``:

* ``{{version}}`` becomes the version's label value (``version_labels`` maps the engine's roles,
  ``"stable"``/``"canary"``, to the values your metrics carry, e.g. ``{"stable": "v1", ...}``);
* ``{{window}}`` becomes a PromQL duration of the window's length in whole seconds, rounded up
  and at least ``1s`` (36.2 s gives ``37s``), so ``increase(x[{{window}}])`` at ``time=end``
  covers the whole window.

Default queries (:data:`DEFAULT_QUERIES`) match launchdeck's sample app, which exports
``http_requests_total{version,code}`` and the histogram ``http_request_duration_seconds{version}``::

    requests        sum(increase(http_requests_total{version="{{version}}"}[{{window}}]))
    errors          (sum(increase(http_requests_total{version="{{version}}",code=~"5.."}[{{window}}]))
                       or vector(0)) and sum(increase(http_requests_total{version="{{version}}"}[...]))
    error_rate      (5xx increase or vector(0)) / all increase
    availability    1 - error_rate
    latency_p50_ms  1000 * histogram_quantile(0.50, sum by (le) (rate(..._bucket{version=...}[w])))
    latency_p95_ms  (same with 0.95)
    latency_p99_ms  (same with 0.99)
    throughput_rps  sum(rate(http_requests_total{version="{{version}}",code!~"5.."}[{{window}}]))

The ``or vector(0)`` makes "no 5xx series yet" mean zero errors, while ``and``/division by the
total keeps "Prometheus knows nothing about this version" as *no data*.

For HAProxy's built-in exporter (``haproxy_server_http_responses_total{proxy, server, code}``
with ``code`` in ``1xx``..``5xx``/``other``) use :func:`haproxy_queries`: there the version label
is the HAProxy *server* name (``version_labels={"stable": "v1", "canary": "v2"}``). HAProxy
exports no latency histograms (only moving averages), so that set takes its latency quantiles
from the application's own ``http_request_duration_seconds`` histogram; pass
``app_latency=False`` to leave latency out.

Event gates' events (``events``: name → template) are counted the same way into ``WindowStats.events``;
:func:`event_query` is the default, the sample app's ``app_events_total{version, event}``.

What comes back: :class:`~launchdeck.core.observation.WindowStats` with ``values`` holding every
queried metric. ``requests``/``errors`` are the rounded ``increase()`` results (0 when unknown).
``share`` is this version's part of the requests of all versions in ``version_labels`` (0 when
any of them is unknown), and ``throughput_rps`` is divided by it, as the plan contract requires
(a canary at 20% is held to the same per-share throughput as the stable version).

A value is ``None`` ("no data": inconclusive for the engine, never a pass) when Prometheus answers
an empty vector, NaN or ±Inf, an HTTP error, a non-success status, or does not answer in time.
Only faults a person must fix raise :class:`~launchdeck.errors.TargetError`: a URL that is not
http(s), a query Prometheus rejects as malformed (HTTP 400, ``errorType: bad_data``), a query
that returns several series or a range vector, or a role missing from ``version_labels``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from launchdeck.core.observation import WindowStats
from launchdeck.errors import TargetError

_REQ = 'http_requests_total{version="{{version}}"}'
_ERR = 'http_requests_total{version="{{version}}",code=~"5.."}'
_OK = 'http_requests_total{version="{{version}}",code!~"5.."}'
_BUCKET = 'http_request_duration_seconds_bucket{version="{{version}}"}'


def _quantile(q: str, bucket: str = _BUCKET) -> str:
    return f"1000 * histogram_quantile({q}, sum by (le) (rate({bucket}[{{{{window}}}}])))"


def _counts(total: str, errors: str, ok: str) -> dict[str, str]:
    requests = f"sum(increase({total}[{{{{window}}}}]))"
    errs = f"(sum(increase({errors}[{{{{window}}}}])) or vector(0))"
    rate = f"{errs} / {requests}"
    return {
        "requests": requests,
        "errors": f"{errs} and {requests}",
        "error_rate": rate,
        "availability": f"1 - ({rate})",
        "throughput_rps": f"sum(rate({ok}[{{{{window}}}}]))",
    }


#: Queries for launchdeck's sample app (and any app exporting the same two metrics).
DEFAULT_QUERIES: dict[str, str] = {
    **_counts(_REQ, _ERR, _OK),
    "latency_p50_ms": _quantile("0.50"),
    "latency_p95_ms": _quantile("0.95"),
    "latency_p99_ms": _quantile("0.99"),
}


def haproxy_queries(
    backend: str,
    *,
    app_latency: bool = True,
    app_bucket: str = _BUCKET,
) -> dict[str, str]:
    """Queries for HAProxy's built-in Prometheus exporter, for servers of ``backend``.

    ``{{version}}`` is the HAProxy server name. Latency quantiles come from the application's
    histogram (``app_bucket``, a selector with ``{{version}}``) because HAProxy has none.
    """
    sel = f'proxy="{backend}",server="{{{{version}}}}"'
    metric = "haproxy_server_http_responses_total"
    queries = _counts(
        f"{metric}{{{sel}}}",
        f'{metric}{{{sel},code="5xx"}}',
        f'{metric}{{{sel},code!~"5xx|other"}}',
    )
    if app_latency:
        for name, q in (("latency_p50_ms", "0.50"), ("latency_p95_ms", "0.95"),
                        ("latency_p99_ms", "0.99")):
            queries[name] = _quantile(q, app_bucket)
    return queries


def event_query(event: str) -> str:
    """Occurrences of ``event`` over the window, from the sample app's ``app_events_total{version, event}``.
    No series (nothing reported yet) is zero; Prometheus not answering stays no data."""
    selector = f'app_events_total{{version="{{{{version}}}}",event="{event}"}}'
    return f"sum(increase({selector}[{{{{window}}}}])) or vector(0)"


def window_duration(start: float, end: float) -> str:
    """The window's length as a PromQL duration: whole seconds rounded up (so that the range
    ending at ``end`` covers ``start``), at least ``1s``."""
    seconds = end - start
    if not math.isfinite(seconds):
        raise TargetError(f"cannot query a window from {start} to {end}")
    return f"{max(1, math.ceil(seconds - 1e-6))}s"


def render(template: str, version_label: str, window: str) -> str:
    """A query template with ``{{version}}`` and ``{{window}}`` filled in."""
    return template.replace("{{version}}", version_label).replace("{{window}}", window)


class PrometheusMetrics:
    """A :class:`~launchdeck.adapters.metrics.MetricsSource` reading a Prometheus server."""

    def __init__(
        self,
        url: str,
        queries: Mapping[str, str] | None = None,
        *,
        version_labels: Mapping[str, str],
        timeout_s: float = 5.0,
        client: httpx.AsyncClient | None = None,
        events: Mapping[str, str] | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TargetError(
                f"the Prometheus URL {url!r} is not an http(s) URL",
                hint="write it as http://HOST:PORT (for example http://127.0.0.1:9090)",
            )
        if not version_labels:
            raise TargetError(
                "the Prometheus source needs version_labels",
                hint='map each role to its label value, e.g. {"stable": "v1", "canary": "v2"}',
            )
        if not timeout_s > 0:
            raise TargetError(f"timeout_s must be > 0, got {timeout_s}")
        self.url = url.rstrip("/")
        self.queries = dict(DEFAULT_QUERIES if queries is None else queries)
        self.version_labels = dict(version_labels)
        self.events = dict(events or {})
        self.timeout_s = timeout_s
        self._client = client

    def _label(self, version: str) -> str:
        try:
            return self.version_labels[version]
        except KeyError:
            known = ", ".join(sorted(self.version_labels))
            raise TargetError(
                f"the Prometheus source has no label for version {version!r} (it knows {known})",
                hint="add it to version_labels",
            ) from None

    async def observe(self, version: str, start: float, end: float) -> WindowStats:
        """What ``version`` did over ``[start, end]``; ``None`` values where there is no data."""
        label = self._label(version)
        window = window_duration(start, end)
        if self._client is not None:
            return await self._observe(self._client, version, label, window, start, end)
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            return await self._observe(client, version, label, window, start, end)

    async def _observe(
        self,
        client: httpx.AsyncClient,
        version: str,
        label: str,
        window: str,
        start: float,
        end: float,
    ) -> WindowStats:
        names = list(self.queries)
        others = [role for role in self.version_labels if role != version]
        requests_template = self.queries.get("requests")
        jobs = [self.query(render(self.queries[n], label, window), end, client) for n in names]
        event_names = list(self.events)
        counted = await asyncio.gather(*(self.query(render(self.events[n], label, window), end, client)
                                         for n in event_names))
        if requests_template is not None:
            for role in others:
                rendered = render(requests_template, self.version_labels[role], window)
                jobs.append(self.query(rendered, end, client))
        results = await asyncio.gather(*jobs)
        values: dict[str, float | None] = dict(zip(names, results[: len(names)], strict=True))
        other_requests = results[len(names):]

        own = values.get("requests")
        requests = _count(own)
        errors = min(_count(values.get("errors")), requests)
        share = 0.0
        if own is not None and requests_template is not None and None not in other_requests:
            total = own + sum(r for r in other_requests if r is not None)
            share = own / total if total > 0 else 0.0
        if "throughput_rps" in values:
            raw = values["throughput_rps"]
            values["throughput_rps"] = raw / share if raw is not None and share > 0 else None
        return WindowStats(
            version=version,
            requests=requests,
            errors=errors,
            seconds=max(0.0, end - start),
            share=share,
            values=values,
            events=dict(zip(event_names, counted, strict=True)),
        )

    async def query(
        self, promql: str, at: float, client: httpx.AsyncClient | None = None
    ) -> float | None:
        """One instant query's value at Unix time ``at``; ``None`` when there is no data."""
        if client is None:
            async with httpx.AsyncClient(timeout=self.timeout_s) as own:
                return await self.query(promql, at, own)
        params = {"query": promql, "time": f"{at:.3f}", "timeout": f"{self.timeout_s:g}s"}
        try:
            response = await client.get(
                self.url + "/api/v1/query", params=params, timeout=self.timeout_s
            )
        except httpx.UnsupportedProtocol as e:
            raise TargetError(
                f"cannot query Prometheus at {self.url}: {e}",
                hint="write the URL as http://HOST:PORT",
            ) from e
        except (httpx.HTTPError, OSError):
            return None  # unreachable, refused, timed out: no data, inconclusive
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return None
        if response.status_code == 400 and body.get("errorType") == "bad_data":
            raise TargetError(
                f"Prometheus rejected the query {promql!r}: {body.get('error', 'bad_data')}",
                hint="fix the PromQL in target.metrics.queries (try it in Prometheus's web UI)",
            )
        if response.status_code != 200 or body.get("status") != "success":
            return None
        return _value(promql, body.get("data"))


def _value(promql: str, data: object) -> float | None:
    if not isinstance(data, dict):
        return None
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        sample = result
    elif kind == "vector":
        if not isinstance(result, list) or not result:
            return None
        if len(result) > 1:
            raise TargetError(
                f"the query {promql!r} returned {len(result)} series; it must return one",
                hint="aggregate it, e.g. wrap it in sum(...)",
            )
        sample = result[0].get("value") if isinstance(result[0], dict) else None
    else:
        raise TargetError(
            f"the query {promql!r} returned a {kind}; it must return a single number",
            hint="use an instant vector, e.g. sum(rate(x[{{window}}])) rather than x[{{window}}]",
        )
    if not isinstance(sample, list) or len(sample) != 2:
        return None
    try:
        number = float(sample[1])
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _count(value: float | None) -> int:
    return max(0, round(value)) if value is not None else 0
