"""Sign-offs and people's decisions, read from the store each tick and checked against the plan's roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launchdeck.core.engine import PersonDecision
from launchdeck.core.policy import Policy
from launchdeck.core.state import ReleaseState
from launchdeck.errors import PlanError, UsageError
from launchdeck.plan import limits, yamlsrc
from launchdeck.runbook import roles
from launchdeck.store.repo import Store

_ALLOWED = {"who", "role", "stage", "checklist", "decision", "reason", "service"}
_EXAMPLE = "write one `- {who: sam, role: sre, stage: 1}` per line"


@dataclass
class People:
    signoffs: frozenset[tuple[int, str]] = frozenset()
    decision: PersonDecision | None = None
    kill: PersonDecision | None = None
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
        elif row.decision in ("rollback", "continue") and people.decision is None:
            people.decision = PersonDecision(row.who, row.role, row.decision, row.reason)
            people.consumed.append(row.id)
    people.signoffs = frozenset(valid)
    return people


def load_approvals_file(path: Path, service: str | None = None) -> list[dict[str, Any]]:
    """Sign-offs recorded ahead (``--approvals``): a YAML list of {who, role, stage|checklist|decision}.

    In a train, an entry with ``service:`` applies to that service only; others apply to every service.
    """
    data = _read_approvals(path)
    if not isinstance(data, list):
        raise UsageError(f"the approvals file {path} should be a YAML list",
                         hint=_EXAMPLE)
    out = []
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict) or not {"who", "role"} <= set(item) or set(item) - _ALLOWED:
            raise UsageError(f"{path}: entry {i} should be {{who, role, stage|checklist|decision}}, got {item!r}",
                             hint="e.g. - {who: sam, role: sre, stage: 1}")
        if "service" in item and item["service"] != service:
            continue
        out.append({k: (str(v) if k not in ("stage",) else int(v)) for k, v in item.items() if k != "service"})
    return out


def _read_approvals(path: Path) -> Any:
    """The file's YAML data, read within the same limits as a plan (size, aliases, nesting)."""
    bounds = limits.limits_from_env()
    try:
        raw = limits.read_file(path, "approvals file", bounds)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"the approvals file {path} is not UTF-8 text", hint="save it as UTF-8") from None
        return yamlsrc.load(text, str(path), bounds, empty_fix=_EXAMPLE).data
    except PlanError as e:
        problem = e.problems[0]
        where = f"{problem.file}:{problem.line}" if problem.line else problem.file
        raise UsageError(f"{where}: {problem.message}",
                         hint=problem.fix or "write a list of mappings") from None
