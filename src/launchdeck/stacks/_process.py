"""What every real-process stack shares: finding programs, running one in the foreground, the
sample-app fleet behind it, a private working directory, and bounded waiting."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import aiohttp

from launchdeck.errors import TargetError
from launchdeck.local.fleet import Fleet
from launchdeck.local.fleet import tail as fleet_tail
from launchdeck.local.sample_app import Behaviour, Fault

HOST = "127.0.0.1"
POLL_S = 0.02
#: Where Debian and others install daemons; often not on a normal user's PATH.
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
_live: set[subprocess.Popen[bytes]] = set()

Versions = Mapping[str, tuple[Behaviour, tuple[Fault, ...]]]
#: Quick, healthy sample apps: what tests and benchmarks want unless they say otherwise.
FAST_VERSIONS: Versions = {
    "stable": (Behaviour(0.0, 1.0, 3.0), ()),
    "canary": (Behaviour(0.0, 1.0, 3.0), ()),
}


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_live):
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()


def find_program(name: str) -> str | None:
    """Full path of a program on PATH or in the sbin directories; None if not installed."""
    if os.sep in name:
        return name if os.access(name, os.X_OK) else None
    found = shutil.which(name)
    if found:
        return found
    return shutil.which(name, path=os.pathsep.join(_SBIN))


def missing_programs(names: Iterable[str]) -> list[str]:
    """The programs among ``names`` that are not installed here, in the order given."""
    return [name for name in names if find_program(name) is None]


def require_program(name: str, binary: str | None = None) -> str:
    path = find_program(binary or name)
    if path is None:
        raise TargetError(
            f"{name} is not installed here ({binary or name!r} is neither on PATH nor in "
            f"{', '.join(_SBIN)})",
            hint=f"apt-get install {name} (or give the path of the {name} binary)",
        )
    return path


def tail(log: IO[bytes] | None, limit: int = 3000) -> str:
    return fleet_tail(log, limit, lines=25, empty="(no output)")


class Program:
    """One program run in the foreground as our child, in its own process group."""

    def __init__(self, name: str, argv: Sequence[str], *, cwd: str,
                 stop_signal: signal.Signals = signal.SIGTERM) -> None:
        self.name = name
        self.argv = list(argv)
        self.cwd = cwd
        self.stop_signal = stop_signal
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        if self.log is None:
            self.log = tempfile.TemporaryFile(prefix=f"launchdeck-{self.name}-")  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=self.log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        except OSError as e:
            raise TargetError(f"cannot start {self.name} ({' '.join(self.argv)}): {e}") from e
        _live.add(self.proc)

    def output(self) -> str:
        return tail(self.log)

    async def stop(self, timeout_s: float) -> None:
        """``stop_signal`` to the program, then SIGKILL to its group after ``timeout_s``."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.send_signal(self.stop_signal)
            except ProcessLookupError:
                pass
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while proc.poll() is None and loop.time() < deadline:
                await asyncio.sleep(POLL_S / 2)
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                await asyncio.to_thread(proc.wait)
        _live.discard(proc)
        self.proc = None

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None


async def wait_until(
    what: str,
    ready: Callable[[], Awaitable[bool]],
    *,
    program: Program,
    timeout_s: float,
) -> None:
    """Poll ``ready`` until it answers True; fail at the deadline or if the program exits."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        if not program.running():
            code = program.proc.returncode if program.proc else None
            raise TargetError(
                f"{program.name} exited (status {code}) before {what}; its output ends with:\n"
                f"{program.output()}",
                hint=f"run `{' '.join(program.argv)}` by hand to see why",
            )
        try:
            if await ready():
                return
        except (aiohttp.ClientError, OSError, TimeoutError, TargetError):
            pass
        if loop.time() >= deadline:
            raise TargetError(
                f"{program.name} did not get ready ({what}) within {timeout_s:g} s; its output "
                f"ends with:\n{program.output()}",
                hint="the machine may be overloaded; try again",
            )
        await asyncio.sleep(POLL_S)


async def http_ok(url: str) -> bool:
    timeout = aiohttp.ClientTimeout(total=1.0)
    connector = aiohttp.TCPConnector(force_close=True)
    async with (
        aiohttp.ClientSession(timeout=timeout, connector=connector) as session,
        session.get(url) as response,
    ):
        return response.status == 200


class ProgramStack:
    """A program in front of a stable and a canary sample app; subclasses write the config."""

    program_name = "program"

    def __init__(
        self,
        versions: Versions | None = None,
        *,
        time_scale: float = 1.0,
        seed: int | None = None,
        binary: str | None = None,
        startup_timeout_s: float = 15.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        self.versions = dict(versions or FAST_VERSIONS)
        missing = {"stable", "canary"} - set(self.versions)
        if missing:
            raise TargetError(f"a stack needs a stable and a canary version; missing "
                              f"{', '.join(sorted(missing))}")
        self.time_scale = time_scale
        self.seed = seed
        self.binary_name = binary
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.binary = ""
        self.fleet: Fleet | None = None
        self.workdir: Path | None = None
        self.process: Program | None = None
        self._url: str | None = None

    # -- what the stack exposes ------------------------------------------------------------

    @property
    def url(self) -> str:
        """The frontend: every request sent here is split between stable and canary."""
        if self._url is None:
            raise TargetError(f"the {self.program_name} stack is not started")
        return self._url

    @property
    def stable_url(self) -> str:
        return self._fleet().url("stable")

    @property
    def canary_url(self) -> str:
        return self._fleet().url("canary")

    def _fleet(self) -> Fleet:
        if self.fleet is None:
            raise TargetError(f"the {self.program_name} stack is not started")
        return self.fleet

    def output(self) -> str:
        """The last lines the program wrote."""
        return self.process.output() if self.process else "    (not started)"

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def start(self) -> None:
        if self.fleet is not None:
            raise TargetError(f"this {self.program_name} stack is already running")
        self.binary = require_program(self.program_name, self.binary_name)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"launchdeck-{self.program_name}-"))
        try:
            self.workdir.chmod(0o755)  # nginx workers may run as another user
            self.fleet = Fleet(self.versions, time_scale=self.time_scale, seed=self.seed)
            await self.fleet.start()
            self._configure()
            await self.start_program()
        except BaseException:
            await self.stop()
            raise

    async def start_program(self) -> None:
        """(Re)start only the program, with the configuration already written; wait until ready."""
        if self.process is not None and self.process.running():
            raise TargetError(f"{self.program_name} is already running")
        assert self.workdir is not None
        if self.process is None:
            self.process = Program(self.program_name, self._argv(), cwd=str(self.workdir),
                                   stop_signal=self._stop_signal())
        self.process.start()
        await self._wait_ready()

    async def stop_program(self) -> None:
        """Stop only the program (the sample apps keep running); ``start_program`` brings it back."""
        if self.process is not None:
            await self.process.stop(self.stop_timeout_s)

    async def restart_program(self) -> None:
        """Stop and start the program: what it held in memory only (runtime weights) is lost."""
        await self.stop_program()
        await self.start_program()

    async def stop(self) -> None:
        """Stop the program and the sample apps and remove the working directory; idempotent."""
        try:
            if self.process is not None:
                await self.process.stop(self.stop_timeout_s)
                self.process.close()
                self.process = None
        finally:
            try:
                if self.fleet is not None:
                    await self.fleet.stop()
                    self.fleet = None
            finally:
                if self.workdir is not None:
                    shutil.rmtree(self.workdir, ignore_errors=True)
                    self.workdir = None
                self._url = None

    # -- for subclasses --------------------------------------------------------------------

    def _configure(self) -> None:
        raise NotImplementedError

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _stop_signal(self) -> signal.Signals:
        return signal.SIGTERM

    async def _wait_ready(self) -> None:
        raise NotImplementedError
