"""A real HAProxy in front of a stable and a canary sample app, on loopback.

``async with HAProxyStack() as stack`` writes ``haproxy.cfg`` into a private temporary directory
(free loopback ports only), starts ``haproxy -f haproxy.cfg -db`` (foreground, no master
process) in front of two ``launchdeck.local.sample_app`` processes, waits until the admin socket
answers and a request through the frontend is served, and on exit stops everything. The backend
``api`` has the servers ``stable`` (weight 256) and ``canary`` (weight 0), and ``baseline`` (weight
0) when the versions include a same-age baseline; ``stack.router`` is the
:class:`~launchdeck.adapters.routers.haproxy.HAProxyRouter` on the stack's admin socket.
When the installed HAProxy has the Prometheus exporter built in, ``stack.metrics_url`` serves
HAProxy's own metrics on a separate port.
"""

from __future__ import annotations

import functools
import signal
import subprocess

from launchdeck.adapters.routers.haproxy import MAX_WEIGHT, HAProxyRouter
from launchdeck.errors import TargetError
from launchdeck.local.fleet import free_port
from launchdeck.stacks._process import HOST, ProgramStack, Versions, http_ok, wait_until

BACKEND = "api"
SERVERS = {"stable": "stable", "canary": "canary", "baseline": "baseline"}


@functools.lru_cache(maxsize=8)
def has_prometheus_exporter(binary: str) -> bool:
    """Whether ``binary -vv`` lists the prometheus-exporter service."""
    try:
        out = subprocess.run([binary, "-vv"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return b"prometheus-exporter" in out.stdout + out.stderr


class HAProxyStack(ProgramStack):
    """HAProxy (backend ``api``: servers ``stable`` and ``canary``) in front of two sample apps."""

    program_name = "haproxy"

    def __init__(
        self,
        versions: Versions | None = None,
        *,
        time_scale: float = 1.0,
        seed: int | None = None,
        binary: str | None = None,
        prometheus: bool | None = None,
        startup_timeout_s: float = 15.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(versions, time_scale=time_scale, seed=seed, binary=binary,
                         startup_timeout_s=startup_timeout_s, stop_timeout_s=stop_timeout_s)
        self.prometheus = prometheus
        self.socket = ""
        self.config_path = ""
        self.metrics_url: str | None = None
        self._router: HAProxyRouter | None = None

    @property
    def router(self) -> HAProxyRouter:
        if self._router is None:
            raise TargetError("the haproxy stack is not started")
        return self._router

    def _configure(self) -> None:
        assert self.workdir is not None and self.fleet is not None
        ports = self.fleet.ports
        exporter = has_prometheus_exporter(self.binary)
        if self.prometheus and not exporter:
            raise TargetError(f"{self.binary} has no Prometheus exporter built in",
                              hint="use a HAProxy 2.x package built with the prometheus-exporter")
        with_metrics = exporter if self.prometheus is None else self.prometheus
        self.socket = str(self.workdir / "admin.sock")
        frontend = free_port()
        lines = [
            "global",
            f"    stats socket {self.socket} mode 600 level admin",
            "    stats timeout 30s",
            "",
            "defaults",
            "    mode http",
            "    timeout connect 2s",
            "    timeout client 30s",
            "    timeout server 30s",
            "",
            "frontend launchdeck",
            f"    bind {HOST}:{frontend}",
            f"    default_backend {BACKEND}",
            "",
        ]
        if with_metrics:
            metrics = free_port()
            lines += [
                "frontend prometheus",
                f"    bind {HOST}:{metrics}",
                "    http-request use-service prometheus-exporter if { path /metrics }",
                "    no log",
                "",
            ]
            self.metrics_url = f"http://{HOST}:{metrics}/metrics"
        lines += [
            f"backend {BACKEND}",
            "    balance roundrobin",
            f"    server {SERVERS['stable']} {HOST}:{ports['stable']} weight {MAX_WEIGHT}",
            f"    server {SERVERS['canary']} {HOST}:{ports['canary']} weight 0",
        ]
        if "baseline" in ports:
            lines.append(f"    server {SERVERS['baseline']} {HOST}:{ports['baseline']} weight 0")
        lines.append("")
        path = self.workdir / "haproxy.cfg"
        path.write_text("\n".join(lines))
        self.config_path = str(path)
        self._url = f"http://{HOST}:{frontend}"
        self._router = HAProxyRouter(self.socket, BACKEND, {r: n for r, n in SERVERS.items() if r in ports})

    def _argv(self) -> list[str]:
        return [self.binary, "-f", self.config_path, "-db"]

    def _stop_signal(self) -> signal.Signals:
        return signal.SIGTERM  # haproxy: stop at once (SIGUSR1 would wait for connections)

    async def _wait_ready(self) -> None:
        assert self.process is not None
        router = self.router

        async def admin() -> bool:
            return "Name: HAProxy" in await router.command("show info")

        async def frontend() -> bool:
            return await http_ok(self.url + "/healthz")

        await wait_until("its admin socket answered", admin, program=self.process,
                         timeout_s=self.startup_timeout_s)
        await wait_until("its frontend served a request", frontend, program=self.process,
                         timeout_s=self.startup_timeout_s)

    async def stop(self) -> None:
        await super().stop()
        self._router = None
        self.metrics_url = None
