"""Open-loop synthetic traffic for the local target: Poisson arrivals at a fixed rate.

Arrivals are scheduled on the event loop's clock independently of how fast responses come back
(open loop), each a GET carrying ``X-User-Id: u<k>`` for a random user ``k < users``. Nothing is
lost silently: an arrival that finds ``max_in_flight`` requests outstanding, or that the scheduler
reaches more than ``max_lag_s`` late (the process was starved), is counted in ``dropped`` instead
of being sent, so ``sent + dropped`` always equals the arrivals due so far.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from types import TracebackType

import aiohttp

from launchdeck.errors import TargetError
from launchdeck.local.router import USER_HEADER


class LoadGenerator:
    """Sends ``rps`` requests per wall second to ``url`` until stopped."""

    def __init__(
        self,
        url: str,
        *,
        rps: float,
        users: int,
        seed: int | None = None,
        max_in_flight: int = 256,
        timeout_s: float = 10.0,
        max_lag_s: float = 1.0,
    ) -> None:
        if not rps > 0:
            raise TargetError(f"rps must be > 0, got {rps}")
        if users < 1:
            raise TargetError(f"users must be >= 1, got {users}")
        if max_in_flight < 1:
            raise TargetError(f"max_in_flight must be >= 1, got {max_in_flight}")
        self.url = url
        self.rps = float(rps)
        self.users = users
        self.max_in_flight = max_in_flight
        self.timeout_s = timeout_s
        self.max_lag_s = max_lag_s
        self._rng = random.Random(seed)
        #: Requests handed to the connection pool.
        self.sent = 0
        #: Requests that got a response (any status).
        self.completed = 0
        #: Requests that got no response (connection error, timeout).
        self.failed = 0
        #: Arrivals not sent: max_in_flight reached, or the scheduler was over max_lag_s late.
        self.dropped = 0
        #: Responses by HTTP status.
        self.statuses: Counter[int] = Counter()
        self._session: aiohttp.ClientSession | None = None
        self._scheduler: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._started_at: float | None = None

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    @property
    def running(self) -> bool:
        return self._scheduler is not None and not self._scheduler.done()

    def elapsed(self) -> float:
        """Seconds since start() (loop clock); 0 before."""
        if self._started_at is None:
            return 0.0
        return asyncio.get_running_loop().time() - self._started_at

    async def start(self) -> None:
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(limit=self.max_in_flight, limit_per_host=0)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._started_at = asyncio.get_running_loop().time()
        self._scheduler = asyncio.create_task(self._schedule(), name="loadgen-scheduler")

    async def stop(self, grace_s: float = 0.0) -> None:
        """Stop sending; give requests in flight ``grace_s`` to finish, cancel and await the rest;
        close the session."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.cancel()
            await asyncio.gather(scheduler, return_exceptions=True)
        if self._tasks and grace_s > 0:
            await asyncio.wait(list(self._tasks), timeout=grace_s)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> LoadGenerator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            now = loop.time()
            while due <= now:
                if now - due > self.max_lag_s or len(self._tasks) >= self.max_in_flight:
                    self.dropped += 1
                else:
                    self._launch(self._rng.randrange(self.users))
                due += self._rng.expovariate(self.rps)
            await asyncio.sleep(due - loop.time())

    def _launch(self, user: int) -> None:
        self.sent += 1
        task = asyncio.create_task(self._request(f"u{user}"))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _request(self, user_id: str) -> None:
        session = self._session
        assert session is not None
        try:
            async with session.get(self.url, headers={USER_HEADER: user_id}) as response:
                await response.read()
                self.statuses[response.status] += 1
                self.completed += 1
        except (aiohttp.ClientError, TimeoutError):
            self.failed += 1
