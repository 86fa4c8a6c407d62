"""What a release is waiting for from people, until when, and the command that answers it.

One pure answer used by the live view, `launchdeck status` and the messages that ask people:
a stage sign-off (once the stage is otherwise ready to pass), a decision window opened by an
``urgent`` or ``conditional`` gate, or a hold for lack of data. Deadlines are plan time; a person
reads wall-clock time, so ``to_wall`` divides by the run's time scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from launchdeck.core.durations import human
from launchdeck.core.policy import Policy
from launchdeck.core.state import ReleaseState

Kind = Literal["sign-off", "decision", "hold"]

#: Above this many roles, a command says ``--role ROLE`` rather than listing every choice.
_MAX_ROLE_CHOICES = 3


@dataclass(frozen=True)
class Waiting:
    """The release cannot move on until one of ``roles`` answers (every one of them, for a sign-off)."""

    kind: Kind
    roles: tuple[str, ...]
    stage: int
    """1-based stage the release is in."""
    deadline: float | None
    """Plan time at which the release stops waiting, and ``then`` happens."""
    then: str
    """What happens at the deadline, in words: ``rollback``, ``the run ends held`` …"""
    gate: str | None = None

    def command(self, release: str) -> str:
        """The exact command that answers; ``a|b`` means one of them, NAME is the person."""
        role = "|".join(self.roles) if 0 < len(self.roles) <= _MAX_ROLE_CHOICES else "ROLE"
        if self.kind == "sign-off":
            role = self.roles[0] if len(self.roles) == 1 else role
            return f"launchdeck approve {release} --stage {self.stage} --role {role} --as NAME"
        return f"launchdeck approve {release} --decision continue|rollback --role {role} --as NAME"

    def subject(self) -> str:
        """``sign-off from product-owner (stage 2)``, ``a decision on gate p95 from sre or lead`` …"""
        who = " and ".join(self.roles) if self.kind == "sign-off" else " or ".join(self.roles) or "a person"
        if self.kind == "sign-off":
            return f"sign-off from {who} (stage {self.stage})"
        if self.kind == "decision":
            return f"a decision on gate {self.gate} from {who}"
        return f"a decision on the held release (too little data) from {_any_role(self.roles)}"

    def to_json(self, release: str) -> dict[str, Any]:
        return {"kind": self.kind, "roles": list(self.roles), "stage": self.stage, "gate": self.gate,
                "deadlinePlanAt": self.deadline, "then": self.then, "command": self.command(release)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Waiting:
        return cls(data["kind"], tuple(data["roles"]), int(data["stage"]), data.get("deadlinePlanAt"),
                   data["then"], data.get("gate"))


def waiting_for(policy: Policy, state: ReleaseState, now: float,
                signoffs: frozenset[tuple[int, str]] = frozenset()) -> Waiting | None:
    """What ``state`` waits for from people at plan time ``now``, or None when it waits for nobody.

    ``signoffs`` are the valid sign-offs so far as (0-based stage, role), as the engine gets them.
    """
    timeout = policy.analysis.hold_timeout
    if state.phase == "deciding" and state.window is not None:
        w = state.window
        then = {"rollback": "rollback", "hold": "the run ends held", "continue": "the release continues"}
        return Waiting("decision", tuple(w.authority), state.stage + 1, w.closes_at,
                       then.get(w.default, w.default), w.gate)
    if state.phase == "held":
        deadline = state.held_since + timeout if state.held_since is not None else None
        return Waiting("hold", tuple(policy.roles), state.stage + 1, deadline, "the run ends held")
    if state.phase == "stage" and state.approval_requested and state.stage < len(policy.stages):
        stage = policy.stages[state.stage]
        missing = tuple(r for r in stage.approve if (state.stage, r) not in signoffs)
        if missing:
            deadline = state.stage_started_at + stage.hold + timeout
            return Waiting("sign-off", missing, state.stage + 1, deadline, "the run ends held")
    return None


def hold_left(policy: Policy, state: ReleaseState, now: float) -> float:
    """Plan seconds until the current stage's hold is over (0 once it is)."""
    if state.stage >= len(policy.stages):
        return 0.0
    return max(0.0, policy.stages[state.stage].hold - (now - state.stage_started_at))


def to_wall(plan_at: float, *, now: float, time_scale: float, wall_now: float) -> float:
    """The wall-clock time (Unix seconds) at which plan time ``plan_at`` comes, ``now`` being plan time
    at ``wall_now``."""
    return wall_now + (plan_at - now) / (time_scale or 1.0)


def clock_time(wall_at: float, wall_now: float) -> str:
    """``14:32 UTC``; the date is added when it is not today (UTC)."""
    at, today = datetime.fromtimestamp(wall_at, UTC), datetime.fromtimestamp(wall_now, UTC)
    return at.strftime("%H:%M UTC") if at.date() == today.date() else at.strftime("%Y-%m-%d %H:%M UTC")


def clock(wall_at: float, wall_now: float, locale: str = "en") -> str:
    """``14:32 UTC (in 12 min)``: a wall-clock time and how far off it is."""
    shown = clock_time(wall_at, wall_now)
    left = wall_at - wall_now
    if left <= 0:
        return f"{shown} ({'passé' if locale == 'fr' else 'passed'})"
    return f"{shown} ({'dans' if locale == 'fr' else 'in'} {human(left, locale)})"


def describe(w: Waiting, release: str, *, deadline_wall: float | None, wall_now: float) -> str:
    """One line for a person: what, until when (wall clock) and what then, and the command to run."""
    parts = [f"waiting for {w.subject()}"]
    if deadline_wall is not None:
        parts.append(f"deadline {clock(deadline_wall, wall_now)}, then {w.then}")
    parts.append(f"run: {w.command(release)}")
    return " — ".join(parts)


def _any_role(roles: tuple[str, ...]) -> str:
    return " or ".join(roles) if 0 < len(roles) <= _MAX_ROLE_CHOICES else "any of the plan's roles"
