"""Preflight before a release starts: freeze windows and checks (`run` exit code, `http` status)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from launchdeck.plan import model
from launchdeck.runbook import freeze as freezes


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


def frozen(spec: model.PreflightSpec, now: datetime) -> str | None:
    """Why the release may not start now, naming the window and when it ends; None when free."""
    for f in spec.freeze:
        window = freezes.Freeze(f.from_, f.to, f.tz, f.weekday, f.date)
        ends = freezes.active(window, now)
        if ends is not None:
            return f"inside freeze window {window.describe()}; it ends at {ends.isoformat(timespec='minutes')}"
    return None


def run_checks(spec: model.PreflightSpec, workdir: Path) -> list[CheckResult]:
    results = []
    for check in spec.checks:
        if check.run is not None:
            try:
                done = subprocess.run(check.run, shell=True, cwd=workdir, capture_output=True, text=True,
                                      timeout=check.timeout)
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
                results.append(CheckResult(check.name, done.returncode == 0,
                                           f"`{check.run}` exited {done.returncode}" + (f": {tail[0]}" if tail[0] else "")))
            except subprocess.TimeoutExpired:
                results.append(CheckResult(check.name, False, f"`{check.run}` ran over {check.timeout:g}s"))
        else:
            assert check.http is not None
            try:
                status = httpx.get(check.http, timeout=check.timeout).status_code
                results.append(CheckResult(check.name, status == check.expect.status,
                                           f"GET {check.http} answered {status} (expected {check.expect.status})"))
            except httpx.HTTPError as e:
                results.append(CheckResult(check.name, False, f"GET {check.http} failed: {e.__class__.__name__}"))
    return results
