"""Shared helpers for the integration tests: run the real `launchdeck` CLI as a subprocess in a scratch cwd.

Every run happens in its own directory (keys, evidence and notification log land there) and stores
its releases at the test's own database URL, given to the CLI as ``LAUNCHDECK_DB``: on the backend
``LAUNCHDECK_TEST_BACKEND`` selects (tests/conftest.py), SQLite at ``<cwd>/launchdeck.db`` or a fresh
PostgreSQL schema (the URL's ``options=-csearch_path=...``). The tests read the store through
``launchdeck.store.repo.Store`` -- never with SQL of their own -- so the same assertions hold on both
backends (JSONB reorders keys and wraps special floats; the Store gives the values back as written).
Background runs write stdout/stderr to files (never pipes, which could fill and stall the run) and are
SIGKILLed by pid at teardown if a test left them running.

Synchronisation never sleeps blindly: ``wait_for`` polls a real condition (the release store, a
file, a process) with a bounded deadline and says what it was waiting for when it gives up.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from launchdeck.store import migrations
from launchdeck.store.repo import Store

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
#: Upper bound for one foreground command; the plans used here finish in a few seconds.
RUN_TIMEOUT_S = 120.0

T = TypeVar("T")


def cli_env(db_url: str) -> dict[str, str]:
    """The CLI's environment: its release store is ``db_url`` (whatever LAUNCHDECK_DB the caller had)."""
    env = dict(os.environ)
    env["LAUNCHDECK_DB"] = db_url
    env["PYTHONUNBUFFERED"] = "1"
    env["COLUMNS"] = "200"  # usage messages are not wrapped mid-word
    env.pop("FORCE_COLOR", None)
    env["NO_COLOR"] = "1"
    return env


@dataclass
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, Any]:
        """The JSON object `run --output json` prints as the last line of stdout."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        assert lines, f"no stdout from {self.args}; stderr:\n{self.stderr[-3000:]}"
        try:
            value = json.loads(lines[-1])
        except json.JSONDecodeError as e:
            raise AssertionError(f"last stdout line is not JSON: {lines[-1]!r}\nstderr:\n{self.stderr[-3000:]}") from e
        assert isinstance(value, dict), lines[-1]
        return value

    def explain(self) -> str:
        return (f"$ launchdeck {' '.join(self.args)}\nexit {self.returncode}\n--- stdout (tail)\n"
                f"{self.stdout[-3000:]}\n--- stderr (tail)\n{self.stderr[-4000:]}")


class Background:
    """A `launchdeck` command running in the background (subprocess.Popen)."""

    def __init__(self, args: tuple[str, ...], cwd: Path, tag: str, env: dict[str, str]) -> None:
        self.args = args
        self.out_path = cwd / f".{tag}.stdout"
        self.err_path = cwd / f".{tag}.stderr"
        self._out = self.out_path.open("wb")
        self._err = self.err_path.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "launchdeck", *args], cwd=cwd, env=env,
                                     stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def wait(self, timeout: float = RUN_TIMEOUT_S) -> Result:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"`launchdeck {' '.join(self.args)}` still running after {timeout:g}s; "
                                 f"stderr:\n{self.stderr()[-4000:]}") from None
        self._close()
        return Result(self.args, code, self.out_path.read_text(encoding="utf-8", errors="replace"), self.stderr())

    def kill(self) -> None:
        """SIGKILL this process (by its pid) and reap it: a crash, no chance to clean up."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._close()

    def _close(self) -> None:
        for f in (self._out, self._err):
            if not f.closed:
                f.close()


def wait_for(condition: Callable[[], T], *, timeout: float, what: str, every: float = 0.05,
             alive: Background | None = None) -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds.

    With ``alive``, fail at once if that background run ends before the condition holds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if alive is not None and not alive.running():
            result = alive.wait(timeout=5)
            raise AssertionError(f"the run ended before {what}\n{result.explain()}")
        if time.monotonic() >= deadline:
            extra = f"\nstderr of the run:\n{alive.stderr()[-4000:]}" if alive is not None else ""
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}{extra}")
        time.sleep(every)


def store_is_ready(db_url: str) -> bool:
    """True once the database at ``db_url`` holds launchdeck's schema at the newest revision -- so
    opening a Store there only reads. Checking never creates anything (no SQLite file, no table)."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").exists():
        return False
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return migrations.current(conn) == migrations.heads()
    finally:
        engine.dispose()


def assert_store_isolated(db_url: str) -> None:
    """On PostgreSQL, check nothing landed outside the test's schema: the URL's search_path must be what
    the CLI (and the Store) used, not the database's default ``public`` schema."""
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        return
    assert "search_path=" in str(url.query.get("options", "")), f"no schema in the test's URL: {url!r}"
    engine = create_engine(url.difference_update_query(["options"]))
    try:
        with engine.connect() as conn:
            leaked = conn.execute(text("SELECT table_name FROM information_schema.tables "
                                       "WHERE table_schema = 'public' ORDER BY table_name")).scalars().all()
    finally:
        engine.dispose()
    assert not leaked, f"tables written outside the test's schema, in public: {leaked}"


class Launchdeck:
    """The CLI, run in one scratch directory against one release store (``db_url``)."""

    def __init__(self, cwd: Path, db_url: str) -> None:
        self.cwd = cwd
        self.db_url = db_url
        self.env = cli_env(db_url)
        self.background: list[Background] = []
        self._tags = 0
        self._store: Store | None = None

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``: where this CLI stores its releases."""
        return make_url(self.db_url).get_backend_name()

    def close(self) -> None:
        """SIGKILL background runs still going and close the store this reader opened."""
        for bg in self.background:
            if bg.running():
                bg.kill()
            bg._close()
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- commands ------------------------------------------------------------------------------
    def __call__(self, *args: str | Path, timeout: float = RUN_TIMEOUT_S) -> Result:
        argv = tuple(str(a) for a in args)
        try:
            done = subprocess.run([sys.executable, "-m", "launchdeck", *argv], check=False, cwd=self.cwd, env=self.env,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"`launchdeck {' '.join(argv)}` did not finish within {timeout:g}s; "
                                 f"stderr:\n{(e.stderr or b'')[-4000:]!r}") from None
        return Result(argv, done.returncode, done.stdout, done.stderr)

    def start(self, *args: str | Path) -> Background:
        self._tags += 1
        bg = Background(tuple(str(a) for a in args), self.cwd, f"run{self._tags}", self.env)
        self.background.append(bg)
        return bg

    def write(self, name: str, text: str) -> Path:
        path = self.cwd / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    # -- the release store, read through the Store API while a run writes it ---------------------
    def store(self) -> Store | None:
        """The release store, once a run has created it (None before: reading never creates it)."""
        if self._store is None:
            if not store_is_ready(self.db_url):
                return None
            self._store = Store(self.db_url)
        return self._store

    def release(self, name: str) -> dict[str, Any] | None:
        """The release's stored row: engine state, plan clock and outcome (None before it exists)."""
        store = self.store()
        found = store.find(name=name) if store is not None else None
        if found is None:
            return None
        return {"id": found.id, "engine": found.state["engine"], "plan_clock": found.plan_clock,
                "outcome": found.outcome, "state": found.state}

    def decisions(self, name: str) -> list[dict[str, Any]]:
        """Every recorded decision of the release, in order."""
        store = self.store()
        found = store.find(name=name) if store is not None else None
        if store is None or found is None:
            return []
        return [{"seq": d.seq, "plan_at": d.plan_at, "kind": d.kind, "reason": d.reason, "gate": d.gate,
                 "inputs": d.inputs} for d in store.decisions(release_id=found.id)]

    def kinds(self, name: str) -> list[str]:
        return [d["kind"] for d in self.decisions(name)]


@contextmanager
def launchdeck_in(cwd: Path, db_url: str) -> Iterator[Launchdeck]:
    """A Launchdeck in ``cwd`` on ``db_url``, cleaned up afterwards (background runs killed, store closed)."""
    cli = Launchdeck(cwd, db_url)
    try:
        yield cli
    finally:
        cli.close()


def bundle_statement(path: Path) -> dict[str, Any]:
    """The signed statement inside an evidence bundle (a DSSE envelope around in-toto JSON)."""
    envelope = json.loads(path.read_text(encoding="utf-8"))
    return json.loads(base64.b64decode(envelope["payload"]))
