"""When a release can next change by the passing of time alone.

``decide`` changes a release's state for one of two reasons: something came in (observations,
sign-offs, a person's decision, the tenant's guard rails), or plan time reached a deadline (an
evaluation is due, a stage's hold is over, a decision window closes, nobody signed off or decided
in time). ``next_change_at`` answers the second: the earliest plan time at which a tick with no new
input could record anything. Until then such a tick would change nothing, so a worker driving
thousands of releases lets each sleep until that moment, or until new input wakes it.
"""

from __future__ import annotations

from launchdeck.core.engine import next_evaluation_at
from launchdeck.core.policy import Policy
from launchdeck.core.state import ReleaseState


def next_change_at(policy: Policy, state: ReleaseState, now: float) -> float | None:
    """The earliest plan time at which ``decide(policy, state, t, Inputs())`` may return anything other
    than ``state`` unchanged with no decision: ``now`` when that is already so (a release starting, an
    evaluation overdue); None when the clock alone changes nothing (a release done or rolling back:
    the rollback runs without ticks)."""
    if state.phase == "starting":
        return now
    if state.phase not in ("stage", "deciding", "held"):
        return None
    evaluation = next_evaluation_at(policy, state)
    if evaluation is not None and evaluation <= now:
        return now
    deadlines = [evaluation]
    if state.phase == "stage" and not state.paused_by:
        hold_ends = state.stage_started_at + policy.stages[state.stage].hold
        deadlines.append(hold_ends)  # the stage may pass (or ask for its sign-off) once it has been held
        if state.approval_requested:  # after the hold, nobody signing off within the timeout ends it held
            deadlines.append(max(hold_ends, state.resumed_at or 0.0) + policy.analysis.hold_timeout)
    elif state.phase == "deciding" and state.window is not None:
        deadlines.append(state.window.closes_at)
    elif state.phase == "held" and state.held_since is not None:
        deadlines.append(state.held_since + policy.analysis.hold_timeout)
    return min((t for t in deadlines if t is not None and t > now), default=None)
