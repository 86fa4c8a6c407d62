"""The local target's router: an HTTP proxy on loopback that splits traffic between the versions.

Every request is forwarded to the stable or the canary upstream (or, with a same-age baseline, the
baseline's) and its outcome (status, latency, completion time) recorded in a
:class:`~launchdeck.local.recorder.Recorder`; an upstream that cannot be reached counts as a 502 for
the version that was chosen. Two ways to split: by request (canary with probability weight/100, the
baseline with its own weight, from a seeded random source) or, for feature-flag rollouts, by user
(``X-User-Id`` hashed with the flag name into a bucket 0..99.99; the user is on canary iff the bucket
is below the weight, on the baseline iff it is in the top ``baseline`` of the range, so users stay on
their variant as the weights grow). Implements the :class:`~launchdeck.adapters.routers.Router`
protocol.

The baseline's share goes back to stable when it is set to 0 with the canary at 0% or 100% (a
rollback, a promotion) or by the kill switch; then ``retire`` is awaited (the fleet stops the
baseline's processes, in the background, so a rollback is not slowed by it; ``stop`` waits for it)
and the baseline is never sent traffic again.

With ``admin=True`` it also serves a small admin API on a second loopback port (:attr:`admin_url`):
``GET /weight`` prints the canary weight it applies, ``PUT /weight`` (the body is a number of percent)
sets it, ``POST /kill`` and ``POST /drain`` do what the kill switch and a drain do. A plan's ``command``
router rehearsed on the local fleet drives the router through it (``$LAUNCHDECK_LOCAL_ROUTER``).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from launchdeck.adapters.routers import Split, check_split
from launchdeck.errors import TargetError
from launchdeck.local.recorder import Recorder

STABLE, CANARY, BASELINE = "stable", "canary", "baseline"
USER_HEADER = "X-User-Id"
SERVED_BY_HEADER = "X-Served-By"
#: Headers that describe one connection, not the message, and are never forwarded.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def user_bucket(flag: str, user_id: str) -> float:
    """A user's stable position 0.00..99.99 for a flag: sha256(flag, user) with 0.01 resolution."""
    digest = hashlib.sha256(f"{flag}\x00{user_id}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") % 10_000) / 100.0


def _forwardable(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    out: CIMultiDict[str] = CIMultiDict()
    for key, value in headers.items():
        if key.lower() not in _HOP_BY_HOP:
            out.add(key, value)
    return out


class LocalRouter:
    """A loopback reverse proxy whose canary weight is the rollout's traffic split."""

    def __init__(
        self,
        stable_url: str,
        canary_url: str,
        recorder: Recorder,
        *,
        by_user: bool = False,
        flag: str = "launchdeck",
        seed: int | None = None,
        port: int = 0,
        max_connections: int = 100,
        timeout_s: float = 10.0,
        baseline_url: str | None = None,
        retire: Callable[[], Awaitable[None]] | None = None,
        admin: bool = False,
    ) -> None:
        self._upstreams = {STABLE: stable_url.rstrip("/"), CANARY: canary_url.rstrip("/")}
        if baseline_url is not None:
            self._upstreams[BASELINE] = baseline_url.rstrip("/")
        self._retire = retire
        self._retiring: asyncio.Task[None] | None = None
        self._baseline = 0.0
        self._baseline_state = "idle"  # idle -> serving -> retired
        self.recorder = recorder
        self.by_user = by_user
        self.flag = flag
        self._rng = random.Random(seed)
        self._port = port
        self._max_connections = max_connections
        self._timeout_s = timeout_s
        self._weight = 0.0
        self._killed = False
        self._draining = False
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._url: str | None = None
        self._admin = admin
        self._admin_runner: web.AppRunner | None = None
        self._admin_url: str | None = None

    # -- Router protocol -------------------------------------------------------------------

    @property
    def type(self) -> str:
        return "flag" if self.by_user else "local"

    async def set_weight(self, canary_percent: float, baseline_percent: float = 0.0) -> None:
        """Send ``canary_percent`` of requests (or users) to canary, and ``baseline_percent`` to the
        baseline; ends a drain, not a kill."""
        p, b = check_split(canary_percent, baseline_percent)
        if self._killed and p > 0:
            raise TargetError(
                "the local router's kill switch is on; it sends everything to stable",
                hint="start a new rollout (a new router) to send traffic to a canary again",
            )
        if b > 0 and BASELINE not in self._upstreams:
            raise TargetError(f"the local router has no baseline to send {b:g}% to",
                              hint="the fleet starts one with analysis.baseline: same-age")
        if b > 0 and self._baseline_state == "retired":
            raise TargetError("the baseline was stopped at the end of the comparison",
                              hint="a new rollout starts a new baseline")
        self._weight, self._baseline = p, b
        self._draining = False
        if b > 0:
            self._baseline_state = "serving"
        elif self._baseline_state == "serving" and p in (0.0, 100.0):
            await self._retire_baseline()

    async def current_weight(self) -> float:
        """The weight the proxy applies right now (0 once killed or draining)."""
        return self.applied_weight

    async def current_split(self) -> Split:
        """The canary's and the baseline's weights the proxy applies right now."""
        return Split(self.applied_weight, self.applied_baseline)

    async def kill(self) -> None:
        """Kill switch: from this instant every new request goes to stable, for good."""
        self._killed = True
        self._weight = self._baseline = 0.0
        await self._retire_baseline()

    async def drain(self) -> None:
        """No new requests to canary (nor to the baseline); requests already in flight finish normally."""
        self._draining = True
        self._weight = self._baseline = 0.0

    async def _retire_baseline(self) -> None:
        """The comparison is over: the baseline's share is back with stable; stop its processes."""
        if self._baseline_state == "retired" or BASELINE not in self._upstreams:
            return
        self._baseline_state = "retired"
        if self._retire is not None:
            self._retiring = asyncio.create_task(self._retire())

    async def wait_retired(self) -> None:
        """Until the retired baseline's processes have stopped (at once if there is nothing to wait for)."""
        if self._retiring is not None:
            await self._retiring

    # -- state -----------------------------------------------------------------------------

    @property
    def applied_weight(self) -> float:
        return 0.0 if self._killed or self._draining else self._weight

    @property
    def applied_baseline(self) -> float:
        return 0.0 if self._killed or self._draining else self._baseline

    @property
    def baseline_retired(self) -> bool:
        return self._baseline_state == "retired"

    @property
    def killed(self) -> bool:
        return self._killed

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def url(self) -> str:
        """Base URL of the proxy (available once started)."""
        if self._url is None:
            raise TargetError("the local router is not started")
        return self._url

    @property
    def admin_url(self) -> str:
        """Base URL of the admin API (started with ``admin=True``)."""
        if self._admin_url is None:
            raise TargetError("the local router's admin API is not started")
        return self._admin_url

    def choose(self, user_id: str | None) -> str:
        """The variant for one request; by user, requests without a user id go to stable."""
        weight, baseline = self.applied_weight, self.applied_baseline
        if self.by_user:
            if user_id is None or weight + baseline <= 0:
                return STABLE
            bucket = user_bucket(self.flag, user_id)
            # The canary grows from the bottom of the range, the baseline from the top.
            return CANARY if bucket < weight else BASELINE if bucket >= 100.0 - baseline else STABLE
        draw = self._rng.random() * 100.0
        return CANARY if draw < weight else BASELINE if draw < weight + baseline else STABLE

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            return
        connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self._timeout_s),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._proxy)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        try:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self._port).start()
        except OSError as e:
            await runner.cleanup()
            await self._session.close()
            self._session = None
            where = f"127.0.0.1:{self._port}"
            raise TargetError(f"the local router cannot listen on {where}: {e}") from e
        self._runner = runner
        self._url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        if self._admin:
            admin = web.AppRunner(self._admin_app(), access_log=None)
            await admin.setup()
            await web.TCPSite(admin, "127.0.0.1", 0).start()
            self._admin_runner = admin
            self._admin_url = f"http://127.0.0.1:{admin.addresses[0][1]}"

    async def stop(self) -> None:
        """Stop listening (in-flight requests get a short grace period), then close the pool."""
        await self.wait_retired()
        runner, session, admin = self._runner, self._session, self._admin_runner
        self._runner = self._session = self._admin_runner = None
        self._url = self._admin_url = None
        if admin is not None:
            await admin.cleanup()
        if runner is not None:
            await runner.cleanup()
        if session is not None:
            await session.close()

    async def __aenter__(self) -> LocalRouter:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- the admin API ---------------------------------------------------------------------

    def _admin_app(self) -> web.Application:
        async def weight(request: web.Request) -> web.Response:
            if request.method == "PUT":
                try:
                    await self.set_weight(float((await request.text()).strip()))
                except ValueError:
                    return web.Response(status=400, text="the body must be a number of percent\n")
                except TargetError as e:
                    return web.Response(status=409, text=e.message + "\n")
            return web.Response(text=f"{self.applied_weight:g}\n")

        async def kill(request: web.Request) -> web.Response:
            await self.kill()
            return web.Response(text="0\n")

        async def drain(request: web.Request) -> web.Response:
            await self.drain()
            return web.Response(text="0\n")

        app = web.Application()
        app.router.add_route("GET", "/weight", weight)
        app.router.add_route("PUT", "/weight", weight)
        app.router.add_post("/kill", kill)
        app.router.add_post("/drain", drain)
        return app

    # -- the proxy -------------------------------------------------------------------------

    async def _proxy(self, request: web.Request) -> web.Response:
        variant = self.choose(request.headers.get(USER_HEADER))
        session = self._session
        assert session is not None
        target = URL(self._upstreams[variant] + request.raw_path, encoded=True)
        body = await request.read() if request.can_read_body else None
        started = time.perf_counter()
        try:
            async with session.request(
                request.method,
                target,
                headers=_forwardable(request.headers),
                data=body,
                allow_redirects=False,
            ) as upstream:
                payload = await upstream.read()
                status = upstream.status
                headers = _forwardable(upstream.headers)
        except (aiohttp.ClientError, TimeoutError) as e:
            status = 502
            payload = f"bad gateway: the {variant} upstream failed ({type(e).__name__})".encode()
            headers = CIMultiDict({"Content-Type": "text/plain; charset=utf-8"})
        latency_ms = (time.perf_counter() - started) * 1000.0
        self.recorder.record(variant, status, latency_ms, time.time())
        headers[SERVED_BY_HEADER] = variant
        return web.Response(status=status, body=payload, headers=headers)
