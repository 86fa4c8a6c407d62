"""Preflight before a release starts: freeze windows and checks (`run` exit code, `http` status)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from launchdeck.plan import model
from launchdeck.runbook import checklists as lists
from launchdeck.runbook import freeze as freezes
from launchdeck.runbook import roles
from launchdeck.store.repo import Store


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


def checklist_status(spec: model.ReleaseSpec, store: Store, release_id: int, *, planned_start: datetime,
                     now: datetime | None = None) -> list[lists.ChecklistStatus]:
    plan_roles = {r: set(p) for r, p in spec.roles.items()}
    signatures = [(row.checklist, row.role, row.who) for row in store.signoffs(release_id=release_id)
                  if row.checklist and roles.refusal(plan_roles, row.who, row.role) is None]
    checklists = [lists.Checklist(c.name, c.due, tuple(c.items), tuple(c.signoff)) for c in spec.checklists]
    return lists.status(checklists, planned_start=planned_start, now=now or datetime.now(planned_start.tzinfo),
                        roles=plan_roles, signatures=signatures)


def unsigned_checklists(spec: model.ReleaseSpec, store: Store, release_id: int, *,
                        planned_start: datetime) -> str | None:
    return lists.blocking(checklist_status(spec, store, release_id, planned_start=planned_start))


def no_go(store: Store, release_id: int) -> str | None:
    for row in store.signoffs(release_id=release_id):
        if row.decision == "no-go":
            return f"no-go by {row.who} ({row.role})" + (f": {row.reason}" if row.reason else "")
    return None
