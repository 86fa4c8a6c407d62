"""Running a plan's command (a command router's `set` and `read`, a rollback step's `run` and `verify`).

Without ``shell``, the command is split as a shell would split it (``shlex``) and each ``{{name}}`` is
filled in inside its own argument: a value can never become another argument or another command. With
``shell: true`` it runs under ``/bin/sh -c`` and each value is quoted. The command runs in the plan's
folder, in its own process group, so a timeout kills it and everything it started. What it printed
(stdout and stderr together, the last few thousand characters) comes back with every secret value
replaced by ``[redacted]``: it goes into the decision log and the evidence as it is.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launchdeck.comms.render import redact
from launchdeck.errors import TargetError

#: What is kept of a command's output: its end, where the error usually is.
OUTPUT_CHARS = 4000
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z]+)\s*\}\}")


@dataclass(frozen=True)
class Ran:
    """One run of a command: as written, its exit code (None: killed at its timeout), output and time."""

    command: str
    exit_code: int | None
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        """``exited 3: <last line>`` or ``ran over 30s``, for reasons and messages."""
        if self.exit_code is None:
            return f"`{self.command}` ran over its timeout ({self.seconds:.0f}s) and was killed"
        tail = (self.output.strip().splitlines() or [""])[-1][:300]
        return f"`{self.command}` exited {self.exit_code}" + (f": {tail}" if tail else "")

    def to_json(self) -> dict[str, Any]:
        return {"command": self.command, "exit": self.exit_code, "seconds": round(self.seconds, 3),
                "output": self.output}


def fill(command: str, values: Mapping[str, str], *, shell: bool) -> str | list[str]:
    """The argv (or, with ``shell``, the shell text) with each placeholder filled in."""
    def sub(text: str, quote: bool) -> str:
        def one(m: re.Match[str]) -> str:
            if m.group(1) not in values:
                raise TargetError(f"unknown placeholder {m.group(0)} in `{command}`",
                                  hint="use " + ", ".join(f"{{{{{k}}}}}" for k in values))
            value = values[m.group(1)]
            return shlex.quote(value) if quote else value
        return _PLACEHOLDER.sub(one, text)

    if shell:
        return sub(command, True)
    try:
        words = shlex.split(command)
    except ValueError as e:
        raise TargetError(f"cannot split `{command}` into arguments: {e}", hint="check its quotes") from e
    if not words:
        raise TargetError("an empty command", hint="write the command to run")
    return [sub(w, False) for w in words]


async def run(command: str, *, values: Mapping[str, str], cwd: Path, timeout: float, shell: bool = False,
              secrets: list[str] | tuple[str, ...] = (), env: Mapping[str, str] | None = None) -> Ran:
    """Run ``command`` to its end or its timeout (wall seconds); never raises for a failing command."""
    argv = fill(command, values, shell=shell)
    environment = {**os.environ, **(env or {})}
    started = time.monotonic()
    try:
        if isinstance(argv, str):
            proc = await asyncio.create_subprocess_shell(argv, cwd=cwd, env=environment, stdin=asyncio.subprocess.DEVNULL,
                                                         stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                                                         start_new_session=True)
        else:
            proc = await asyncio.create_subprocess_exec(*argv, cwd=cwd, env=environment, stdin=asyncio.subprocess.DEVNULL,
                                                        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                                                        start_new_session=True)
    except OSError as e:
        what = argv if isinstance(argv, str) else argv[0]
        return Ran(command, 127, redact(f"cannot start {what}: {e.strerror or e}", secrets), 0.0)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=timeout)
        code: int | None = proc.returncode
    except TimeoutError:
        _kill_group(proc.pid)
        out, _ = await proc.communicate()
        code = None
    except asyncio.CancelledError:  # the run stops (a rollback, a worker stopping): so does what it started
        _kill_group(proc.pid)
        raise
    text = out.decode("utf-8", errors="replace")[-OUTPUT_CHARS:]
    return Ran(command, code, redact(text, secrets), time.monotonic() - started)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def secret_values(names: list[str] | tuple[str, ...]) -> list[str]:
    """The values of the environment variables ``names`` (those set), to be redacted from output."""
    return [os.environ[n] for n in names if os.environ.get(n)]
