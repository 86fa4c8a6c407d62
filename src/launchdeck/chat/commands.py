"""Carrying out a chat command: who the chat user is (the tenant's ``kind: Tenant`` document), then the same
service call as the API's endpoint for it, with the same checks (``services.actions`` checks the plan role the
person acts in). The answer is a text for the person; a refusal says why, and nothing happened.

A person acts in a role the release's plan gives them: the role the release waits for when they hold it
(the roles asked for a sign-off or a decision), else the first they hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from launchdeck.chat import grammar
from launchdeck.core.durations import in_text
from launchdeck.errors import LaunchdeckError, PlanError, Refused
from launchdeck.services import actions, details, launching, reading
from launchdeck.services import tenants as tenant_docs
from launchdeck.store.repo import Store, StoredRelease
from launchdeck.tenants.directory import TenantDoc

SOURCE = "slack"


@dataclass(frozen=True)
class Caller:
    tenant: str
    person: str
    """The person's name, as the plans' ``roles:`` list people."""
    slack_user: str


@dataclass(frozen=True)
class Answer:
    text: str
    ok: bool = True
    """False: refused or malformed (answered only to the person who asked)."""
    public: bool = False
    """Shown to the channel (an action done), not only to the person."""


def identify(store: Store, *, team: str, channel: str, user: str) -> Caller | Answer:
    """The person behind a Slack user in a workspace and channel, or the refusal saying why not."""
    tenants = []
    for stored in tenant_docs.documents(store):
        if stored.kind != "Tenant":
            continue
        current = tenant_docs.current(store, tenant=stored.tenant, kind="Tenant")
        if current is not None and isinstance(current.document.doc, TenantDoc):
            doc = current.document.doc
            if doc.spec.slack is not None and doc.spec.slack.team == team:
                tenants.append(doc)
    if not tenants:
        return Answer(f"this Slack workspace ({team}) is not set up for launchdeck: no tenant names it", ok=False)
    usable = [d for d in tenants if not d.spec.slack or not d.spec.slack.channels or channel in d.spec.slack.channels]
    if not usable:
        return Answer(f"launchdeck commands are not taken in this channel ({channel}); use one of tenant "
                      f"{tenants[0].metadata.tenant}'s launch channels", ok=False)
    for doc in usable:
        for person in doc.spec.people:
            if person.slack == user:
                return Caller(doc.metadata.tenant, person.name, user)
    return Answer(f"you (Slack user {user}) are not one of tenant {usable[0].metadata.tenant}'s people, so "
                  "launchdeck does nothing for you; an admin adds you to the Tenant document's people:", ok=False)


def run(store: Store, caller: Caller, command: grammar.Command, *, data_dir: Path) -> Answer:
    """Carry ``command`` out for ``caller``; every refusal is an answer, never an exception."""
    try:
        return _run(store, caller, command, data_dir=data_dir)
    except PlanError as e:
        return Answer(f"refused: {e.message}" + "".join(f"\n• {p.file}:{p.line} {p.message}" for p in e.problems[:5]),
                      ok=False)
    except LaunchdeckError as e:
        return Answer(f"refused: {e.message}" + (f"\n{e.hint}" if e.hint else ""), ok=False)


def _run(store: Store, caller: Caller, command: grammar.Command, *, data_dir: Path) -> Answer:
    match command:
        case grammar.Help():
            return Answer("launchdeck commands:\n" + grammar.every_usage())
        case grammar.Malformed(problem=problem, usage=usage):
            return Answer(f"{problem}.\nUsage:\n{usage}", ok=False)
        case grammar.StartCanary():
            started = launching.start_canary(store, command, tenant=caller.tenant, person=caller.person,
                                             data_dir=data_dir)
            steps = "/".join(f"{s:g}" for s in command.steps)
            return Answer(f"{caller.person} started {started.name}: {command.version} → {command.environment} "
                          f"({command.region}, {command.residency}), steps {steps}, kill switch "
                          f"{command.kill_switch}", public=True)
        case grammar.Status(release=None):
            rows, _ = details.page(store, tenant=caller.tenant, limit=10)
            if not rows:
                return Answer(f"tenant {caller.tenant} has no releases")
            return Answer("\n".join(_line(r) for r in rows))
        case grammar.Status(release=str(name)):
            return Answer(_status(_find(store, caller, name)))
        case grammar.Why(release=name):
            found = _find(store, caller, name)
            rows = details.why(store, found)[-8:]
            lines = [f"• {r.get('kind')}: {in_text(str(r.get('reason')))}" for r in rows]
            return Answer(f"why {found.name}:\n" + ("\n".join(lines) or "no decisions yet"))
        case grammar.Approve(release=name, stage=stage):
            return _sign_off_stage(store, caller, _find(store, caller, name), stage)
        case grammar.GoNoGo(release=name, choice=choice):
            found = _find(store, caller, name)
            done = actions.go_decision(store, found, who=caller.person, choice=choice, source=SOURCE)
            return Answer(done.message, public=True)
        case grammar.Rollback(release=name):
            return decide(store, caller, name, "rollback")
        case grammar.Kill(release=name):
            found = _find(store, caller, name)
            done = _in_some_role(found, caller, lambda role: actions.request_kill(
                store, found, who=caller.person, role=role, source=SOURCE))
            return Answer(done.message, public=True)
    return Answer("launchdeck did not understand that.\nUsage:\n" + grammar.every_usage(), ok=False)


def decide(store: Store, caller: Caller, name: str, decision: str) -> Answer:
    """Decide the release's open window or hold (``rollback`` / ``continue``), as the API's sign-off does."""
    found = _find(store, caller, name)
    done = _in_some_role(found, caller, lambda role: actions.approve(
        store, found, who=caller.person, role=role, decision=decision, source=SOURCE))
    return Answer(done.message, public=True)


def sign_off_waiting(store: Store, caller: Caller, name: str) -> Answer:
    """Sign off the stage the release waits on (the Sign off button)."""
    found = _find(store, caller, name)
    waiting = found.state.get("waiting") or {}
    if waiting.get("kind") != "sign-off" or not waiting.get("stage"):
        stage = int(found.state.get("engine", {}).get("stage", 0)) + 1
    else:
        stage = int(waiting["stage"])
    return _sign_off_stage(store, caller, found, stage)


def _sign_off_stage(store: Store, caller: Caller, found: StoredRelease, stage: int) -> Answer:
    """Sign stage ``stage`` off in a role the stage asks for. A sign-off in another role would be recorded and
    count for nothing, while the channel reads "recorded", so it is refused, naming who signs the stage."""
    loaded = details.plan_of(store, found)
    stages = getattr(loaded.doc.spec, "stages", None) if loaded is not None else None
    if stages is not None and 1 <= stage <= len(stages):
        asked = list(stages[stage - 1].approve)
        people = found.state.get("roles", {})
        held = [r for r in asked if caller.person in people.get(r, [])]
        if not asked:
            return Answer(f"stage {stage} of {found.name} asks no sign-off; nothing to sign", ok=False)
        if not held:
            who = "; ".join(f"{r} ({', '.join(people.get(r, [])) or 'nobody'})" for r in asked)
            return Answer(f"refused: stage {stage} of {found.name} is signed off by {who}; {caller.person} holds "
                          "none of those roles, so a sign-off would not count", ok=False)
        done = _first_allowed(held, lambda role: actions.approve(
            store, found, who=caller.person, role=role, stage=stage, source=SOURCE))
    else:
        done = _in_some_role(found, caller, lambda role: actions.approve(
            store, found, who=caller.person, role=role, stage=stage, source=SOURCE))
    return Answer(done.message, public=True)


def _find(store: Store, caller: Caller, name: str) -> StoredRelease:
    return details.find(store, name=name, tenant=caller.tenant)


def _in_some_role(found: StoredRelease, caller: Caller, act: Callable[[str], actions.Recorded]) -> actions.Recorded:
    roles = found.state.get("roles", {})
    held = sorted(role for role, people in roles.items() if caller.person in people)
    if not held:
        raise Refused(f"{caller.person} holds no role in {found.name}'s plan, so may not act on it",
                      hint="the plan's roles: list who may sign off, decide and kill")
    asked = list((found.state.get("waiting") or {}).get("roles") or [])
    return _first_allowed([r for r in asked if r in held] + [r for r in held if r not in asked], act)


def _first_allowed(ordered: list[str], act: Callable[[str], actions.Recorded]) -> actions.Recorded:
    refusal: LaunchdeckError | None = None
    for role in ordered:
        try:
            return act(role)
        except Refused as e:  # this role may not: another they hold may
            refusal = refusal or e
    assert refusal is not None
    raise refusal


def _line(row: dict[str, object]) -> str:
    return f"• {row['name']}: {reading.position(row)}"


def _status(found: StoredRelease) -> str:
    s = reading.status_object(found)
    text = f"{found.name}: {reading.position(s)}"
    if s.get("firedGate"):
        text += f"; gate {s['firedGate']} fired"
    waiting = s.get("waiting")
    if waiting:
        text += f"\n{waiting.get('kind')} asked of {', '.join(waiting.get('roles') or []) or 'anyone in a plan role'}"
    if s.get("reason"):
        text += f"\n{s['reason']}"
    return text


__all__ = ["Answer", "Caller", "decide", "identify", "run", "sign_off_waiting"]
