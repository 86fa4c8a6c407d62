"""The objects that describe a release, built once for `launchdeck status/list/why --output json` and the API.

Pure functions of what the store returned (a ``StoredRelease``, ``DecisionRow``s): nothing here opens
the store or imports SQLAlchemy, so the CLI's quick commands still start fast.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from launchdeck.store.repo import StoredRelease
    from launchdeck.store.tables import DecisionRow


def status_object(found: StoredRelease) -> dict[str, Any]:
    """What `status --output json` prints and ``GET /api/v1/releases/{name}`` answers: the release's state
    as a person or a script needs it."""
    e = found.state.get("engine", {})
    return {"release": found.name, "id": found.id, "tenant": found.tenant, "phase": e.get("phase"),
            "stage": e.get("stage", 0) + 1, "stages": found.state.get("stages"), "weight": e.get("weight", 0.0), "outcome": found.outcome,
            "reason": e.get("reason") or None, "firedGate": e.get("fired_gate"),
            "stagesPassed": e.get("stages_passed", 0), "planTime": found.plan_clock,
            "timeScale": found.state.get("timeScale"), "startedAt": found.state.get("startedAt"),
            "updatedAt": found.updated_at.isoformat() if found.updated_at else None, "archived": found.archived,
            "gates": {n: {"status": g.get("status"), "reason": g.get("reason", "")} for n, g in e.get("gates", {}).items()},
            "waiting": found.state.get("waiting") if not found.outcome else None,
            "driving": driving(found)}


def driving(found: StoredRelease) -> dict[str, Any] | None:
    """The workers' failed attempts to drive the release in a row (None when its last attempt did not fail)."""
    if not found.drive_failures and found.gave_up_at is None:
        return None
    retry = found.lease_until if found.lease_holder is None and found.gave_up_at is None else None
    return {"failures": found.drive_failures, "lastError": found.drive_error,
            "retryAt": retry.isoformat(timespec="seconds") if retry else None,
            "gaveUpAt": found.gave_up_at.isoformat(timespec="seconds") if found.gave_up_at else None}


def listing(found: StoredRelease) -> dict[str, Any]:
    """One release in `launchdeck list --output json` and ``GET /api/v1/releases``."""
    e = found.state.get("engine", {})
    return {"name": found.name, "id": found.id, "tenant": found.tenant, "phase": e.get("phase", "starting"),
            "stage": e.get("stage", 0) + 1, "stages": found.state.get("stages"), "weight": e.get("weight", 0.0), "outcome": found.outcome,
            "planTime": found.plan_clock, "updatedAt": found.updated_at.isoformat() if found.updated_at else None,
            "archived": found.archived, "driving": driving(found)}


def position(s: Mapping[str, Any]) -> str:
    """Where a release is, in words, from a status or listing object: ``stage 1/2 at 20%``, ``waiting for
    sign-off at stage 1/2, canary at 20%``, ``rolled back at stage 1/2, canary at 0%``. The one phrase
    `status` and chat print."""
    stage = f"stage {s['stage']}" + (f"/{s['stages']}" if s.get("stages") else "")
    weight = f"{float(s.get('weight') or 0.0):g}%"
    if s.get("outcome"):
        return f"{str(s['outcome']).replace('_', ' ')} at {stage}, canary at {weight}"
    waiting = (s.get("waiting") or {}).get("kind")
    match s.get("phase"):
        case "stage" if waiting == "sign-off":
            return f"waiting for sign-off at {stage}, canary at {weight}"
        case "stage":
            return f"{stage} at {weight}"
        case "deciding":
            return f"waiting for a decision at {stage}, canary at {weight}"
        case "held":
            return f"held for lack of data at {stage}, canary at {weight}"
        case "rolling_back":
            return f"rolling back from {stage}"
        case phase:
            return f"{phase or 'starting'} ({stage} next)"


def decision_object(d: DecisionRow) -> dict[str, Any]:
    """One decision as `why --output json` prints it and ``GET …/decisions`` answers it."""
    return {"seq": d.seq, "planAt": d.plan_at, "wallAt": d.wall_at.isoformat(), "kind": d.kind, "gate": d.gate,
            "reason": d.reason, "inputs": d.inputs}


#: The rule behind each kind of decision, as a person reads it (an evaluation names its own).
RULES = {
    "release.started": "a release starts at its first stage once its preflight passed",
    "stage.started": "each stage moves the canary to its weight and holds it",
    "stage.passed": "a stage passes when it has held its time with every gate within limits and its sign-offs given",
    "approval.requested": "a stage that lists `approve` roles waits for a sign-off from each",
    "gate.fired": "a gate fires when its metric breaks the threshold for its `for` time",
    "decision.requested": "an urgent or conditional gate opens a decision window for the roles with authority",
    "decision.taken": "a person holding a role with authority decides an open window or hold",
    "decision.default": "an unanswered decision window takes its default when it expires",
    "hold.started": "too many windows without enough data hold the canary for a person to decide",
    "rollback.started": "a fired gate, a kill switch or a person's rollback sends every request to stable",
    "release.paused": "a person in a plan role may pause the stage; gates are still judged",
    "release.resumed": "a person in a plan role may resume a paused stage",
    "release.promoted": "a release is promoted when its last stage passes",
    "release.rolled_back": "a release ends rolled back when its rollback steps are done",
    "release.held": "a release waiting for people past its deadline ends held",
    "release.refused": "a release is refused when its preflight, checklists or go/no-go say so",
    "driving.failed": "a worker that cannot drive a release tries again later, each wait twice the one before",
    "driving.gave_up": "after a bounded number of failed attempts in a row the workers give a release up",
    "driving.resumed": "a person in a plan role may hand a release the workers gave up back to them",
}


def provenance(d: DecisionRow, *, stage_signoffs: Mapping[int, list[tuple[str, str]]] | None = None) -> dict[str, Any]:
    """A decision with its rule, inputs, verdict and the people in it: ``GET …/why`` and GraphQL's ``why``.
    A passed stage names who signed it off (``stage_signoffs``: stage → (who, role) sign-offs)."""
    inputs = d.inputs or {}
    if inputs.get("who"):
        people = [{"who": inputs["who"], "role": inputs.get("role")}]
    else:
        roles = inputs.get("roles", [])
        signed = (stage_signoffs or {}).get(inputs.get("stage", 0), []) if d.kind == "stage.passed" else []
        people = [{"who": who, "role": role} for who, role in signed if role in roles] or \
            [{"who": None, "role": r} for r in roles]
    return {**decision_object(d), "rule": inputs.get("rule") or RULES.get(d.kind, d.kind),
            "verdict": _verdict(d.kind, inputs), "people": people}


def _verdict(kind: str, inputs: dict[str, Any]) -> str:
    """What was decided, in a word (an evaluation: each gate's verdict)."""
    if kind == "evaluation":
        return ", ".join(f"{v.get('gate')}: {v.get('status')}" for v in inputs.get("verdicts", [])
                         if isinstance(v, dict)) or "no gates"
    for key in ("choice", "outcome", "default"):
        if inputs.get(key):
            return str(inputs[key])
    return kind.rsplit(".", 1)[-1]


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity (an input may hold one) as None: JSON has neither."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value
