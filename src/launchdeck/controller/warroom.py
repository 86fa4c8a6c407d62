"""The war room during a run: incidents and their escalation, and status messages at the plan's cadence.

Fired gates open an incident at the matrix's level; its notifications go to the matrix's channels
(``via``) when their delay has passed, an unresolved incident is raised, and rollback completion
or the release's end resolves it. ``status.cadence`` messages go out every ``launching`` period,
or every ``incident`` period while an incident is open. Both are decisions like any other: recorded,
and delivered through the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from launchdeck.core.engine import Decision
from launchdeck.core.state import ReleaseState
from launchdeck.plan import model
from launchdeck.runbook import escalation as esc

_RESOLVING = {"rollback.completed", "release.promoted", "release.held", "release.refused", "checkpoint.passed"}


def matrix_of(spec: model.ReleaseSpec) -> esc.Matrix | None:
    e = spec.escalation
    if e is None or not e.levels:
        return None
    return esc.Matrix(
        open=dict(e.open),
        levels={lvl: tuple(esc.Step(s.notify, tuple(s.via), s.within) for s in steps) for lvl, steps in e.levels.items()},
        raises=tuple(esc.Raise(r.from_, r.to, r.unresolved_for) for r in e.raise_),
    )


class WarRoom:
    def __init__(self, spec: model.ReleaseSpec, meta: dict[str, Any]) -> None:
        self.spec = spec
        self.matrix = matrix_of(spec)
        self.meta = meta
        cadence = spec.war_room.cadence if spec.war_room else None
        self.launching = cadence.launching if cadence else None
        self.incident_every = cadence.incident if cadence else None
        self.stable = cadence.stable if cadence else None

    @property
    def incident(self) -> esc.Incident | None:
        data = self.meta.get("incident")
        if not data:
            return None
        return esc.Incident(**{**data, "sent": tuple(data["sent"]), "history": tuple(data["history"])})

    def kept(self) -> tuple[Any, Any]:
        """What the war room keeps in the release state between ticks: its incident and its cadence clock."""
        return self.meta.get("incident"), self.meta.get("cadenceAt")

    def _keep(self, incident: esc.Incident | None) -> None:
        self.meta["incident"] = asdict(incident) if incident else None

    def after(self, decisions: list[Decision], state: ReleaseState, now: float,
              status: str | Callable[[], str]) -> list[Decision]:
        """Decisions the war room adds this tick, given the engine's decisions and a one-line status (or what
        makes it: it is needed only when a status message is due, and a worker ticks thousands of releases)."""
        out: list[Decision] = []
        incident = self.incident
        for d in decisions:
            opens = d.kind in ("gate.fired", "checkpoint.failed")
            if opens and self.matrix and (incident is None or incident.resolved_at is not None):
                incident = esc.open_incident(self.matrix, severity=str(d.inputs.get("severity")),
                                             gate=d.gate or d.inputs.get("checkpoint", ""), reason=d.reason, now=now)
                if incident is not None:  # the incident notice (P0/P1 wording by level) for the routes of incident.opened
                    out.append(Decision(now, "incident.opened", f"{incident.level} incident opened by "
                                        f"{incident.gate}: {d.reason}", "incident.opened", incident.gate,
                                        {"level": incident.level, "roles": [step.notify for step in
                                                                            self.matrix.levels.get(incident.level, ())]}))
            elif d.kind in _RESOLVING and incident is not None and incident.resolved_at is None:
                incident = esc.resolve(incident, now, d.reason)
                out.append(Decision(now, "incident.resolved", f"{incident.level} incident on {incident.gate} "
                                    f"resolved: {d.reason}", "incident.resolved", incident.gate,
                                    {"level": incident.level}))
        if self.matrix and incident is not None:
            incident, notices = esc.advance(self.matrix, incident, now)
            roles = self.spec.roles
            for n in notices:
                people = ", ".join(roles.get(n.step.notify, [])) or "nobody in the role"
                out.append(Decision(now, "escalation", f"{n.reason}: {n.step.notify} ({people})", "escalation",
                                    incident.gate, {"channels": list(n.step.via), "roles": [n.step.notify],
                                                    "level": n.level, "who": people, "role": n.step.notify}))
        self._keep(incident)
        out += self._cadence(state, now, status, open_incident=incident is not None and incident.resolved_at is None)
        return out

    def next_at(self, state: ReleaseState, now: float) -> float | None:
        """The plan time after ``now`` at which ``after`` adds something with no new decision: the open
        incident's next notification or raise, the next status message (None: nothing is due)."""
        incident = self.incident
        due = [esc.next_due(self.matrix, incident) if self.matrix and incident is not None else None]
        every = self._every(state, open_incident=incident is not None and incident.resolved_at is None)
        last = self.meta.get("cadenceAt")
        if every is not None and last is not None:
            due.append(last + every)
        return min((t for t in due if t is not None and t > now), default=None)

    def _every(self, state: ReleaseState, *, open_incident: bool) -> float | None:
        """How often a status message goes out in this state (None: none does)."""
        following = state.phase == "done" and state.outcome == "promoted"  # run --follow, after promotion
        every = (self.incident_every or self.launching) if open_incident else (self.stable if following else self.launching)
        if state.phase == "starting" or (state.phase == "done" and not following):
            return None
        return every

    def _cadence(self, state: ReleaseState, now: float, status: str | Callable[[], str], *,
                 open_incident: bool) -> list[Decision]:
        every = self._every(state, open_incident=open_incident)
        if every is None:
            return []
        following = state.phase == "done" and state.outcome == "promoted"
        last = self.meta.get("cadenceAt")
        if last is not None and now - last < every:
            return []
        self.meta["cadenceAt"] = now
        if last is None:
            return []  # the release.started message is the first word; the cadence counts from it
        channels = [self.spec.war_room.channel] if self.spec.war_room and self.spec.war_room.channel else []
        kind = "incident" if open_incident else "stable" if following else "launching"
        line = status if isinstance(status, str) else status()
        return [Decision(now, "status.cadence", f"{kind} update: {line}", "status.cadence", None,
                         {"channels": [c for c in channels if c in self.spec.notifications.channels]})]
