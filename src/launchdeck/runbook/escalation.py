"""The escalation matrix: a fired gate opens an incident at a level; who is told, how, and when.

Pure: the incident is a value, ``advance`` takes plan time and returns the incident as it now is plus
the notifications and raises that fell due. Rollback completion resolves the incident.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Step:
    notify: str
    via: tuple[str, ...]
    within: float


@dataclass(frozen=True)
class Raise:
    source: str
    target: str
    unresolved_for: float


@dataclass(frozen=True)
class Matrix:
    open: dict[str, str]
    """Gate severity → level (P1…P4)."""
    levels: dict[str, tuple[Step, ...]]
    raises: tuple[Raise, ...] = ()


@dataclass(frozen=True)
class Incident:
    level: str
    gate: str
    reason: str
    opened_at: float
    level_since: float
    sent: tuple[str, ...] = ()
    """Keys "P2#1" of the matrix steps already notified."""
    resolved_at: float | None = None
    history: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Notice:
    level: str
    step: Step
    reason: str


def open_incident(matrix: Matrix, *, severity: str, gate: str, reason: str, now: float) -> Incident | None:
    level = matrix.open.get(severity)
    if level is None:
        return None
    return Incident(level, gate, reason, now, now, history=(f"opened at {level} by gate {gate}",))


def advance(matrix: Matrix, incident: Incident, now: float) -> tuple[Incident, list[Notice]]:
    """Raise the level if it has been unresolved too long, then every notification now due."""
    notices: list[Notice] = []
    if incident.resolved_at is not None:
        return incident, notices
    for r in matrix.raises:
        if r.source == incident.level and now - incident.level_since >= r.unresolved_for:
            why = f"unresolved for {now - incident.level_since:g}s at {r.source}: raised to {r.target}"
            incident = replace(incident, level=r.target, level_since=now, history=incident.history + (why,))
            break
    for i, step in enumerate(matrix.levels.get(incident.level, ())):
        key = f"{incident.level}#{i}"
        if key not in incident.sent and now - incident.level_since >= step.within:
            incident = replace(incident, sent=incident.sent + (key,))
            why = (f"{incident.level} incident on gate {incident.gate}: {step.notify} notified via "
                   f"{', '.join(step.via)}" + (f" ({incident.history[-1]})" if len(incident.history) > 1 else ""))
            notices.append(Notice(incident.level, step, why))
    return incident, notices


def next_due(matrix: Matrix, incident: Incident) -> float | None:
    """The plan time at which ``advance`` next raises the incident or notifies someone (None: never again,
    unless it is resolved and a new one opens)."""
    if incident.resolved_at is not None:
        return None
    due = [r.unresolved_for for r in matrix.raises if r.source == incident.level]
    due += [step.within for i, step in enumerate(matrix.levels.get(incident.level, ()))
            if f"{incident.level}#{i}" not in incident.sent]
    return incident.level_since + min(due) if due else None


def resolve(incident: Incident, now: float, why: str) -> Incident:
    return replace(incident, resolved_at=now, history=incident.history + (f"resolved: {why}",))
