"""Preflight before a release starts: where it will write, freeze windows and checks (`run` exit code,
`http` status), the supply chain (``launchdeck.supply``), checklists and no-go."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from launchdeck.errors import UsageError
from launchdeck.plan import model
from launchdeck.runbook import checklists as lists
from launchdeck.runbook import freeze as freezes
from launchdeck.runbook import roles
from launchdeck.store.tables import SignoffRow


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str
    fix: str = ""
    """How to make a failed check pass (supply-chain checks say it)."""
    data: dict[str, Any] = field(default_factory=dict)
    """What the check found, for the evidence (digests, counts, signers)."""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.name, "passed": self.passed, "detail": self.detail}
        if self.fix:
            out["fix"] = self.fix
        if self.data:
            out["data"] = self.data
        return out

    def refusal(self) -> str:
        return f"{self.name}: {self.detail}" + (f" (fix: {self.fix})" if self.fix else "")


def unwritable(spec: model.ReleaseSpec, *, workdir: Path) -> list[str]:
    """Where the run will have to write and cannot: the evidence folder, each file channel, the signing
    key's folder (or the key itself, when it exists, must be readable).

    Checked by writing, as the run will (a probe file is created and removed; missing folders are made):
    permissions alone do not tell, for root or on a read-only file system. Found before any weight
    changes, a problem is a setup to fix; found at 50% it would stop a release with nothing watching it.
    """
    problems = []
    evidence_dir = workdir / spec.evidence.dir
    if why := _folder_problem(evidence_dir):
        problems.append(f"evidence.dir {evidence_dir}: {why}")
    for name, channel in spec.notifications.channels.items():
        if channel.type == "file" and channel.path:
            path = workdir / channel.path
            if why := _file_problem(path):
                problems.append(f"file channel '{name}' {path}: {why}")
    key = workdir / spec.evidence.key
    if key.exists() or key.is_symlink():
        try:
            with key.open("rb") as f:
                f.read(1)
        except OSError as e:
            problems.append(f"evidence.key {key}: cannot read the signing key: {e.strerror or e}")
    elif why := _folder_problem(key.parent):
        problems.append(f"evidence.key {key}: cannot create the signing key there: {why}")
    return problems


def require_writable(*specs: model.ReleaseSpec, workdir: Path) -> None:
    """Refuse (bad input, exit 2) a run whose records could not be written, naming every path at once."""
    problems = list(dict.fromkeys(p for spec in specs for p in unwritable(spec, workdir=workdir)))
    if problems:
        raise UsageError("the release could not write its records; nothing was started:\n"
                         + "\n".join(f"  {p}" for p in problems),
                         hint="make each path a writable folder, or change it in the plan (relative paths "
                              "are read from the plan file's folder)")


def _folder_problem(folder: Path) -> str | None:
    """Why files cannot be created in ``folder``, or None. A missing folder is judged by its nearest
    existing parent, where the run would create it: nothing is left behind either way."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:
        if existing == folder:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".launchdeck-probe-"):
                pass
        else:
            os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".launchdeck-probe-"))
    except OSError as e:
        return f"cannot write in {existing}: {e.strerror or e}"
    return None


def _file_problem(path: Path) -> str | None:
    """Why lines cannot be appended to ``path``, or None (an existing file is opened, never changed)."""
    if not path.exists():
        return _folder_problem(path.parent)
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as e:
        return f"cannot append to it: {e.strerror or e}"
    return None


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


def supply_chain(spec: model.PreflightSpec, workdir: Path, now: datetime | None = None) -> list[CheckResult]:
    """The supply-chain checks the plan lists (``launchdeck.supply``), each as a check result."""
    if spec.supply_chain is None:
        return []
    from launchdeck import supply

    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    return [CheckResult(f"supplyChain.{r.name}", r.passed, r.detail, r.fix, r.data)
            for r in supply.check(spec.supply_chain, workdir=workdir, today=today)]


def checklist_status(spec: model.ReleaseSpec, signoffs: Sequence[SignoffRow], *, planned_start: datetime,
                     now: datetime | None = None) -> list[lists.ChecklistStatus]:
    """Each checklist's state from the release's sign-offs (``Store.signoffs``); a signature by someone not
    in the role it names does not count."""
    plan_roles = {r: set(p) for r, p in spec.roles.items()}
    signatures = [(row.checklist, row.role, row.who) for row in signoffs
                  if row.checklist and roles.refusal(plan_roles, row.who, row.role) is None]
    checklists = [lists.Checklist(c.name, c.due, tuple(c.items), tuple(c.signoff)) for c in spec.checklists]
    return lists.status(checklists, planned_start=planned_start, now=now or datetime.now(planned_start.tzinfo),
                        roles=plan_roles, signatures=signatures)


def unsigned_checklists(spec: model.ReleaseSpec, signoffs: Sequence[SignoffRow], *,
                        planned_start: datetime) -> str | None:
    return lists.blocking(checklist_status(spec, signoffs, planned_start=planned_start))


def no_go(signoffs: Sequence[SignoffRow]) -> str | None:
    for row in signoffs:
        if row.decision == "no-go":
            return f"no-go by {row.who} ({row.role})" + (f": {row.reason}" if row.reason else "")
    return None
