"""Sign-offs and people's decisions: the one rule they are checked by, the approvals file read ahead
of a run, and what the store holds read each tick and checked against the plan's roles."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launchdeck.core.engine import PersonDecision
from launchdeck.core.policy import Policy
from launchdeck.core.state import ReleaseState
from launchdeck.errors import PlanError, PlanProblem, UsageError
from launchdeck.plan import LoadedPlan, limits, model, yamlsrc
from launchdeck.runbook import roles, signoffs
from launchdeck.store.repo import Store


@dataclass
class People:
    signoffs: frozenset[tuple[int, str]] = frozenset()
    decision: PersonDecision | None = None
    kill: PersonDecision | None = None
    pause: PersonDecision | None = None
    resume: PersonDecision | None = None
    refusals: list[str] = field(default_factory=list)
    consumed: list[int] = field(default_factory=list)


def gather(store: Store, release_id: int, policy: Policy, state: ReleaseState) -> People:
    people = People()
    valid: set[tuple[int, str]] = set()
    for row in store.signoffs(release_id=release_id):
        if row.consumed:
            continue
        # A go/no-go names every role its person holds, comma-separated.
        refused = next(filter(None, (roles.refusal(policy.roles, row.who, r) for r in row.role.split(","))), None)
        if refused:
            what = f"stage {row.stage}" if row.stage else row.checklist or row.decision or "a sign-off"
            people.refusals.append(f"sign-off of {what} by {row.who} refused: {refused}")
            people.consumed.append(row.id)
        elif row.stage is not None:
            valid.add((row.stage - 1, row.role))
        elif row.decision in ("kill", "no-go") and people.kill is None:
            reason = f"no-go: {row.reason}" if row.decision == "no-go" else row.reason
            people.kill = PersonDecision(row.who, row.role, "rollback", reason.rstrip(": "))
            people.consumed.append(row.id)
        elif row.decision in ("pause", "resume") and getattr(people, row.decision) is None:
            setattr(people, row.decision, PersonDecision(row.who, row.role, row.decision, row.reason))
            people.consumed.append(row.id)
        elif row.decision in ("rollback", "continue") and people.decision is None:
            people.decision = PersonDecision(row.who, row.role, row.decision, row.reason)
            people.consumed.append(row.id)
    people.signoffs = frozenset(valid)
    return people


def read(store: Store, release_id: int, policy: Policy, state: ReleaseState, signoffs: frozenset[tuple[int, str]],
         watch: Any, seen: object) -> tuple[People, object]:
    """The tick's people input and the watch's mark it was read at: the sign-offs as gathered, or, when the
    watch's mark for the release has not moved since the last read (``seen``), the same valid sign-offs
    with nothing new to act on (whatever was acted on was consumed when it was read). ``watch`` is a worker's
    ``controller.shift.SignoffWatch`` (None: read every tick)."""
    mark = watch.mark(release_id) if watch is not None else None
    if watch is not None and mark == seen:
        return People(signoffs=signoffs), seen
    return gather(store, release_id, policy, state), mark


async def read_aside(store: Store, release_id: int, policy: Policy, state: ReleaseState,
                     signoffs: frozenset[tuple[int, str]], watch: Any, seen: object) -> tuple[People, object]:
    """``read``, with the sign-offs read on a thread when a worker's watch says they changed (or is not
    sure: a release's first tick), so its other releases tick meanwhile."""
    if watch is None:
        return read(store, release_id, policy, state, signoffs, watch, seen)
    mark = watch.mark(release_id)
    if mark == seen:
        return People(signoffs=signoffs), seen
    return await asyncio.to_thread(gather, store, release_id, policy, state), mark


# -- the rule every sign-off meets, whatever its source ------------------------------------------------


def rules_of(spec: model.ReleaseSpec) -> signoffs.SignoffRules:
    """What a sign-off on a release of this plan may name."""
    return signoffs.SignoffRules(roles={r: frozenset(p) for r, p in spec.roles.items()},
                                 checklists={c.name: tuple(c.signoff) for c in spec.checklists},
                                 stages=len(spec.stages))


def stored_rules(spec: model.ReleaseSpec) -> dict[str, Any]:
    """The rules as a release records them when it is created, so `approve` checks without the plan file."""
    return {"roles": {r: sorted(p) for r, p in spec.roles.items()},
            "checklists": {c.name: list(c.signoff) for c in spec.checklists}, "stages": len(spec.stages)}


def rules_stored(state: Mapping[str, Any]) -> signoffs.SignoffRules:
    """The rules a release recorded (``stored_rules``); a release from before stages were recorded has None."""
    return signoffs.SignoffRules(roles={r: frozenset(p) for r, p in state.get("roles", {}).items()},
                                 checklists={n: tuple(r) for n, r in state.get("checklists", {}).items()},
                                 stages=state.get("stages"))


def check_signoff(rules: signoffs.SignoffRules, *, who: str, role: str, stage: int | None = None,
                  checklist: str | None = None, decision: str | None = None) -> str | None:
    """Why this sign-off is refused, or None: the one rule for `approve` and the approvals file."""
    return signoffs.refusal(rules, who=who, role=role, stage=stage, checklist=checklist, decision=decision)


# -- the approvals file (`run --approvals FILE`): sign-offs recorded ahead --------------------------------

_TEXT_FIELDS = ("who", "role", "checklist", "decision", "reason", "service")
_FIELDS = ("who", "role", "stage", "checklist", "decision", "reason", "service")
_EXAMPLE = "- {who: sam, role: sre, stage: 1}"


@dataclass(frozen=True)
class Approval:
    """One entry of an approvals file, with the line it is on."""

    line: int
    who: str
    role: str
    stage: int | None = None
    checklist: str | None = None
    decision: str | None = None
    reason: str = ""
    service: str | None = None
    """In a train, the service the entry is for; None: every service."""

    def what(self) -> str:
        if self.stage is not None:
            return f"sign-off of stage {self.stage}"
        if self.checklist is not None:
            return f"sign-off of checklist {self.checklist}"
        return f"decision '{self.decision}'" if self.decision is not None else "sign-off"

    def signoff(self) -> dict[str, Any]:
        """The keyword arguments of ``Store.add_signoff``."""
        return {"who": self.who, "role": self.role, "stage": self.stage, "checklist": self.checklist,
                "decision": self.decision, "reason": self.reason}


def load_approvals_file(path: Path, spec: model.ReleaseSpec, service: str | None = None) -> list[dict[str, Any]]:
    """The sign-offs of ``path`` for one release, each checked like `approve` checks it.

    Entries naming another ``service:`` are left out (they are for another release of a train).
    Every problem in the file is reported at once, with its line, before anything is recorded.
    """
    approvals, problems = read_approvals(path)
    problems += _problems(str(path), approvals, [(service, spec)], train=False)
    if problems:
        raise _refused(path, problems)
    return [a.signoff() for a in approvals if a.service is None or a.service == service]


def check_approvals_file(path: Path, plan: LoadedPlan) -> None:
    """Refuse an approvals file with any entry the plan would refuse (every service of a train)."""
    approvals, problems = read_approvals(path)
    problems += approvals_problems(str(path), approvals, plan)
    if problems:
        raise _refused(path, problems)


def approvals_problems(file: str, approvals: list[Approval], plan: LoadedPlan) -> list[PlanProblem]:
    """What the plan refuses among these sign-offs (every service of a train), each at its entry's line."""
    if plan.is_train:
        targets: list[tuple[str | None, model.ReleaseSpec]] = [(e.name, s) for e, s in plan.services]
    else:
        assert isinstance(plan.doc, model.ReleaseDoc)
        targets = [(plan.doc.metadata.service, plan.doc.spec)]
    return _problems(file, approvals, targets, train=plan.is_train)


def read_approvals(path: Path) -> tuple[list[Approval], list[PlanProblem]]:
    """The file's well-formed entries, and the problems of the others (a file that cannot be read, or is
    not a list, is refused at once)."""
    file = str(path)
    bounds = limits.limits_from_env()  # the same limits as a plan: size, aliases, nesting
    try:
        text = limits.read_file(path, "approvals file", bounds).decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"the approvals file {path} is not UTF-8 text", hint="save it as UTF-8") from None
    except PlanError as e:
        raise _refused(path, e.problems) from None
    try:
        src = yamlsrc.load(text, file, bounds, empty_fix=f"write one `{_EXAMPLE}` per sign-off")
    except PlanError as e:
        raise _refused(path, e.problems) from None
    if not isinstance(src.data, list):
        raise _refused(path, [PlanProblem(file, 1, "", "an approvals file is a YAML list",
                                          f"write one `{_EXAMPLE}` per sign-off")])
    approvals, problems = [], []
    for i, item in enumerate(src.data):
        approval, found = _entry(item, src, i)
        problems += found
        if approval is not None:
            approvals.append(approval)
    return approvals, problems


def _entry(item: Any, src: yamlsrc.Located, i: int) -> tuple[Approval | None, list[PlanProblem]]:
    line = src.line_of((i,))
    if not isinstance(item, dict):
        return None, [PlanProblem(src.file, line, "", f"entry {i + 1} is not a mapping: {item!r}",
                                  f"write `{_EXAMPLE}`")]
    problems = []
    for key in item:
        if key not in _FIELDS:
            problems.append(PlanProblem(src.file, src.line_of((i, key)), "", f"unknown field '{key}'",
                                        f"fields: {', '.join(_FIELDS)}"))
    for key in ("who", "role"):
        if not item.get(key):
            problems.append(PlanProblem(src.file, line, "", f"'{key}' is required", f"write `{_EXAMPLE}`"))
    for key in _TEXT_FIELDS:
        if key in item and not isinstance(item[key], str):
            problems.append(PlanProblem(src.file, src.line_of((i, key)), "",
                                        f"'{key}' should be text, not {item[key]!r}", f"write `{key}: name`"))
    stage = item.get("stage")
    if stage is not None and (isinstance(stage, bool) or not isinstance(stage, int) or stage < 1):
        problems.append(PlanProblem(src.file, src.line_of((i, "stage")), "", f"'stage' should be a stage number, not "
                                    f"{stage!r}", "write the number of the stage the sign-off leaves, e.g. `stage: 1`"))
    if problems:
        return None, problems
    return Approval(line, item["who"], item["role"], stage, item.get("checklist"), item.get("decision"),
                    item.get("reason", ""), item.get("service")), []


def _problems(file: str, approvals: list[Approval], targets: list[tuple[str | None, model.ReleaseSpec]], *,
              train: bool) -> list[PlanProblem]:
    """Each entry checked against the release (or every service of a train) it applies to.

    A refusal that holds for every service of a train is said once; otherwise it names the services."""
    names = [name for name, _ in targets]
    problems = []
    for a in approvals:
        if train and a.service is not None and a.service not in names:
            problems.append(PlanProblem(file, a.line, "", f"the train has no service '{a.service}'",
                                        f"services: {', '.join(str(n) for n in names)}"))
            continue
        applies = [(n, s) for n, s in targets if a.service is None or a.service == n]
        refused: dict[str, list[str]] = {}
        for name, spec in applies:
            why = check_signoff(rules_of(spec), who=a.who, role=a.role, stage=a.stage, checklist=a.checklist,
                                decision=a.decision)
            if why:
                refused.setdefault(why, []).append(str(name))
        for why, services in refused.items():
            where = f" (service {', '.join(services)})" if train and len(services) < len(applies) else ""
            problems.append(PlanProblem(file, a.line, "", f"{a.what()} by {a.who} ({a.role}): {why}{where}"))
    return problems


def _refused(path: Path, problems: list[PlanProblem]) -> UsageError:
    noun = "problem" if len(problems) == 1 else "problems"
    body = "\n".join(str(p) for p in sorted(problems, key=lambda p: p.line))
    return UsageError(f"{len(problems)} {noun} in the approvals file {path}; nothing was recorded:\n{body}",
                      hint="correct the entries, or leave them out and sign with `launchdeck approve` "
                           "while the run waits")
