"""The local target's fleet: one sample-app process per version, started and stopped as a unit.

``async with Fleet({...}, time_scale=...) as fleet`` starts ``python -m
launchdeck.local.sample_app`` for every version on a free loopback port, waits until each answers
``/healthz`` and, on exit, terminates them (SIGTERM to the process group, SIGKILL after a grace
period). Children run in their own session and watch this process's pid, so they exit on their
own within about a second if the parent dies without cleaning up; an ``atexit`` hook kills any
left over at a normal interpreter exit.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

import aiohttp

import launchdeck
from launchdeck.errors import TargetError
from launchdeck.local.sample_app import Behaviour, Fault, faults_to_json

HOST = "127.0.0.1"
_POLL_S = 0.05
_live: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_live):
        if proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Signal the process's whole group (it leads its own session); ignore if already gone."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def free_port(host: str = HOST) -> int:
    """A port the kernel considers free right now (bind to port 0, read it back, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def indented_tail(data: bytes, lines: int = 20, empty: str = "(nothing)") -> str:
    """The last ``lines`` lines of a process's output, indented for an error message."""
    text = data.decode("utf-8", "replace").strip()
    return "\n".join("    " + line for line in text.splitlines()[-lines:]) or f"    {empty}"


def tail(log: IO[bytes] | None, limit: int = 2000, lines: int = 20, empty: str = "(nothing)") -> str:
    """The end of a log file a child process writes to, indented for an error message."""
    if log is None or log.closed:
        return f"    {empty}"
    log.flush()
    log.seek(0, os.SEEK_END)
    log.seek(max(0, log.tell() - limit))
    return indented_tail(log.read(), lines, empty)


class Fleet:
    """Sample-app processes, one per version, alive for the duration of an ``async with``."""

    def __init__(
        self,
        versions: Mapping[str, tuple[Behaviour, tuple[Fault, ...]]],
        *,
        time_scale: float,
        seed: int | None = None,
        startup_timeout_s: float = 15.0,
        stop_timeout_s: float = 5.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        if not versions:
            raise TargetError("a fleet needs at least one version")
        if not time_scale > 0:
            raise TargetError(f"time_scale must be > 0, got {time_scale}")
        self._versions = dict(versions)
        self._time_scale = time_scale
        self._seed = seed
        self._startup_timeout_s = startup_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._extra_args = tuple(extra_args)
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self._ports: dict[str, int] = {}

    @property
    def ports(self) -> dict[str, int]:
        """Port of each running version."""
        return dict(self._ports)

    @property
    def pids(self) -> dict[str, int]:
        return {version: proc.pid for version, proc in self._procs.items()}

    def url(self, version: str) -> str:
        """Base URL (no trailing slash) of a version's sample app."""
        if version not in self._ports:
            known = ", ".join(sorted(self._ports)) or "none started"
            raise TargetError(f"the fleet has no version {version!r} ({known})")
        return f"http://{HOST}:{self._ports[version]}"

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start every version and wait until all answer /healthz; on failure stop them all."""
        if self._procs:
            raise TargetError("this fleet is already running")
        try:
            for index, version in enumerate(self._versions):
                self._spawn(version, index)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._startup_timeout_s
            timeout = aiohttp.ClientTimeout(total=1.0)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                for version in self._versions:
                    await self._wait_healthy(session, version, deadline)
        except BaseException:
            await self.stop()
            raise

    def _spawn(self, version: str, index: int) -> None:
        behaviour, faults = self._versions[version]
        port = free_port()
        argv = [
            sys.executable, "-m", "launchdeck.local.sample_app",
            "--port", str(port),
            "--version", version,
            "--error-rate", repr(behaviour.error_rate),
            "--latency-median", repr(behaviour.latency_median_ms),
            "--latency-p95", repr(behaviour.latency_p95_ms),
            "--warmup", repr(behaviour.warmup_s),
            "--faults", faults_to_json(faults),
            "--time-scale", repr(self._time_scale),
            "--parent-pid", str(os.getpid()),
        ]
        if self._seed is not None:
            argv += ["--seed", str(self._seed + index)]
        argv += self._extra_args
        src = str(Path(launchdeck.__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
        log = tempfile.TemporaryFile(prefix=f"launchdeck-{version}-")
        self._logs[version] = log
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
                start_new_session=True,
            )
        except OSError as e:
            raise TargetError(f"cannot start the sample app for {version!r}: {e}") from e
        _live.add(proc)
        self._procs[version] = proc
        self._ports[version] = port

    async def _wait_healthy(
        self, session: aiohttp.ClientSession, version: str, deadline: float
    ) -> None:
        proc, url = self._procs[version], self.url(version) + "/healthz"
        loop = asyncio.get_running_loop()
        while True:
            code = proc.poll()
            if code is not None:
                raise TargetError(
                    f"the sample app for {version!r} exited with code {code} before it was "
                    f"ready; its stderr ends with:\n{tail(self._logs[version])}",
                    hint="check the behaviour and faults given for this version",
                )
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if loop.time() >= deadline:
                raise TargetError(
                    f"the sample app for {version!r} did not answer {url} within "
                    f"{self._startup_timeout_s:g} s; its stderr ends with:\n"
                    f"{tail(self._logs[version])}",
                    hint="the machine may be overloaded; try again",
                )
            await asyncio.sleep(_POLL_S)

    async def stop(self) -> None:
        """SIGTERM every process group, wait up to the grace period, then SIGKILL; idempotent."""
        await self._terminate(list(self._procs.values()))
        for log in self._logs.values():
            log.close()
        self._procs.clear()
        self._logs.clear()
        self._ports.clear()

    async def stop_version(self, version: str) -> None:
        """Stop one version's processes (a same-age baseline at the end of the comparison); idempotent.
        Its ``url`` stays known: a router keeps it as an upstream it no longer sends anything to."""
        proc = self._procs.pop(version, None)
        if proc is not None:
            await self._terminate([proc])
        log = self._logs.pop(version, None)
        if log is not None:
            log.close()

    @property
    def running(self) -> list[str]:
        """The versions whose processes are still alive."""
        return [v for v, proc in self._procs.items() if proc.poll() is None]

    async def _terminate(self, procs: list[subprocess.Popen[bytes]]) -> None:
        for proc in procs:
            _signal_group(proc, signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._stop_timeout_s
        while any(p.poll() is None for p in procs) and loop.time() < deadline:
            await asyncio.sleep(_POLL_S / 2)
        for proc in procs:
            if proc.poll() is None:
                _signal_group(proc, signal.SIGKILL)
                await asyncio.to_thread(proc.wait)
            _live.discard(proc)

    def stderr_tail(self, version: str) -> str:
        """The last lines a running version wrote to stderr."""
        if version not in self._logs:
            raise TargetError(f"the fleet has no version {version!r}")
        return tail(self._logs[version])
