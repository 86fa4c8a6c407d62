"""A real Prometheus server on loopback, for tests and demos: ``async with PrometheusServer(...)``.

Writes a ``prometheus.yml`` scraping the given ``host:port`` targets (job ``launchdeck``, path
``/metrics``) into a temporary directory, starts the ``prometheus`` binary found on ``PATH``
(Debian: ``apt-get install prometheus``) with its TSDB in the same directory and
``--web.listen-address=127.0.0.1:<free port>``, and waits (bounded) until ``/-/ready`` answers
200. ``.url`` is its base URL. On exit the process is stopped (SIGTERM, then SIGKILL after a grace
period) and the directory removed. ``stop()`` and ``start()`` may be called in between, e.g. to
take Prometheus away in the middle of a stage; a restart keeps the same port and data.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from launchdeck.errors import TargetError
from launchdeck.local.fleet import HOST, free_port, indented_tail

_POLL_S = 0.05
_live: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_live):
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _duration(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def config_yaml(scrape_targets: list[str], scrape_interval_s: float) -> str:
    """The ``prometheus.yml`` text for ``scrape_targets`` (``host:port`` each)."""
    interval = _duration(scrape_interval_s)
    targets = ", ".join(f'"{t}"' for t in scrape_targets)
    return (
        "global:\n"
        f"  scrape_interval: {interval}\n"
        f"  scrape_timeout: {interval}\n"
        f"  evaluation_interval: {interval}\n"
        "scrape_configs:\n"
        "  - job_name: launchdeck\n"
        "    metrics_path: /metrics\n"
        "    static_configs:\n"
        f"      - targets: [{targets}]\n"
    )


class PrometheusServer:
    """A ``prometheus`` process scraping ``scrape_targets``, alive for an ``async with``."""

    def __init__(
        self,
        scrape_targets: list[str],
        *,
        scrape_interval_s: float = 1.0,
        binary: str = "prometheus",
        ready_timeout_s: float = 30.0,
        stop_timeout_s: float = 10.0,
    ) -> None:
        if not scrape_targets:
            raise TargetError("Prometheus needs at least one scrape target (host:port)")
        for target in scrape_targets:
            host, _, port = target.rpartition(":")
            if not host or not port.isdigit() or any(c in target for c in "/\" \n"):
                raise TargetError(
                    f"scrape target {target!r} is not host:port",
                    hint="write targets like 127.0.0.1:8080",
                )
        if not scrape_interval_s > 0:
            raise TargetError(f"scrape_interval_s must be > 0, got {scrape_interval_s}")
        self.scrape_targets = list(scrape_targets)
        self.scrape_interval_s = scrape_interval_s
        self.binary = binary
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.port: int | None = None
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234`` (known once started)."""
        if self.port is None:
            raise TargetError("this Prometheus server has not been started")
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Start (or restart) Prometheus and wait until it is ready; on failure clean up."""
        if self.running:
            return
        exe = shutil.which(self.binary)
        if exe is None:
            raise TargetError(
                f"the {self.binary!r} binary is not installed (not found on PATH)",
                hint="apt-get install prometheus",
            )
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="launchdeck-prometheus-"))
            config = config_yaml(self.scrape_targets, self.scrape_interval_s)
            (self._dir / "prometheus.yml").write_text(config, encoding="utf-8")
        chosen = self.port is None
        for attempt in range(3):
            if self.port is None:
                self.port = free_port()
            self._spawn(exe)
            try:
                await self._wait_ready()
                return
            except TargetError:
                await self.stop()
                # Another process took the free port between our check and Prometheus's bind.
                if chosen and attempt < 2 and "address already in use" in self.log_tail():
                    self.port = None
                    continue
                raise
            except BaseException:
                await self.stop()
                raise

    def _spawn(self, exe: str) -> None:
        assert self._dir is not None and self.port is not None
        self._log = self._dir / "prometheus.log"
        argv = [
            exe,
            f"--config.file={self._dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self._dir / 'data'}",
            f"--web.listen-address={HOST}:{self.port}",
            "--log.level=warn",
        ]
        with open(self._log, "ab") as log:
            try:
                self._proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            except OSError as e:
                raise TargetError(
                    f"cannot start {exe}: {e}", hint="apt-get install prometheus"
                ) from e
        _live.add(self._proc)

    async def _wait_ready(self) -> None:
        assert self._proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ready_timeout_s
        ready = f"{self.url}/-/ready"
        async with httpx.AsyncClient(timeout=1.0) as client:
            while True:
                code = self._proc.poll()
                if code is not None:
                    raise TargetError(
                        f"prometheus exited with code {code} before it was ready; its log "
                        f"ends with:\n{self.log_tail()}",
                        hint="check the log above (a port in use, a bad config)",
                    )
                try:
                    if (await client.get(ready)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if loop.time() >= deadline:
                    raise TargetError(
                        f"prometheus did not answer {ready} within {self.ready_timeout_s:g} s; "
                        f"its log ends with:\n{self.log_tail()}",
                        hint="the machine may be overloaded; try again",
                    )
                await asyncio.sleep(_POLL_S)

    async def wait_for_targets(self, timeout_s: float = 30.0) -> None:
        """Wait (bounded) until every scrape target has been scraped successfully.

        Prometheus applies discovered targets a few seconds after start (about 5 s), and a
        counter's first scrape is its baseline: requests served before it are invisible to
        ``increase()``. Call this before driving load that must be measured.
        """
        if not self.running:
            raise TargetError("this Prometheus server is not running")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        wanted = set(self.scrape_targets)
        up: set[str] = set()
        async with httpx.AsyncClient(timeout=1.0) as client:
            while True:
                try:
                    response = await client.get(f"{self.url}/api/v1/targets?state=active")
                    targets = response.json()["data"]["activeTargets"]
                    up = {
                        t["discoveredLabels"]["__address__"]
                        for t in targets
                        if t.get("health") == "up"
                    }
                except (httpx.HTTPError, ValueError, KeyError, TypeError):
                    pass
                if wanted <= up:
                    return
                if loop.time() >= deadline:
                    missing = ", ".join(sorted(wanted - up))
                    raise TargetError(
                        f"prometheus has not scraped {missing} within {timeout_s:g} s",
                        hint="check that every target serves /metrics",
                    )
                await asyncio.sleep(_POLL_S * 2)

    async def stop(self) -> None:
        """Stop the process (SIGTERM, SIGKILL after the grace period); keeps port and data."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.stop_timeout_s
            while proc.poll() is None and loop.time() < deadline:
                await asyncio.sleep(_POLL_S)
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                await asyncio.to_thread(proc.wait)
        _live.discard(proc)

    async def close(self) -> None:
        """Stop and remove the temporary directory; idempotent."""
        await self.stop()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def log_tail(self, limit: int = 2000) -> str:
        """The last lines Prometheus logged."""
        if self._log is None or not self._log.exists():
            return "    (nothing)"
        return indented_tail(self._log.read_bytes()[-limit:])
