"""`why` through the API: a `launchdeck server --no-worker` on the filled store, one viewer token of the
releases' tenant, and ``GET /api/v1/releases/{name}/why?all=true`` for random releases over one keep-alive
connection (``httpx``), each timed from the request to the last byte of the answer."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
WARM_UP = 20


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}


def token(url: str, tenant: str) -> str:
    made = subprocess.run([sys.executable, "-m", "launchdeck", "tokens", "create", "--tenant", tenant, "--person",
                           "bench", "--role", "viewer", "--db", url], env=_env(), capture_output=True, text=True,
                          check=True)
    return made.stdout.strip().splitlines()[0]


def time_why(url: str, releases: int, samples: int, *, tenant: str, seed: int = 1) -> tuple[list[float], float]:
    """Seconds per ``why`` answer for ``samples`` random releases (after ``WARM_UP`` untimed ones), and the
    server's CPU seconds per answer (what other load on the machine does not inflate)."""
    import scale_fleet as fleet

    bearer = token(url, tenant)
    said = tempfile.NamedTemporaryFile(prefix="ld-server-", suffix=".log")  # its access log goes here, not to a pipe
    server = subprocess.Popen([sys.executable, "-m", "launchdeck", "server", "--no-worker", "--port", "0", "--db", url],
                              env=_env(), stdout=subprocess.DEVNULL, stderr=said)
    try:
        base = _listening(server, Path(said.name))
        rng = random.Random(seed)
        out: list[float] = []
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {bearer}"}, timeout=30.0) as client:
            for k in range(samples + WARM_UP):
                if k == WARM_UP:
                    cpu0 = fleet.cpu_seconds([server.pid])
                name = f"why-{rng.randint(1, releases):05d}"
                t = time.perf_counter()
                answer = client.get(f"/api/v1/releases/{name}/why", params={"all": "true"})
                elapsed = time.perf_counter() - t
                answer.raise_for_status()
                assert len(answer.json()) == 100, f"{name}: {len(answer.json())} decisions"
                if k >= WARM_UP:
                    out.append(elapsed)
        return out, (fleet.cpu_seconds([server.pid]) - cpu0) / samples
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        said.close()


def _listening(server: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://\S+?:\d+)", log.read_text(errors="replace"))
        if found:
            return found.group(1)
        if server.poll() is not None:
            raise RuntimeError(f"launchdeck server exited {server.returncode}: {log.read_text(errors='replace')[-500:]}")
        time.sleep(0.1)
    raise RuntimeError("launchdeck server did not say where it listens within 60 s")
