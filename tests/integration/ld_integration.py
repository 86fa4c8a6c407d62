"""Shared helpers for the integration tests: run the real `launchdeck` CLI as a subprocess in a scratch cwd.

Every run happens in its own directory (its sqlite store, keys, evidence and notification log land
there), with ``LAUNCHDECK_DB`` removed from the environment so nothing outside the directory is
touched. Background runs write stdout/stderr to files (never pipes, which could fill and stall the
run) and are SIGKILLed by pid at teardown if a test left them running.

Synchronisation never sleeps blindly: ``wait_for`` polls a real condition (the release store, a
file, a process) with a bounded deadline and says what it was waiting for when it gives up.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
#: Upper bound for one foreground command; the plans used here finish in a few seconds.
RUN_TIMEOUT_S = 120.0

T = TypeVar("T")


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("LAUNCHDECK_DB", None)
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

    def __init__(self, args: tuple[str, ...], cwd: Path, tag: str) -> None:
        self.args = args
        self.out_path = cwd / f".{tag}.stdout"
        self.err_path = cwd / f".{tag}.stderr"
        self._out = self.out_path.open("wb")
        self._err = self.err_path.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "launchdeck", *args], cwd=cwd, env=cli_env(),
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


class Launchdeck:
    """The CLI, run in one scratch directory."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.background: list[Background] = []
        self._tags = 0

    # -- commands ------------------------------------------------------------------------------
    def __call__(self, *args: str | Path, timeout: float = RUN_TIMEOUT_S) -> Result:
        argv = tuple(str(a) for a in args)
        try:
            done = subprocess.run([sys.executable, "-m", "launchdeck", *argv], check=False, cwd=self.cwd, env=cli_env(),
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"`launchdeck {' '.join(argv)}` did not finish within {timeout:g}s; "
                                 f"stderr:\n{(e.stderr or b'')[-4000:]!r}") from None
        return Result(argv, done.returncode, done.stdout, done.stderr)

    def start(self, *args: str | Path) -> Background:
        self._tags += 1
        bg = Background(tuple(str(a) for a in args), self.cwd, f"run{self._tags}")
        self.background.append(bg)
        return bg

    def write(self, name: str, text: str) -> Path:
        path = self.cwd / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    # -- the release store, read directly (read-only) while a run writes it --------------------
    @property
    def db_path(self) -> Path:
        return self.cwd / "launchdeck.db"

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if not self.db_path.exists():
            return []
        try:
            con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)
        except sqlite3.OperationalError:
            return []
        try:
            return con.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # tables not created yet
            return []
        finally:
            con.close()

    def release(self, name: str) -> dict[str, Any] | None:
        """The release's stored row: engine state, plan clock and outcome (None before it exists)."""
        rows = self._query("SELECT id, state, plan_clock, outcome FROM releases WHERE name = ? ORDER BY id DESC "
                           "LIMIT 1", (name,))
        if not rows:
            return None
        rid, state, clock, outcome = rows[0]
        info = json.loads(state)
        return {"id": rid, "engine": info["engine"], "plan_clock": clock, "outcome": outcome, "state": info}

    def decisions(self, name: str) -> list[dict[str, Any]]:
        """Every recorded decision of the release, in order."""
        rows = self._query("SELECT d.seq, d.plan_at, d.kind, d.reason, d.gate, d.inputs FROM decisions d "
                           "JOIN releases r ON r.id = d.release_id WHERE r.name = ? ORDER BY d.seq", (name,))
        return [{"seq": s, "plan_at": p, "kind": k, "reason": r, "gate": g, "inputs": json.loads(i)}
                for s, p, k, r, g, i in rows]

    def kinds(self, name: str) -> list[str]:
        return [d["kind"] for d in self.decisions(name)]


def bundle_statement(path: Path) -> dict[str, Any]:
    """The signed statement inside an evidence bundle (a DSSE envelope around in-toto JSON)."""
    envelope = json.loads(path.read_text(encoding="utf-8"))
    return json.loads(base64.b64decode(envelope["payload"]))
