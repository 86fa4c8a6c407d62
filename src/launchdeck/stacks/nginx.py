"""A real nginx in front of a stable and a canary sample app, on loopback.

``async with NginxStack() as stack`` writes ``nginx.conf`` and the upstream include into a private
temporary directory (free loopback ports only; pid file, logs and temp paths inside it), starts
``nginx -p <dir> -c <dir>/nginx.conf -e <dir>/error.log -g 'daemon off;'`` (master in the
foreground, ``worker_processes`` workers) in front of two ``launchdeck.local.sample_app``
processes, waits until nginx serves the include's read-back endpoint and a request through the
frontend, and on exit stops everything. ``stack.router`` is the
:class:`~launchdeck.adapters.routers.nginx.NginxRouter` that owns the include (upstream ``api``;
canary ``down`` at the start), reloading through the master's pid file.
"""

from __future__ import annotations

import signal
from pathlib import Path

from launchdeck.adapters.routers.nginx import NginxRouter
from launchdeck.errors import TargetError
from launchdeck.local.fleet import free_port
from launchdeck.stacks._process import HOST, ProgramStack, Versions, http_ok, wait_until

UPSTREAM = "api"


class NginxStack(ProgramStack):
    """nginx (upstream ``api``, proxied at ``/``) in front of two sample apps."""

    program_name = "nginx"

    def __init__(
        self,
        versions: Versions | None = None,
        *,
        time_scale: float = 1.0,
        seed: int | None = None,
        binary: str | None = None,
        worker_processes: int = 1,
        startup_timeout_s: float = 15.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(versions, time_scale=time_scale, seed=seed, binary=binary,
                         startup_timeout_s=startup_timeout_s, stop_timeout_s=stop_timeout_s)
        if worker_processes < 1:
            raise TargetError(f"worker_processes must be >= 1, got {worker_processes}")
        self.worker_processes = worker_processes
        self.config_path = ""
        self.include_path = ""
        self.pid_file = ""
        self.error_log = ""
        self._router: NginxRouter | None = None

    @property
    def router(self) -> NginxRouter:
        if self._router is None:
            raise TargetError("the nginx stack is not started")
        return self._router

    def _configure(self) -> None:
        assert self.workdir is not None and self.fleet is not None
        work = self.workdir
        (work / "logs").mkdir()
        ports = self.fleet.ports
        frontend = free_port()
        self.config_path = str(work / "nginx.conf")
        self.include_path = str(work / f"{UPSTREAM}.upstream.conf")
        self.pid_file = str(work / "nginx.pid")
        self.error_log = str(work / "error.log")
        temp = "\n".join(f"    {kind}_temp_path {work / ('tmp_' + kind)};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (work / "nginx.conf").write_text(
            f"worker_processes {self.worker_processes};\n"
            f"pid {self.pid_file};\n"
            f"error_log {self.error_log} notice;\n"
            "events { worker_connections 512; }\n"
            "http {\n"
            "    access_log off;\n"
            f"{temp}\n"
            f"    include {self.include_path};\n"
            "    server {\n"
            f"        listen {HOST}:{frontend};\n"
            "        location / {\n"
            f"            proxy_pass http://{UPSTREAM};\n"
            "            proxy_http_version 1.1;\n"
            '            proxy_set_header Connection "";\n'
            "        }\n"
            "    }\n"
            "}\n"
        )
        self._url = f"http://{HOST}:{frontend}"
        self._router = NginxRouter(
            self.include_path,
            UPSTREAM,
            {role: f"{HOST}:{ports[role]}" for role in ("stable", "canary", "baseline") if role in ports},
            nginx_bin=self.binary,
            conf=self.config_path,
            prefix=str(work),
            pid_file=self.pid_file,
            extra_args=("-e", self.error_log),
        )
        self._router.write_initial(0.0)

    async def start_program(self) -> None:
        """(Re)start nginx; a unix socket left by a killed nginx would block its bind()."""
        if self._router is not None and (self.process is None or not self.process.running()):
            listen = self._router.status_listen
            if listen.startswith("unix:"):
                Path(listen[len("unix:"):]).unlink(missing_ok=True)
        await super().start_program()

    def _argv(self) -> list[str]:
        return [self.binary, "-p", str(self.workdir), "-c", self.config_path,
                "-e", self.error_log, "-g", "daemon off;"]

    def _stop_signal(self) -> signal.Signals:
        return signal.SIGTERM  # nginx master: fast shutdown (SIGQUIT would be graceful)

    async def _wait_ready(self) -> None:
        assert self.process is not None
        router = self.router

        async def status() -> bool:
            await router.served()
            return True

        async def frontend() -> bool:
            return await http_ok(self.url + "/healthz")

        await wait_until("its read-back endpoint answered", status, program=self.process,
                         timeout_s=self.startup_timeout_s)
        await wait_until("its frontend served a request", frontend, program=self.process,
                         timeout_s=self.startup_timeout_s)

    async def stop(self) -> None:
        await super().stop()
        self._router = None
