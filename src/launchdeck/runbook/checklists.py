"""Checklists due before the planned start: which are due, and who has not signed them yet."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Checklist:
    name: str
    due: float
    """Plan seconds relative to the planned start (negative: before it)."""
    items: tuple[str, ...]
    signoff: tuple[str, ...]


@dataclass(frozen=True)
class ChecklistStatus:
    name: str
    due_at: datetime
    is_due: bool
    signed: tuple[tuple[str, str], ...]
    """(role, person) pairs that signed."""
    missing: tuple[tuple[str, tuple[str, ...]], ...]
    """(role, people who may sign for it) still missing."""

    @property
    def complete(self) -> bool:
        return not self.missing

    def describe_missing(self) -> str:
        return "; ".join(f"{role} ({', '.join(people) or 'nobody in the role'})" for role, people in self.missing)


def status(checklists: Iterable[Checklist], *, planned_start: datetime, now: datetime,
           roles: Mapping[str, Set[str]], signatures: Iterable[tuple[str, str, str]]) -> list[ChecklistStatus]:
    """Each checklist's state; ``signatures`` are (checklist, role, person), already role-checked."""
    signed_by: dict[tuple[str, str], str] = {}
    for checklist, role, person in signatures:
        signed_by.setdefault((checklist, role), person)
    out = []
    for c in checklists:
        due_at = planned_start + timedelta(seconds=c.due)
        signed = tuple((r, signed_by[(c.name, r)]) for r in c.signoff if (c.name, r) in signed_by)
        missing = tuple((r, tuple(sorted(roles.get(r, ())))) for r in c.signoff if (c.name, r) not in signed_by)
        out.append(ChecklistStatus(c.name, due_at, now >= due_at, signed, missing))
    return out


def blocking(statuses: Iterable[ChecklistStatus]) -> str | None:
    """Why the release may not start: every due checklist that still lacks a signature."""
    problems = [f"checklist {s.name} (due {s.due_at.isoformat(timespec='minutes')}) lacks sign-off from "
                f"{s.describe_missing()}" for s in statuses if s.is_due and not s.complete]
    return "; ".join(problems) or None
