"""nginx as a router: the canary's share is a weighted ``upstream`` in a file launchdeck owns.

The router owns one include file, which the main ``nginx.conf`` includes at ``http`` level (where
``upstream`` blocks live), and rewrites it on every weight change::

    http {
        include /etc/nginx/launchdeck/api.conf;          # written by launchdeck
        server { listen 80; location / { proxy_pass http://api; } }
    }

The file holds the upstream, weights scaled to integers 1..100 (canary ``round(p)``, stable
``100 - canary``; with a same-age baseline, ``servers.baseline``, a third server with
``round(b)`` taken from stable's; nginx cannot take a weight of 0, so a server whose share is 0 is
written with ``down``) and a small read-back ``server`` of launchdeck's own, listening on a unix socket next
to the include (``<include>.sock``; any ``listen`` address can be given instead)::

    upstream api {
        server 127.0.0.1:8001 weight=75;  # stable
        server 127.0.0.1:8002 weight=25;  # canary
    }
    server {
        listen unix:/etc/nginx/launchdeck/api.conf.sock;
        location = /__launchdeck/weights { return 200 '{"upstream":"api","percent":25,...,"token":"..."}'; }
    }

Applying a weight: write the file (atomically), ``nginx -t -c <conf>``; if the test fails the
previous file is put back and nginx's own message raised as :class:`TargetError`; otherwise
reload (SIGHUP to the master when its pid file is known, else ``nginx -s reload``).

Verifying. Every written file carries a fresh token, and the read-back endpoint lives in the
same file as the upstream, so a response carrying the new token proves that nginx loaded the
new file: the router polls the endpoint (a fresh connection each time, so an old worker's
keep-alive connection cannot answer) until the token appears, within ``timeout_s``. A reload
that nginx rejected at run time (an error only the master meets, e.g. a port it cannot bind)
never shows the token: the previous file is put back and :class:`WeightNotApplied` raised.

The token alone is not enough: nginx's master starts the new workers, sleeps 100 ms, and only
then tells the old ones to stop, so for about 100 ms both generations accept connections. When
nginx runs on this host the router therefore also waits until every worker of the old generation
has stopped accepting (its process title turns to "worker process is shutting down", which nginx
sets as it closes its listening sockets) or exited, so that once ``set_weight`` returns no new
request is served with the old weights. It finds the master from ``pid_file``, or else from the
worker pid the endpoint reports (``$pid``) through ``/proc``. On another host (no ``/proc``
view of nginx) only the token is checked, and the old weights may serve new connections for
those ~100 ms. :meth:`NginxRouter.current_weight` reads the endpoint, i.e. what the running nginx
serves, not what the file on disk says.

Kill switch and drain are both ``set_weight(0)``: the canary (and a baseline) is written ``down`` and nginx's
graceful reload lets requests in flight finish on the old workers (open-source nginx has no
per-server drain state). Both are reversible by a later ``set_weight``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiohttp

from launchdeck.adapters.routers import Split, check_percent, check_split, no_baseline
from launchdeck.adapters.routers.nginx_workers import await_old_workers, workers_of
from launchdeck.errors import TargetError, WeightNotApplied

STABLE, CANARY, BASELINE = "stable", "canary", "baseline"
#: nginx weights are integers; a share of traffic is written as a weight out of this.
SCALE = 100
STATUS_PATH = "/__launchdeck/weights"
_POLL_S = 0.005
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_ADDRESS = re.compile(r"^[^\s;{}'\"#]+$")




def weights_for(canary_percent: float) -> tuple[int, int]:
    """(canary, stable) nginx weights 0..100 that encode a percentage (0 is written ``down``)."""
    canary = round(check_percent(canary_percent) / 100.0 * SCALE)
    return canary, SCALE - canary


def split_weights(canary_percent: float, baseline_percent: float) -> dict[str, int]:
    """Each role's nginx weight 0..100 for the canary's and a same-age baseline's shares."""
    p, b = check_split(canary_percent, baseline_percent)
    canary, baseline = round(p / 100.0 * SCALE), round(b / 100.0 * SCALE)
    return {STABLE: SCALE - canary - baseline, CANARY: canary, BASELINE: baseline}


class NginxRouter:
    """Sets the canary's share by rewriting an nginx upstream include, testing and reloading."""

    def __init__(
        self,
        include_path: str,
        upstream: str,
        servers: Mapping[str, str],
        *,
        nginx_bin: str = "nginx",
        conf: str,
        prefix: str | None = None,
        pid_file: str | None = None,
        status_listen: str | None = None,
        extra_args: Sequence[str] = (),
        timeout_s: float = 5.0,
    ) -> None:
        missing = {STABLE, CANARY} - set(servers)
        if missing:
            raise TargetError(
                f"the nginx router needs servers.stable and servers.canary; "
                f"missing {', '.join(sorted(missing))}",
                hint='give both addresses, e.g. servers: {stable: "127.0.0.1:8001", '
                'canary: "127.0.0.1:8002"}',
            )
        for role in (r for r in (STABLE, CANARY, BASELINE) if r in servers):
            if not _ADDRESS.match(servers[role]):
                raise TargetError(
                    f"servers.{role} is not a usable nginx server address: {servers[role]!r}",
                    hint="write host:port or unix:/path, without spaces, quotes or semicolons",
                )
        if not _NAME.match(upstream):
            raise TargetError(f"upstream name {upstream!r} is not a plain nginx name",
                              hint="use letters, digits, '_', '-' and '.'")
        if not timeout_s > 0:
            raise TargetError(f"timeout_s must be > 0, got {timeout_s}")
        self.include_path = Path(include_path)
        self.upstream = upstream
        self.servers = {r: servers[r] for r in (STABLE, CANARY, BASELINE) if r in servers}
        self.nginx_bin = nginx_bin
        self.conf = conf
        self.prefix = prefix
        self.pid_file = pid_file
        self.status_listen = status_listen or f"unix:{self.include_path}.sock"
        if not _ADDRESS.match(self.status_listen):
            raise TargetError(f"status_listen {self.status_listen!r} is not an nginx listen address")
        self.extra_args = tuple(extra_args)
        self.timeout_s = timeout_s
        self._lock = asyncio.Lock()

    # -- Router protocol -------------------------------------------------------------------

    @property
    def type(self) -> str:
        return "nginx"

    async def set_weight(self, canary_percent: float, baseline_percent: float = 0.0) -> None:
        """Write, test, reload, and return once nginx serves the new weights (see module docs)."""
        p, b = check_split(canary_percent, baseline_percent)
        if BASELINE not in self.servers:
            no_baseline("nginx", b)
        async with self._lock:
            await self._apply(p, b)

    async def current_split(self) -> Split:
        """The canary's and the baseline's shares in the configuration the running nginx serves."""
        return self._split_of(await self.served())

    async def current_weight(self) -> float:
        """The canary's share in the configuration the running nginx serves."""
        return (await self.current_split()).canary

    async def kill(self) -> None:
        """The canary is written ``down``; a graceful reload lets in-flight requests finish."""
        await self.set_weight(0.0)

    async def drain(self) -> None:
        """Same as :meth:`kill` in open-source nginx (no per-server drain state)."""
        await self.set_weight(0.0)

    # -- the include file ------------------------------------------------------------------

    def render(self, canary_percent: float, token: str | None = None, baseline_percent: float = 0.0) -> str:
        """The include file for a percentage (a fresh token unless one is given)."""
        p, b = check_split(canary_percent, baseline_percent)
        weights = split_weights(p, b)
        token = token or secrets.token_hex(8)
        status: dict[str, object] = {"upstream": self.upstream, "percent": p, "stable": weights[STABLE],
                                     "canary": weights[CANARY], "token": token}
        if BASELINE in self.servers:
            status.update(baselinePercent=b, baseline=weights[BASELINE])
        # nginx fills in $pid: the worker that answered (how the router finds the master)
        body = json.dumps(status, separators=(",", ":"))[:-1] + ',"worker":$pid}'

        def server(role: str, weight: int) -> str:
            down = " down" if weight == 0 else ""
            return f"    server {self.servers[role]} weight={max(weight, 1)}{down};  # {role}\n"

        return (
            "# Written by launchdeck's nginx router on every weight change; do not edit.\n"
            f"upstream {self.upstream} {{\n"
            + "".join(server(role, weights[role]) for role in self.servers) +
            "}\n"
            "# launchdeck reads the weights nginx serves here (same file, so same generation).\n"
            "server {\n"
            f"    listen {self.status_listen};\n"
            "    access_log off;\n"
            f"    location = {STATUS_PATH} {{\n"
            "        default_type application/json;\n"
            f"        return 200 '{body}';\n"
            "    }\n"
            "    location / { return 404; }\n"
            "}\n"
        )

    def write_initial(self, canary_percent: float = 0.0) -> None:
        """Write the include before nginx starts (no test, no reload)."""
        self._write(self.render(canary_percent))

    def _write(self, text: str) -> None:
        directory = self.include_path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.include_path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.include_path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def _restore(self, previous: str | None) -> None:
        if previous is None:
            try:
                self.include_path.unlink()
            except FileNotFoundError:
                pass
        else:
            self._write(previous)

    async def _apply(self, p: float, b: float) -> None:
        token = secrets.token_hex(8)
        text = self.render(p, token, b)
        try:
            previous: str | None = self.include_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            previous = None
        except OSError as e:
            raise TargetError(f"cannot read nginx include {self.include_path}: {e}") from e
        try:
            self._write(text)
        except OSError as e:
            raise TargetError(f"cannot write nginx include {self.include_path}: {e}",
                              hint="launchdeck needs write access to the include's directory") from e
        try:
            code, err = await self._nginx("-t", "-q")
        except BaseException:
            self._restore(previous)
            raise
        if code != 0:
            self._restore(previous)
            raise TargetError(
                f"nginx rejected the new upstream for canary {p:g}% (`{self.nginx_bin} -t`); the "
                f"previous {self.include_path} is back in place and nginx keeps serving it:\n"
                f"{_indent(err)}",
                hint="check servers.stable / servers.canary and the main configuration "
                f"{self.conf}",
            )
        old_workers = workers_of(self._master_pid() or await self._discover_master())
        try:
            await self._reload()
        except TargetError:
            self._restore(previous)
            raise
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        seen = await self._await_token(token, deadline)
        if seen is None:
            self._restore(previous)
            raise WeightNotApplied(
                f"nginx did not start serving the new weights (canary {p:g}%) within "
                f"{self.timeout_s:g} s of the reload; the previous {self.include_path} is back "
                "in place",
                hint="nginx's error log says why the reload was rejected (a stale "
                f"{self.status_listen} left by a crash must be removed by hand)",
            )
        await await_old_workers(old_workers, deadline, self.timeout_s)

    # -- reading back ----------------------------------------------------------------------

    async def served(self) -> dict[str, object]:
        """What nginx's read-back endpoint answers now: upstream, percent, weights, token."""
        try:
            return await self._fetch()
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as e:
            raise TargetError(
                f"cannot read the weights nginx serves at {self.status_listen}{STATUS_PATH}: "
                f"{type(e).__name__}: {e}",
                hint="is nginx running with a configuration that includes "
                f"{self.include_path} (at http level)? The endpoint exists once launchdeck has "
                "written the include",
            ) from e

    def _split_of(self, status: Mapping[str, object]) -> Split:
        try:
            p = float(status["percent"])  # type: ignore[arg-type]
            b = float(status.get("baselinePercent", 0.0))  # type: ignore[arg-type]
            weights = {role: int(status[role]) for role in self.servers}  # type: ignore[call-overload]
        except (KeyError, TypeError, ValueError) as e:
            raise TargetError(f"nginx's read-back endpoint answered something else: {status!r}") from e
        wanted = split_weights(p, b)
        if all(weights[role] == wanted[role] for role in weights):
            return Split(p, b)
        total = sum(weights.values())
        return Split(100.0 * weights[CANARY] / total, 100.0 * weights.get(BASELINE, 0) / total) if total else Split(0)

    async def _fetch(self) -> dict[str, object]:
        if self.status_listen.startswith("unix:"):
            connector: aiohttp.BaseConnector = aiohttp.UnixConnector(
                path=self.status_listen[len("unix:"):], force_close=True)
            url = f"http://localhost{STATUS_PATH}"
        else:
            connector = aiohttp.TCPConnector(force_close=True)
            address = self.status_listen.split()[0]
            url = f"http://{address}{STATUS_PATH}"
        timeout = aiohttp.ClientTimeout(total=min(self.timeout_s, 2.0))
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            session.get(url) as response,
        ):
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            data = json.loads(await response.text())
        if not isinstance(data, dict):
            raise ValueError(f"not an object: {data!r}")  # noqa: TRY004 (caught as bad data)
        return data

    async def _await_token(self, token: str, deadline: float) -> dict[str, object] | None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                status = await self._fetch()
                if status.get("token") == token:
                    return status
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
                pass
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(_POLL_S)

    # -- the nginx processes ---------------------------------------------------------------

    def _master_pid(self) -> int | None:
        if self.pid_file is None:
            return None
        try:
            return int(Path(self.pid_file).read_text().strip())
        except (OSError, ValueError):
            return None

    async def _discover_master(self) -> int | None:
        """The master of the worker that answers the read-back endpoint (same host only)."""
        try:
            worker = int(str((await self._fetch()).get("worker")))
            stat = Path(f"/proc/{worker}/stat").read_text()
            master = int(stat.rsplit(")", 1)[1].split()[1])
            if b"nginx: master" in Path(f"/proc/{master}/cmdline").read_bytes():
                return master
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError, IndexError):
            pass
        return None

    def _argv(self, *args: str) -> list[str]:
        argv = [self.nginx_bin]
        if self.prefix is not None:
            argv += ["-p", self.prefix]
        argv += ["-c", self.conf, *self.extra_args, *args]
        return argv

    async def _nginx(self, *args: str) -> tuple[int, str]:
        argv = self._argv(*args)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except FileNotFoundError as e:
            raise TargetError(f"nginx is not installed here ({self.nginx_bin!r} not found)",
                              hint="apt-get install nginx, or give the path of the nginx binary") from e
        except OSError as e:
            raise TargetError(f"cannot run {self.nginx_bin}: {e}") from e
        try:
            async with asyncio.timeout(max(self.timeout_s, 5.0)):
                out, err = await proc.communicate()
        except TimeoutError as e:
            proc.kill()
            await proc.wait()
            raise TargetError(f"`{' '.join(argv)}` did not finish within {self.timeout_s:g} s") from e
        text = (err or b"").decode("utf-8", "replace") + (out or b"").decode("utf-8", "replace")
        return proc.returncode or 0, text.strip()

    async def _reload(self) -> None:
        master = self._master_pid()
        if master is not None:
            try:
                os.kill(master, signal.SIGHUP)
                return
            except ProcessLookupError as e:
                raise TargetError(
                    f"the nginx master (pid {master} in {self.pid_file}) is not running",
                    hint="start nginx; weights can only be changed on a running nginx",
                ) from e
            except PermissionError as e:
                raise TargetError(
                    f"no permission to signal the nginx master (pid {master})",
                    hint="run launchdeck as the user nginx runs as, or as root",
                ) from e
        code, err = await self._nginx("-s", "reload")
        if code != 0:
            raise TargetError(f"`{self.nginx_bin} -s reload` failed:\n{_indent(err)}",
                              hint="is nginx running with this configuration and pid file?")


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in (text or "(no output)").splitlines())
