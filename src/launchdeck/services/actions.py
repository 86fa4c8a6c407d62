"""People's actions on a release: sign off (a stage, a checklist, a decision), go / no-go, kill, pause, resume.

Each is checked against the plan's roles as the release recorded them (the person must hold the role
they act in) and against the release's state, then recorded as a sign-off row; the process driving
the release acts on it at its next tick. The CLI (``launchdeck approve``, ``kill``…) and the API
(``POST /api/v1/releases/{name}/signoffs``…) call these same functions, so one rule holds for both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from launchdeck.errors import Conflict, Refused, UsageError

if TYPE_CHECKING:
    from launchdeck.store.repo import Store, StoredRelease

_ACT_HINT = "act with a role the plan gives you"


@dataclass(frozen=True)
class Recorded:
    """What was recorded: who did what on which release, and the sentence a person reads about it."""

    release: str
    action: str
    """``signoff``, ``go``, ``no-go``, ``kill``, ``pause``, ``resume`` or ``continue`` (a held release resumed)."""
    who: str
    role: str
    reason: str = ""
    stage: int | None = None
    checklist: str | None = None
    decision: str | None = None
    driven: bool = False
    """A run is driving the release now and applies this at its next tick."""
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items()}


class Action(Protocol):
    """An action by a person in a plan role: ``request_kill``, ``pause`` and ``resume``."""

    def __call__(self, store: Store, release: StoredRelease, *, who: str, role: str, reason: str = "",
                 source: str = "cli") -> Recorded: ...


def approve(store: Store, release: StoredRelease, *, who: str, role: str, stage: int | None = None,
            checklist: str | None = None, decision: str | None = None, reason: str = "",
            source: str = "cli") -> Recorded:
    """Sign off leaving a stage, sign a checklist, or decide (rollback / continue) an open window or hold."""
    from launchdeck.controller import people
    from launchdeck.runbook import signoffs

    _not_a_train(release, "approve")
    if release.outcome and release.outcome != "held":  # a held release goes on when it is driven again
        raise Conflict(f"release {release.name} already ended ({release.outcome}); nothing waits for a decision")
    if decision in ("rollback", "continue"):
        _require_open_decision(release, decision)
    # The same rule as the approvals file's: the person, role, stage and checklist must be the plan's.
    rules = people.rules_stored(release.state)
    refused = people.check_signoff(rules, who=who, role=role, stage=stage, checklist=checklist, decision=decision)
    if refused:
        about_person = signoffs.person_refusal(rules, who=who, role=role, checklist=checklist) == refused
        raise (Refused if about_person else UsageError)(f"sign-off refused: {refused}", hint="sign as the plan lists the person, role, stage and checklist")
    store.add_signoff(release_id=release.id, who=who, role=role, stage=stage, checklist=checklist,
                      decision=decision, reason=reason, source=source)
    what = f"stage {stage}" if stage else f"checklist {checklist}" if checklist else f"decision '{decision}'"
    return Recorded(release.name, "signoff", who, role, reason, stage, checklist, decision,
                    driven=_driven(release), message=f"recorded: {who} ({role}) {what} for {release.name}")


def _require_open_decision(release: StoredRelease, decision: str) -> None:
    """A rollback / continue decides an open decision window or hold; with none open it would be recorded and
    then ignored by the run, while the person believes they rolled back. A release whose state predates the
    saved wait (no ``waiting`` key) is let through, as before."""
    if release.outcome == "held" or "waiting" not in release.state:
        return
    waiting = release.state.get("waiting") or {}
    if waiting.get("kind") in ("decision", "hold"):
        return
    now = f"it waits for a {waiting['kind']} (stage {waiting.get('stage')})" if waiting.get("kind") else \
        "nothing in it waits for a decision"
    hint = "rollback and continue answer a decision window a gate opens, or a held release" + (
        "; to roll back now, pull the kill switch" if decision == "rollback" else "")
    raise Conflict(f"no decision window or hold is open in {release.name}: {now}, so '{decision}' would "
                   "change nothing", hint=hint)


def go_decision(store: Store, release: StoredRelease, *, who: str, choice: str, reason: str = "",
                source: str = "cli") -> Recorded:
    """Record a GO or NO-GO by a person of the plan, with every role they hold in it."""
    if choice not in ("go", "no-go"):
        raise UsageError(f"'{choice}' is not a go/no-go decision", hint="decide go or no-go")
    _not_a_train(release, choice)
    held = sorted(r for r, people in release.state.get("roles", {}).items() if who in people)
    if not held:
        raise Refused(f"{who} holds no role in {release.name}'s plan", hint="the go/no-go is decided by the plan's people")
    roles = ",".join(held)
    store.add_signoff(release_id=release.id, who=who, role=roles, decision=choice, reason=reason, source=source)
    return Recorded(release.name, choice, who, roles, reason, decision=choice, driven=_driven(release),
                    message=f"recorded: {choice.upper()} by {who} ({', '.join(held)}) for {release.name}")


def request_kill(store: Store, release: StoredRelease, *, who: str, role: str, reason: str = "",
                 source: str = "cli") -> Recorded:
    """Record the kill switch. ``driven``: a run applies it at its next tick; otherwise whoever next
    drives the release rolls back at once (the CLI also acts on the plan's router itself)."""
    _not_a_train(release, "kill")
    _check_role(release, who, role, "kill")
    if release.outcome and release.outcome != "held":
        raise Conflict(f"release {release.name} already finished ({release.outcome}); there is nothing to kill",
                       hint=f"see `launchdeck status {release.name}`")
    store.add_signoff(release_id=release.id, who=who, role=role, decision="kill", reason=reason, source=source)
    driven = _driven(release)
    if driven:
        from launchdeck.controller import driver

        message = (f"kill switch requested by {who} ({role}) for {release.name}; the run driving it "
                   f"({driver.describe(release)}) applies it at its next tick")
    else:
        message = (f"kill switch recorded by {who} ({role}) for {release.name}; whatever drives it next rolls "
                   "it back at once")
    return Recorded(release.name, "kill", who, role, reason, decision="kill", driven=driven, message=message)


def pause(store: Store, release: StoredRelease, *, who: str, role: str, reason: str = "",
          source: str = "cli") -> Recorded:
    """Keep the canary at its weight, with no time limit, until someone resumes (gates are still judged)."""
    _not_a_train(release, "pause")
    _check_role(release, who, role, "pause")
    phase = release.state["engine"]["phase"]
    if release.outcome or phase not in ("stage", "deciding", "held"):
        raise Conflict(f"release {release.name} is {release.outcome or phase}; only a running release can be paused")
    store.add_signoff(release_id=release.id, who=who, role=role, decision="pause", reason=reason, source=source)
    return Recorded(release.name, "pause", who, role, reason, decision="pause", driven=_driven(release),
                    message=f"pause requested by {who} ({role}) for {release.name}; resume with "
                            f"`launchdeck resume {release.name} --role {role} --as {who}`")


def resume(store: Store, release: StoredRelease, *, who: str, role: str, reason: str = "",
           source: str = "cli") -> Recorded:
    """Resume a paused release, or continue a held one (as a ``continue`` decision); a release the workers
    gave up driving (``gave_up_at``) is handed back to them."""
    _check_role(release, who, role, "resume")
    engine = release.state["engine"]
    if release.gave_up_at is not None and not release.outcome:
        from launchdeck.store.repo import NewDecision

        store.drive_again(release_id=release.id, decision=NewDecision(
            plan_at=release.plan_clock, kind="driving.resumed", gate=None, inputs={"who": who, "role": role},
            reason=f"{who} ({role}) handed {release.name} back to the workers after {release.drive_failures} failed "
                   f"attempts" + (f": {reason}" if reason else "")))
        return Recorded(release.name, "resume", who, role, reason, decision="drive-again", driven=False,
                        message=f"recorded: {who} ({role}) hands {release.name} back to the workers after "
                                f"{release.drive_failures} failed attempts; the next free worker drives it "
                                f"(last failure: {release.drive_error})")
    _not_a_train(release, "resume")
    held = release.outcome == "held" or engine["phase"] == "held"
    if not held and not engine.get("paused_by"):
        raise Conflict(f"release {release.name} is neither paused nor held ({release.outcome or engine['phase']})",
                       hint=f"see `launchdeck status {release.name}`")
    if release.outcome and not held:
        raise Conflict(f"release {release.name} already finished ({release.outcome})")
    decision = "continue" if held else "resume"
    store.add_signoff(release_id=release.id, who=who, role=role, decision=decision, reason=reason, source=source)
    if release.outcome == "held":
        message = (f"recorded: {who} ({role}) continues {release.name}; it ended held, so run its plan again to go "
                   f"on: `launchdeck run {release.plan_path}`")
    else:
        message = f"recorded: {who} ({role}) resumes {release.name}; the run driving it goes on at its next tick"
    return Recorded(release.name, "continue" if held else "resume", who, role, reason, decision=decision,
                    driven=_driven(release), message=message)


def _not_a_train(release: StoredRelease, action: str) -> None:
    """A train's own release only runs its services: people act on each service's release."""
    if release.state.get("kind") != "train":
        return
    services = release.state.get("train", {}).get("services") or []
    raise Conflict(f"{release.name} is a release train: `{action}` acts on one of its services' releases "
                   f"({', '.join(services)})", hint=f"e.g. `launchdeck {action} {services[0] if services else 'TRAIN.SERVICE'} …`")


def _check_role(release: StoredRelease, who: str, role: str, action: str) -> None:
    from launchdeck.runbook import roles

    refused = roles.refusal({r: set(p) for r, p in release.state.get("roles", {}).items()}, who, role)
    if refused:
        raise Refused(f"{action} refused: {refused}", hint=_ACT_HINT)


def _driven(release: StoredRelease) -> bool:
    """A process holds the release's live lease (this one too: the server's embedded worker)."""
    from datetime import UTC, datetime

    from launchdeck.controller import driver

    holder, until = release.lease_holder, release.lease_until
    return holder is not None and until is not None and until > datetime.now(UTC) and not driver.dead(holder)
