"""What a sign-off may name: one rule for `approve`, the approvals file and anything else that records one.

A sign-off is a person acting in a role on one thing: leaving a stage, a checklist, or a decision.
It counts only when the person holds the role, and the stage, checklist or decision is one the
plan has; a checklist is signed only by the roles it lists. Whatever the source, a sign-off that
breaks the rule is refused with the reason, before it is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field

from launchdeck.runbook import roles as people_in_roles

#: Decisions a sign-off may carry: a decision window or hold (rollback, continue) and the go/no-go.
DECISIONS = ("rollback", "continue", "go", "no-go")


@dataclass(frozen=True)
class SignoffRules:
    """The part of a plan a sign-off is checked against."""

    roles: Mapping[str, Set[str]]
    checklists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Each checklist's name and the roles that sign it."""
    stages: int | None = None
    """How many stages the plan has; None when unknown (a release recorded by an older launchdeck)."""


def refusal(rules: SignoffRules, *, who: str, role: str, stage: int | None = None, checklist: str | None = None,
            decision: str | None = None) -> str | None:
    """Why this sign-off may not be recorded, naming what the plan has instead; None when it may."""
    named = sum(x is not None for x in (stage, checklist, decision))
    if named != 1:
        return "a sign-off names exactly one of a stage, a checklist or a decision"
    refused = person_refusal(rules, who=who, role=role, checklist=checklist)
    if refused:
        return refused
    if stage is not None:
        if rules.stages is not None and not 1 <= stage <= rules.stages:
            return f"the plan has no stage {stage} (stages: 1–{rules.stages})"
    elif checklist is not None:
        if checklist not in rules.checklists:
            known = ", ".join(rules.checklists) or "none"
            return f"the plan has no checklist '{checklist}' (checklists: {known})"
    elif decision not in DECISIONS:
        return f"'{decision}' is not a decision launchdeck knows (decisions: {', '.join(DECISIONS)})"
    return None


def person_refusal(rules: SignoffRules, *, who: str, role: str, checklist: str | None = None) -> str | None:
    """Why this person may not sign as ``role`` (they do not hold it, or the checklist is signed by other
    roles), or None: the refusals about who signs, not about what is signed (the API answers them 403)."""
    refused = people_in_roles.refusal(rules.roles, who, role)
    if refused:
        return refused
    if checklist is not None and checklist in rules.checklists and role not in rules.checklists[checklist]:
        needs = ", ".join(rules.checklists[checklist])
        return f"checklist {checklist} is not signed by role '{role}' (it needs: {needs})"
    return None
